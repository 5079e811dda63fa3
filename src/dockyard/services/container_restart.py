"""Restart policies (``--restart``), as dockerd's restart manager applies them.

After an exit is recorded (the container service's ``on_exit``): ``always`` and
``unless-stopped`` restart the container, ``on-failure[:N]`` when it exited non-zero (and fewer
than N restarts were made, N = 0 meaning no limit); a container stopped or killed through the
API is not restarted. Each restart waits: 100 ms, doubled after every restart up to a minute,
back to 100 ms once the container had run for 10 s. Meanwhile the container is ``restarting``
(ps: "Restarting (1) 2 seconds ago"); a stop, kill or removal then ends the wait instead of
signalling (the container service's ``on_restarting_signal``). ``RestartCount`` counts the
restarts since the last start through the API.

When the daemon starts (:meth:`RestartPolicies.recover`), the stopped containers whose policy
says so are started: ``always`` even if stopped by hand, ``unless-stopped`` unless stopped by
hand, ``on-failure`` after a non-zero exit (dockerd's ``ShouldRestart`` at restore).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable

from dockyard.containers.record import EXITED, RESTARTING, Container, parse_time
from dockyard.errors import DockyardError
from dockyard.services.container_waits import WaitResult
from dockyard.services.containers import ContainerService

log = logging.getLogger(__name__)

FIRST_DELAY = 0.1
MAX_DELAY = 60.0
RESET_AFTER = 10.0


def should_restart(container: Container, *, at_daemon_start: bool = False) -> bool:
    """Whether the policy restarts ``container`` after its exit."""
    host = container.host
    policy, stopped = host.restart_policy, container.manually_stopped
    if policy == "always":
        return at_daemon_start or not stopped
    if policy == "unless-stopped":
        return not stopped
    if policy == "on-failure":
        limit = host.restart_retries
        return not stopped and container.state.exit_code != 0 and \
            (limit == 0 or container.restart_count < limit)
    return False


def next_delay(previous: float, ran_for: float) -> float:
    """dockerd's backoff: 100 ms, doubled each time up to a minute, reset after 10 s of run."""
    if ran_for >= RESET_AFTER:
        previous = 0.0
    delay = FIRST_DELAY if previous == 0 else min(previous * 2, MAX_DELAY)
    return min(delay, MAX_DELAY)


class RestartPolicies:
    def __init__(self, service: ContainerService, clock: Callable[[], float] = time.time) -> None:
        self.service = service
        self.clock = clock
        self._delays: dict[str, float] = {}
        self._pending: dict[str, asyncio.Task[None]] = {}
        service.on_exit.append(self.on_exit)
        service.on_restarting_signal = self.cancel

    async def on_exit(self, container: Container) -> None:
        if container.id in self._pending or not should_restart(container):
            self._delays.pop(container.id, None)
            return
        state = container.state
        ran_for = (parse_time(state.finished_at) - parse_time(state.started_at)) / 1e9
        delay = next_delay(self._delays.get(container.id, 0.0), ran_for)
        self._delays[container.id] = delay
        if await self._mark_restarting(container.id):
            self._pending[container.id] = asyncio.ensure_future(self._later(container.id, delay))

    async def _mark_restarting(self, container_id: str) -> bool:
        service = self.service
        live = service.live(container_id)
        async with live.lock:
            current = service._containers.get(container_id)
            if current is None or current.state.status != EXITED or live.removing:
                return False
            restarting = current.with_state(status=RESTARTING)
            service._containers[container_id] = restarting
            await asyncio.to_thread(service.store.save, restarting)
        return True

    async def _later(self, container_id: str, delay: float) -> None:
        service = self.service
        try:
            await asyncio.sleep(delay)
            live = service.live(container_id)
            async with live.lock:
                container = service._containers.get(container_id)
                if container is None or container.state.status != RESTARTING or live.removing:
                    return
                log.info("restarting container %s (policy %s)", container_id[:12],
                         container.host.restart_policy)
                await service._start(container, live)
        except DockyardError as exc:  # recorded as an exit by the start itself
            log.warning("restarting container %s: %s", container_id[:12], exc)
        finally:
            self._pending.pop(container_id, None)

    async def cancel(self, container: Container) -> None:
        """A stop, kill or removal of a restarting container: no restart; it is exited."""
        task = self._pending.pop(container.id, None)
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._delays.pop(container.id, None)
        service = self.service
        live = service.live(container.id)
        async with live.lock:
            current = service._containers.get(container.id)
            if current is None or current.state.status != RESTARTING:
                return
            stopped = current.with_state(status=EXITED)
            service._containers[container.id] = stopped
            await asyncio.to_thread(service.store.save, stopped)
            live.stopped.set()
            live.resolve(WaitResult(stopped.state.exit_code))

    async def recover(self) -> None:
        """At daemon start: start the stopped containers their policy restarts."""
        for container in list(self.service.all()):
            if container.state.status != EXITED or \
                    not should_restart(container, at_daemon_start=True):
                continue
            log.info("starting container %s (restart policy %s)", container.id[:12],
                     container.host.restart_policy)
            try:
                await self.service.start(container.id)
            except DockyardError as exc:
                log.warning("starting container %s at daemon start: %s", container.id[:12],
                            exc)

    async def close(self) -> None:
        for task in list(self._pending.values()):
            task.cancel()
        for task in list(self._pending.values()):
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._pending.clear()
