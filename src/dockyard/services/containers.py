"""The container use cases behind ``/containers/...``: create, start, stop, kill, wait, remove,
and the re-adoption of running containers when the daemon starts.

Processes: the service never forks. It asks the spawner (:mod:`dockyard.containers.spawner`)
to start a container; the spawner's child becomes the container's monitor, which this service
then talks to over the monitor's socket (attach, kill, resize, and one ``wait`` connection per
running container, which is how an exit is learnt). The records live in
:class:`~dockyard.containers.store.ContainerStore`, the file-system work of a start is
:class:`~dockyard.services.container_bundle.Bundles`'.

Concurrency: everything runs on the event loop; blocking work goes to worker threads
(``asyncio.to_thread``). Per container, a lock orders start and removal; an exit is processed
by the container's watcher task (:meth:`_on_exit`), which wakes ``/wait`` callers, and
removes an AutoRemove container.

Hook points for the rest of the API: ``events`` (an :class:`EventSink`) hears create, start,
attach, kill, die, oom, stop, destroy, exec_create, exec_start, exec_die, resize; ``on_exit``
callbacks (restart policies) run after an exit is recorded and before an AutoRemove.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import shutil
import signal
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any, Protocol

from dockyard.containers.config import MountSpec, check_name, parse_size
from dockyard.containers.monitor import ExitStatus, Sockets
from dockyard.containers.names import generate
from dockyard.containers.record import (
    CREATED,
    EXITED,
    PAUSED,
    RESTARTING,
    RUNNING,
    Container,
    format_time,
    new_id,
)
from dockyard.containers.spawnclient import SpawnerClient
from dockyard.containers.store import ContainerStore
from dockyard.errors import (
    Conflict,
    DockyardError,
    InvalidArgument,
    NotFound,
    NotModified,
)
from dockyard.gc import Roots
from dockyard.oci.digest import Digest
from dockyard.services.container_bundle import Bundle, Bundles
from dockyard.services.container_create import Creator, Request
from dockyard.services.container_volumes import ContainerVolumes, inherited, parse_volumes_from
from dockyard.services.container_waits import Live, PendingAttach, WaitResult
from dockyard.services.images import ImageService, ImageUser
from dockyard.store import DataRoot
from dockyard.sys import Syscalls
from dockyard.volumes import VolumeStore

log = logging.getLogger(__name__)

DEFAULT_STOP_TIMEOUT = 10
KILL_WAIT = 30.0


class EventSink(Protocol):
    """Where the service reports what happens to containers (the events API listens)."""

    def container_event(self, action: str, container: Container,
                        attributes: Mapping[str, str]) -> None: ...


class Stream(Protocol):
    """A hijacked connection: raw bytes both ways (``api.http.Upgraded`` is one)."""

    async def read(self, limit: int = ...) -> bytes: ...

    async def write(self, data: bytes) -> None: ...

    def close_write(self) -> None: ...


OnExit = Callable[[Container], Awaitable[None]]


class ContainerService:
    def __init__(
        self, root: DataRoot, images: ImageService, exec_root: Path, spawner: SpawnerClient,
        syscalls: Syscalls, *, default_runtime: str = "dockyard",
        runtimes: Sequence[str] = ("dockyard",), events: EventSink | None = None,
        clock: Callable[[], float] = time.time, volumes: VolumeStore | None = None,
    ) -> None:
        self.images = images
        self.spawner = spawner
        self.default_runtime = default_runtime
        self.runtimes = tuple(runtimes)
        self.events = events
        self.clock = clock
        self.store = ContainerStore(root.root / "containers")
        self.bundles = Bundles(exec_root, self.store, root.snapshotter, syscalls)
        self.creator = Creator(images, self.store, self.bundles, clock)
        self.volumes = ContainerVolumes(volumes) if volumes is not None else None
        self.bundles.volumes = self.creator.volumes = self.volumes
        self.sockets = Sockets(exec_root / "containers")
        self.driver = "overlay2" if root.snapshotter_name == "overlayfs" else "vfs"
        self.on_exit: list[OnExit] = []
        self.on_restarting_signal: OnExit | None = None  # restart policies: end the wait
        self.on_paused_signal: OnExit | None = None  # pause: thaw so that a signal arrives
        self._containers: dict[str, Container] = {}
        self._names: dict[str, str] = {}
        self._live: dict[str, Live] = {}
        self._sweeping: set[asyncio.Future[None]] = set()

    # -- lookups -------------------------------------------------------------------------------

    def get(self, ref: str) -> Container:
        """By full ID, name (``x`` or ``/x``) or unique ID prefix, as dockerd looks up."""
        found = self._containers.get(ref)
        if found is not None:
            return found
        by_name = self._names.get(ref if ref.startswith("/") else "/" + ref)
        if by_name is not None:
            return self._containers[by_name]
        if ref and all(c in "0123456789abcdef" for c in ref):
            matches = [c for i, c in self._containers.items() if i.startswith(ref)]
            if len(matches) == 1:
                return matches[0]
            if len(matches) > 1:
                raise InvalidArgument(f"multiple IDs found with provided prefix: {ref}")
        raise NotFound(f"No such container: {ref}")

    def all(self) -> list[Container]:
        return list(self._containers.values())

    def live(self, container_id: str) -> Live:
        live = self._live.get(container_id)
        if live is None:
            live = self._live[container_id] = Live()
            if not self._containers[container_id].state.running:
                live.stopped.set()
        return live

    def containers_using(self, image_id: Digest) -> list[ImageUser]:
        """ImageService's ContainerUsers."""
        wanted = str(image_id)  # called from worker threads: iterate over a copy
        return [ImageUser(c.id, c.state.running) for c in list(self._containers.values())
                if c.image_id == wanted]

    def gc_roots(self) -> Roots:
        return Roots(snapshots=frozenset(c.snapshot for c in list(self._containers.values())
                                         if c.snapshot))

    def _emit(self, action: str, container: Container, **attributes: str) -> None:
        if self.events is not None:
            try:
                self.events.container_event(action, container, attributes)
            except Exception:
                log.exception("event %s of %s", action, container.id)

    # -- create --------------------------------------------------------------------------------

    async def create(self, body: Any, name: str | None = None) -> dict[str, Any]:
        """``POST /containers/create``: ``{"Id", "Warnings"}``."""
        request = Request.parse(body, default_runtime=self.default_runtime,
                                runtimes=self.runtimes)
        full = check_name(name) if name else "/" + generate(
            lambda n: "/" + n in self._names)
        taken = self._names.get(full)
        if taken is not None:
            raise Conflict(
                f'Conflict. The container name "{full}" is already in use by container '
                f'"{taken}". You have to remove (or rename) that container to be able to '
                "reuse that name.")
        inherit = self._volumes_from(request.host.volumes_from)
        container_id = new_id()
        self._names[full] = container_id  # reserved while the blocking part runs
        try:
            container = await asyncio.to_thread(self.creator.create, container_id, full, request,
                                                inherit)
        except BaseException:
            self._names.pop(full, None)
            raise
        self._containers[container_id] = container
        self._emit("create", container)
        return {"Id": container_id, "Warnings": []}

    def _volumes_from(self, specs: Sequence[str]) -> list[MountSpec]:
        """The mounts of ``--volumes-from`` containers (dockerd answers 400 for a missing
        one, so the CLI does not try to pull the image)."""
        found: list[MountSpec] = []
        for spec in specs:
            ref, readonly = parse_volumes_from(spec)
            try:
                source = self.get(ref)
            except NotFound as exc:
                raise InvalidArgument(str(exc)) from exc
            found += inherited(source, readonly)
        return found

    # -- start ---------------------------------------------------------------------------------

    async def start(self, ref: str) -> None:
        container = self.get(ref)
        live = self.live(container.id)
        async with live.lock:
            container = self.get(container.id)
            if container.state.running:
                raise NotModified(f"container {container.id} is already running")
            if live.removing:
                raise Conflict("container is marked for removal and cannot be started")
            await self._start(container, live)

    async def _start(self, container: Container, live: Live) -> None:
        try:
            bundle = await asyncio.to_thread(self.bundles.prepare, container)
        except DockyardError as exc:
            live.drop_pending()  # their attach ends, as the start failed
            await self._start_failed(container, live, exc)
            raise
        attachers, live.pending = live.pending, []
        try:
            reply = await self.spawner.request(self._start_request(container, bundle,
                                                                   hold=bool(attachers)))
        except DockyardError as exc:
            await asyncio.to_thread(self.bundles.cleanup, container)
            for session in attachers:
                session.connected.cancel()
            error = start_error(exc)
            await self._start_failed(container, live, error)
            raise error from exc
        now = format_time(int(self.clock() * 10**9))
        restarts = container.restart_count + 1 if container.state.status == RESTARTING else 0
        container = replace(container, has_started=True, manually_stopped=False,
                            restart_count=restarts,
                            state=replace(container.state, status=RUNNING, pid=int(reply["pid"]),
                                          exit_code=0, error="", oom_killed=False,
                                          started_at=now))
        self._containers[container.id] = container
        live.stopped.clear()
        live.watcher = asyncio.get_running_loop().create_task(self._watch(container.id))
        saved = asyncio.to_thread(self.store.save, container)
        if attachers:
            await asyncio.gather(saved, self._connect_attachers(container.id, attachers))
        else:
            await saved
        self._emit("start", container)

    def _start_request(self, container: Container, bundle: Bundle, *, hold: bool) -> \
            dict[str, Any]:
        directory = self.sockets.dir(container.id)
        host, config = container.host, container.config
        log_config = None
        if host.log_type == "json-file":
            log_config = {"path": str(self.store.log_path(container.id)),
                          "max_size": parse_size(host.log_options.get("max-size", "")),
                          "max_file": int(host.log_options.get("max-file") or 1)}
        return {
            "op": "start", "id": container.id, "bundle": str(directory),
            "runtime": host.runtime, "socket": str(directory / "monitor.sock"),
            "work": str(directory), "exit_file": str(directory / "exit"),
            "tty": config.tty, "stdin": config.open_stdin, "stdin_once": config.stdin_once,
            "hold": hold, "log": log_config, "netns": bundle.netns,
            "oom_file": self._oom_file(container), "seccomp_key": bundle.seccomp_key,
        }

    def _oom_file(self, container: Container) -> str:
        parent = container.host.cgroup_parent or "/dockyard"
        path = f"{parent.rstrip('/')}/{container.id}"
        v1 = Path("/sys/fs/cgroup/memory")
        if v1.is_dir():
            return str(v1 / path.lstrip("/") / "memory.oom_control")
        return str(Path("/sys/fs/cgroup") / path.lstrip("/") / "memory.events")

    async def _connect_attachers(self, container_id: str, attachers: list[PendingAttach]) -> None:
        """Connect the attachers that waited for the start, then let the monitor read the
        output (the last attach carries the monitor's "go", else a command of its own)."""
        released = False
        for number, session in enumerate(attachers, 1):
            if session.connected.done():
                continue
            last = number == len(attachers)
            try:
                reader, writer = await self.sockets.connect(
                    container_id, f"attach {session.flags}{'g' if last else ''}")
            except (DockyardError, ConnectionError) as exc:
                session.connected.set_exception(exc)
                continue
            try:
                await reader.readline()
            except ConnectionError as exc:
                writer.close()
                session.connected.set_exception(exc)
                continue
            session.connected.set_result((reader, writer))
            released = last
        if not released:
            with contextlib.suppress(DockyardError, ConnectionError):
                await self.sockets.command(container_id, "go")

    async def _start_failed(self, container: Container, live: Live, error: DockyardError) -> None:
        """dockerd records a failed start as an exit (127, 126 or 128) with the error."""
        code = start_exit_code(str(error))
        container = replace(container, state=replace(
            container.state, status=EXITED if container.has_started else CREATED,
            exit_code=code, error=str(error), pid=0))
        self._containers[container.id] = container
        await asyncio.to_thread(self.store.save, container)
        live.resolve(WaitResult(code))
        if container.host.auto_remove:
            await self._remove(container, live, volumes=True)

    # -- exits ---------------------------------------------------------------------------------

    async def _watch(self, container_id: str) -> None:
        try:
            status = await self.sockets.wait(container_id)
        except DockyardError as exc:
            log.warning("container %s: %s; recorded as exited 255", container_id[:12], exc)
            status = ExitStatus(255, False, int(self.clock() * 10**9))
        except asyncio.CancelledError:
            return
        try:
            await self._on_exit(container_id, status)
        except Exception:
            log.exception("processing the exit of %s", container_id)

    async def _on_exit(self, container_id: str, status: ExitStatus) -> None:
        container = self._containers.get(container_id)
        if container is None:
            return
        live = self.live(container_id)
        async with live.lock:  # a start waits until the old bundle is gone
            container = container.with_state(status=EXITED, pid=0, exit_code=status.code,
                                             oom_killed=status.oom_killed,
                                             finished_at=format_time(status.finished_ns))
            self._containers[container_id] = container
            if not container.host.auto_remove:  # addresses, ports, volumes: wanted at once
                await asyncio.to_thread(self.bundles.release, container)
            live.watcher = None
            live.stopped.set()
            if status.oom_killed:
                self._emit("oom", container)
            self._emit("die", container, exitCode=str(status.code))
            live.resolve(WaitResult(status.code))  # stop, kill and wait answer now
            # The runtime's state, the root's mount and the record are independent: all at
            # once, under the lock, which whatever needs them gone takes first (start, rm,
            # cp). An AutoRemove container is removed next (which releases and unmounts), so
            # its record is not written, and nothing waits for its runtime state (only a new
            # start of the same id would).
            if container.host.auto_remove:
                self._background(self._delete_runtime_state(container))
            else:
                await asyncio.gather(asyncio.to_thread(self.bundles.remove_rootfs, container.id),
                                     self._delete_runtime_state(container),
                                     asyncio.to_thread(self.store.save, container))
        for callback in self.on_exit:  # restart policies may start it again: no lock held
            await callback(container)
        if container.host.auto_remove:
            async with live.lock:
                await self._remove(container, live, volumes=True)

    async def _delete_runtime_state(self, container: Container) -> None:
        try:
            await self.spawner.request({"op": "delete", "id": container.id,
                                        "runtime": container.host.runtime, "force": True})
        except DockyardError as exc:
            log.warning("deleting the runtime state of %s: %s", container.id[:12], exc)

    # -- signals, stop, wait -------------------------------------------------------------------

    async def signal(self, container: Container, signum: int) -> None:
        if container.state.status == RESTARTING and self.on_restarting_signal is not None:
            await self.on_restarting_signal(container)  # no process: the restart is called off
            return
        try:
            answer = await self.sockets.command(container.id, f"kill {signum}")
        except Conflict:
            return  # the monitor is gone: the exit is being recorded
        if answer.startswith("error"):
            raise Conflict(f"Cannot kill container: {container.id}: {answer[6:]}")
        if container.state.status == PAUSED and self.on_paused_signal is not None:
            await self.on_paused_signal(container)

    async def kill(self, ref: str, name: str | None = None) -> None:
        container = self.get(ref)
        signum = parse_signal(name or "KILL")
        if not container.state.running:
            raise Conflict(f"Cannot kill container: {ref}: Container {container.id} is not "
                           "running")
        waiter = self.live(container.id).waiter("next-exit") if signum == signal.SIGKILL \
            else None
        container = replace(container, manually_stopped=True)  # dockerd's killWithSignal
        self._containers[container.id] = container
        await self.signal(container, signum)
        self._emit("kill", container, signal=str(signum))
        if waiter is not None:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(waiter, KILL_WAIT)

    async def stop(self, ref: str, timeout: int | None = None) -> None:
        """SIGTERM (or StopSignal), then SIGKILL after ``timeout`` seconds (-1: never)."""
        container = self.get(ref)
        if not container.state.running:
            raise NotModified(f"container {container.id} is already stopped")
        container = replace(container, manually_stopped=True)
        self._containers[container.id] = container
        if timeout is None:
            timeout = container.config.stop_timeout
        if timeout is None:
            timeout = DEFAULT_STOP_TIMEOUT
        live = self.live(container.id)
        waiter = live.waiter("next-exit")
        stop_signal = parse_signal(container.config.stop_signal or "TERM")
        await self.signal(container, stop_signal)
        self._emit("kill", container, signal=str(stop_signal))  # as dockerd's killWithSignal
        try:
            if timeout < 0:
                await asyncio.shield(waiter)
            else:
                await asyncio.wait_for(asyncio.shield(waiter), timeout)
        except TimeoutError:
            await self.signal(container, signal.SIGKILL)
            self._emit("kill", container, signal=str(int(signal.SIGKILL)))
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(waiter, KILL_WAIT)
        self._emit("stop", container)

    def wait(self, ref: str, condition: str = "not-running") -> asyncio.Future[WaitResult]:
        """A future of the exit code for ``condition`` (resolved at once when met now)."""
        container = self.get(ref)
        live = self.live(container.id)
        future = live.waiter(condition or "not-running")
        if condition in ("", "not-running") and not container.state.running:
            live.resolve(WaitResult(container.state.exit_code))
        return future

    # -- remove --------------------------------------------------------------------------------

    async def remove(self, ref: str, *, force: bool = False, volumes: bool = False) -> None:
        """``DELETE /containers/{id}``; ``volumes`` (``rm -v``) removes its anonymous
        volumes."""
        container = self.get(ref)
        live = self.live(container.id)
        if container.state.running:
            if not force:
                raise Conflict(f"You cannot remove a running container {container.id}. Stop "
                               "the container before attempting removal or force remove")
            waiter = live.waiter("next-exit")
            await self.signal(container, signal.SIGKILL)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(waiter, KILL_WAIT)
        async with live.lock:
            current = self._containers.get(container.id)
            if current is None:
                return  # removed meanwhile (AutoRemove)
            if current.state.running:
                raise Conflict(f"could not kill running container {container.id}, cannot "
                               "remove")
            await self._remove(current, live, volumes=volumes)

    async def _remove(self, container: Container, live: Live, *, volumes: bool = False) -> None:
        if live.removing or container.id not in self._containers:
            return
        live.removing = True
        try:  # unmounted and its record gone, it is removed; the rest is garbage (below)
            await asyncio.to_thread(self._forget, container, volumes)
        except BaseException:
            live.removing = False
            raise
        self._background(asyncio.to_thread(self._remove_files, container))
        self._containers.pop(container.id, None)
        if self._names.get(container.name) == container.id:
            del self._names[container.name]
        self._live.pop(container.id, None)
        live.drop_pending()
        live.stopped.set()
        live.resolve(WaitResult(container.state.exit_code), removed=True)
        self._emit("destroy", container)

    def _background(self, work: Awaitable[None]) -> None:
        """Work nobody waits for; :meth:`close` lets it finish."""
        self._sweeping = {task for task in self._sweeping if not task.done()}
        self._sweeping.add(asyncio.ensure_future(work))

    def _forget(self, container: Container, volumes: bool = False) -> None:
        self.bundles.release(container)
        self.store.forget(container.id)
        if self.volumes is not None:
            self.volumes.detach(container, remove_anonymous=volumes)

    def _remove_files(self, container: Container) -> None:
        """After the waiters are answered: the root filesystem's mount, the snapshot and the
        directories (a crash before this leaves a directory without a record and perhaps a
        mounted bundle, which the next start sweeps)."""
        self.bundles.remove_rootfs(container.id)
        self.bundles.remove_snapshot(container)
        self.store.delete(container.id)

    # -- the daemon's start and stop -----------------------------------------------------------

    async def recover(self) -> None:
        """Load the records; re-adopt running containers through their monitors, record the
        exits that happened while the daemon was down (their monitors left exit files)."""
        records = await asyncio.to_thread(self.store.load_all)
        for leftover in await asyncio.to_thread(self.bundles.sweep, {c.id for c in records}):
            log.info("unmounting the bundle of container %s (no record)", leftover[:12])
        for leftover in await asyncio.to_thread(self.store.sweep):
            log.info("removing the rest of container %s (no record)", leftover[:12])
            with contextlib.suppress(DockyardError):
                await asyncio.to_thread(self.bundles.snapshotter.remove, leftover)
        for container in records:
            self._containers[container.id] = container
            self._names[container.name] = container.id
        for container in records:
            if container.state.running:
                await self._adopt(container)
            elif container.state.status == "removing":
                await self._remove(container, self.live(container.id))
            else:  # a crash between an exit and its cleanup leaves mounts and pins
                await asyncio.to_thread(self.bundles.cleanup, container)
        await asyncio.to_thread(self._forget_execs)
        if self.volumes is not None:  # references of containers gone, mounts of exited ones
            await asyncio.to_thread(self.volumes.reconcile, list(self._containers.values()))
        log.info("recovered %d containers (%d running)", len(records),
                 sum(1 for c in self._containers.values() if c.state.running))

    def _forget_execs(self) -> None:
        """Exec records die with the daemon: remove the files of execs whose monitors are
        gone (a still running exec keeps its monitor, which removes nothing itself)."""
        root = self.bundles.root.parent / "execs"
        if not root.is_dir():
            return
        for directory in root.iterdir():
            if not (directory / "monitor.sock").exists() or (directory / "exit").exists():
                shutil.rmtree(directory, ignore_errors=True)

    async def _adopt(self, container: Container) -> None:
        live = self.live(container.id)
        try:
            answer = await self.sockets.command(container.id, "state")
        except DockyardError:
            answer = ""
        if answer.startswith("running"):
            live.stopped.clear()
            live.watcher = asyncio.get_running_loop().create_task(self._watch(container.id))
            log.info("re-adopted running container %s", container.id[:12])
            return
        status = self.sockets.exit_status(container.id)
        if status is None:
            log.warning("container %s: its monitor is gone and left no exit status",
                        container.id[:12])
            status = ExitStatus(255, False, int(self.clock() * 10**9))
        await self._on_exit(container.id, status)

    async def close(self) -> None:
        """Stop watching (containers keep running; the next daemon re-adopts them)."""
        if self._sweeping:
            await asyncio.wait(self._sweeping)
        for live in list(self._live.values()):
            if live.watcher is not None:
                live.watcher.cancel()
        self.sockets.close()


