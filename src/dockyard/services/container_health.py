"""Health checks (``HEALTHCHECK``, ``--health-*``), as dockerd's ``daemon/health.go`` runs them.

A running container with a check gets a monitor task: every ``Interval`` (30 s by default,
also before the first probe) it runs the ``Test`` as an exec in the container (``CMD``: the
arguments; ``CMD-SHELL``: through the config's shell or ``/bin/sh -c``; ``NONE``: no check),
with ``Timeout`` (30 s) after which the probe is killed and fails. Each result goes into
``State.Health.Log`` (the last 5; output cut at 4096 bytes, then ``...``): exit 0 makes the
container ``healthy`` and resets ``FailingStreak``; anything else adds to the streak, unless
the container has never been healthy and is still in its ``StartPeriod``, and ``Retries``
(3) failures in a row make it ``unhealthy``. A change of status is a ``health_status:
<status>`` event. At start the status is ``starting`` (a fresh log); at exit the monitor
stops and the status becomes ``unhealthy``, the log kept, as dockerd's ``SetStopped`` leaves it.

The monitor learns of starts and exits through the container service's event sink, which it
wraps (:meth:`HealthMonitors.attach`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import struct
import time
from collections.abc import Callable, Mapping
from typing import Any

from dockyard.build.gofmt import duration
from dockyard.containers.record import Container, format_time
from dockyard.errors import DockyardError
from dockyard.services.container_exec import ExecService
from dockyard.services.containers import ContainerService, EventSink

log = logging.getLogger(__name__)

DEFAULT_INTERVAL = 30 * 10**9
DEFAULT_TIMEOUT = 30 * 10**9
DEFAULT_RETRIES = 3
MAX_LOG = 5
MAX_OUTPUT = 4096
STARTING, HEALTHY, UNHEALTHY = "starting", "healthy", "unhealthy"


def probe_command(check: Mapping[str, Any], shell: tuple[str, ...] | None) -> tuple[str, ...]:
    """The argv a check runs, () when there is none (no test, or ``NONE``)."""
    test = [str(t) for t in check.get("Test") or ()]
    if not test or test[0] == "NONE":
        return ()
    if test[0] == "CMD":
        return tuple(test[1:])
    if test[0] == "CMD-SHELL":
        return (*(shell or ("/bin/sh", "-c")), " ".join(test[1:]))
    return tuple(test)  # dockerd runs an unknown first word as the command itself


def _ns(check: Mapping[str, Any], key: str, default: int) -> int:
    value = check.get(key)
    return int(value) if isinstance(value, int) and value > 0 else default


def next_health(health: Mapping[str, Any], result: Mapping[str, Any], *, retries: int,
                in_start_period: bool) -> dict[str, Any]:
    """dockerd's ``handleProbeResult``: the Health after ``result``."""
    log_entries = [*list(health.get("Log") or [])[-(MAX_LOG - 1):], dict(result)]
    status = str(health.get("Status") or STARTING)
    streak = int(health.get("FailingStreak") or 0)
    if result["ExitCode"] == 0:
        status, streak = HEALTHY, 0
    elif not (status == STARTING and in_start_period):
        streak += 1
        if streak >= retries:
            status = UNHEALTHY
    return {"Status": status, "FailingStreak": streak, "Log": log_entries}


def output_of(frames: bytes) -> str:
    """The payloads of 8-byte-framed stdout/stderr, cut as dockerd's limitedBuffer cuts."""
    data = bytearray()
    view = memoryview(frames)
    while len(view) >= 8:
        _, size = struct.unpack(">BxxxI", view[:8])
        data += view[8:8 + size]
        view = view[8 + size:]
    text = bytes(data[:MAX_OUTPUT]).decode(errors="replace")
    return text + "..." if len(data) > MAX_OUTPUT else text


class _Collector:
    """The probe's side of an attached exec: no input, output kept."""

    def __init__(self) -> None:
        self.data = bytearray()

    async def read(self, limit: int = 65536) -> bytes:
        return b""

    async def write(self, data: bytes) -> None:
        self.data += data

    def close_write(self) -> None:
        pass


class _Observer:
    """The container service's event sink, passed through, telling the monitors of starts
    and exits."""

    def __init__(self, inner: EventSink | None, monitors: HealthMonitors) -> None:
        self.inner = inner
        self.monitors = monitors

    def container_event(self, action: str, container: Container,
                        attributes: Mapping[str, str]) -> None:
        if self.inner is not None:
            self.inner.container_event(action, container, attributes)
        if action == "start":
            self.monitors.started(container)
        elif action in ("die", "destroy"):
            self.monitors.stopped(container, removed=action == "destroy")