def start_error(exc: DockyardError, verb: str = "create") -> DockyardError:
    """dockerd's wording of a start (or exec) the runtime refused (the CLI picks its exit
    code from "executable file not found", "no such file or directory", "permission
    denied")."""
    message = str(exc)
    if message.startswith("OCI runtime"):
        return exc
    prefix = "exec failed: " if verb == "exec" else ""
    return InvalidArgument(f"OCI runtime {verb} failed: {prefix}unable to start container "
                           f"process: {message}: unknown")


def start_exit_code(message: str) -> int:
    if "executable file not found" in message or "no such file or directory" in message:
        return 127
    if "permission denied" in message:
        return 126
    return 128


def parse_signal(name: str) -> int:
    """``KILL``, ``SIGKILL``, ``9``: a signal number; InvalidArgument as dockerd words it."""
    text = name.strip().upper()
    if text.isdigit():
        number = int(text)
        if 0 < number < signal.NSIG:
            return number
    else:
        text = text if text.startswith("SIG") else "SIG" + text
        with contextlib.suppress(KeyError):
            return int(signal.Signals[text])
        if text.startswith("SIGRTMIN+") and text[9:].isdigit():
            return int(signal.SIGRTMIN) + int(text[9:])
    raise InvalidArgument(f"Invalid signal: {name}")