class HealthMonitors:
    def __init__(self, containers: ContainerService, execs: ExecService,
                 clock: Callable[[], int] = time.time_ns) -> None:
        self.containers = containers
        self.execs = execs
        self.clock = clock
        self._tasks: dict[str, asyncio.Task[None]] = {}

    def attach(self) -> None:
        """Wrap the container service's event sink (after the events hub was set)."""
        self.containers.events = _Observer(self.containers.events, self)

    # -- lifecycle ---------------------------------------------------------------------------

    def started(self, container: Container) -> None:
        check = container.config.healthcheck
        if not check or not probe_command(check, container.config.shell):
            return
        self._cancel(container.id)
        current = self.containers._containers.get(container.id)
        if current is not None:
            fresh = current.with_state(health={"Status": STARTING, "FailingStreak": 0,
                                                "Log": []})
            self.containers._containers[container.id] = fresh
        self._tasks[container.id] = asyncio.ensure_future(self._monitor(container.id))

    def stopped(self, container: Container, *, removed: bool = False) -> None:
        self._cancel(container.id)
        current = self.containers._containers.get(container.id)
        if removed or current is None or current.state.health is None:
            return
        health = dict(current.state.health)
        health["Status"] = UNHEALTHY  # dockerd's SetStopped
        health["FailingStreak"] = 0
        self.containers._containers[container.id] = current.with_state(health=health)

    def _cancel(self, container_id: str) -> None:
        task = self._tasks.pop(container_id, None)
        if task is not None:
            task.cancel()

    async def recover(self) -> None:
        """At daemon start: monitor the re-adopted running containers again."""
        for container in self.containers.all():
            if container.state.running and container.config.healthcheck:
                check = container.config.healthcheck
                if probe_command(check, container.config.shell):
                    self._tasks[container.id] = asyncio.ensure_future(
                        self._monitor(container.id))

    async def close(self) -> None:
        tasks = list(self._tasks.values())
        self._tasks.clear()
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task

    # -- probes ------------------------------------------------------------------------------

    async def _monitor(self, container_id: str) -> None:
        try:
            while True:
                container = self.containers._containers.get(container_id)
                if container is None or not container.state.running:
                    return
                check = container.config.healthcheck or {}
                await asyncio.sleep(_ns(check, "Interval", DEFAULT_INTERVAL) / 1e9)
                container = self.containers._containers.get(container_id)
                if container is None or not container.state.running:
                    return
                result = await self._probe(container, check)
                await self._record(container_id, check, result)
        except asyncio.CancelledError:
            return
        except Exception:
            log.exception("health check of %s", container_id[:12])

    async def _probe(self, container: Container, check: Mapping[str, Any]) -> dict[str, Any]:
        timeout = _ns(check, "Timeout", DEFAULT_TIMEOUT)
        start = format_time(self.clock())
        command = probe_command(check, container.config.shell)
        if container.state.status == "paused":  # an exec would wait for the thaw
            return {"Start": start, "End": self._now(), "ExitCode": -1,
                    "Output": f"Container {container.id} is paused, unpause the container "
                              "before exec"}
        collector = _Collector()
        exec_id = ""
        try:
            exec_id = self.execs.create(container.id, {"Cmd": list(command),
                                                        "AttachStdout": True,
                                                        "AttachStderr": True})
            running = asyncio.ensure_future(self.execs.start(exec_id, collector))
            try:
                await asyncio.wait_for(asyncio.shield(running), timeout / 1e9)
            except TimeoutError:
                await self._kill(exec_id, running)
                return {"Start": start, "End": self._now(), "ExitCode": -1,
                        "Output": f"Health check exceeded timeout ({duration(timeout)})"}
            code = self.execs.get(exec_id).exit_code
            return {"Start": start, "End": self._now(),
                    "ExitCode": -1 if code is None else code,
                    "Output": output_of(bytes(collector.data))}
        except DockyardError as exc:
            return {"Start": start, "End": self._now(), "ExitCode": -1, "Output": str(exc)}
        finally:
            if exec_id:
                self.execs._execs.pop(exec_id, None)  # dockerd unregisters probe execs

    async def _kill(self, exec_id: str, running: asyncio.Future[None]) -> None:
        with contextlib.suppress(DockyardError, ConnectionError):
            await self.execs.sockets.command(exec_id, "kill 9")
        with contextlib.suppress(asyncio.TimeoutError, DockyardError, asyncio.CancelledError):
            await asyncio.wait_for(running, 5)

    def _now(self) -> str:
        return format_time(self.clock())

    async def _record(self, container_id: str, check: Mapping[str, Any],
                      result: Mapping[str, Any]) -> None:
        service = self.containers
        live = service.live(container_id)
        async with live.lock:  # no removal meanwhile: a record is never written back
            container = service._containers.get(container_id)
            if container is None or not container.state.running or live.removing or \
                    container.state.health is None:
                return
            retries = int(check.get("Retries") or 0) or DEFAULT_RETRIES
            started = _seconds(container.state.started_at)
            in_period = _seconds(str(result["Start"])) - started < \
                _ns(check, "StartPeriod", 0) / 1e9
            before = str(container.state.health.get("Status"))
            health = next_health(container.state.health, result, retries=retries,
                                 in_start_period=in_period)
            updated = container.with_state(health=health)
            service._containers[container_id] = updated
            with contextlib.suppress(DockyardError, OSError):
                await asyncio.to_thread(service.store.save, updated)
        if health["Status"] != before:
            service._emit(f"health_status: {health['Status']}", updated)


def _seconds(text: str) -> float:
    from dockyard.containers.record import parse_time

    return parse_time(text) / 1e9
