"""``docker exec``: processes started in a running container, each with a monitor of its own.

Create stores the options (``POST /containers/{id}/exec``); start asks the spawner for the
process (its child becomes the process's parent and monitor, under
``<exec-root>/execs/<exec-id>/``), connects to the monitor, and for an attached start copies
the streams as attach does; the exit code is read from the monitor and shown by
``GET /exec/{id}/json``. Exec records live in memory, as dockerd's do, until their container
is removed.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
import shutil
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from dockyard.containers import ocispec
from dockyard.containers.config import _strings
from dockyard.containers.monitor import ExitStatus, Sockets
from dockyard.errors import Conflict, DockyardError, InvalidArgument, NotFound
from dockyard.services.container_io import _pump, _read_client, parse_detach_keys
from dockyard.services.containers import ContainerService, Stream, start_error

log = logging.getLogger(__name__)


@dataclass
class Exec:
    id: str
    container_id: str
    cmd: tuple[str, ...]
    user: str = ""
    privileged: bool = False
    tty: bool = False
    attach_stdin: bool = False
    attach_stdout: bool = False
    attach_stderr: bool = False
    env: tuple[str, ...] = ()
    working_dir: str = ""
    detach_keys: str = ""
    running: bool = False
    started: bool = False
    exit_code: int | None = None
    pid: int = 0
    done: asyncio.Event = field(default_factory=asyncio.Event)

    def to_json(self) -> dict[str, Any]:
        process: dict[str, Any] = {"tty": self.tty, "entrypoint": self.cmd[0],
                                   "arguments": list(self.cmd[1:]),
                                   "privileged": self.privileged}
        if self.user:
            process["user"] = self.user
        return {"ID": self.id, "Running": self.running, "ExitCode": self.exit_code,
                "ProcessConfig": process, "OpenStdin": self.attach_stdin,
                "OpenStderr": self.attach_stderr, "OpenStdout": self.attach_stdout,
                "CanRemove": False, "ContainerID": self.container_id,
                "DetachKeys": self.detach_keys, "Pid": self.pid}


class ExecService:
    def __init__(self, containers: ContainerService) -> None:
        self.containers = containers
        self.sockets = Sockets(containers.bundles.root.parent / "execs")
        self._execs: dict[str, Exec] = {}
        containers.on_exit.append(self._container_exited)

    def get(self, exec_id: str) -> Exec:
        found = self._execs.get(exec_id)
        if found is None:
            raise NotFound(f"No such exec instance: {exec_id}")
        return found

    def create(self, ref: str, body: Any) -> str:
        """``POST /containers/{id}/exec``: the exec's ID."""
        container = self.containers.get(ref)
        if not isinstance(body, Mapping):
            raise InvalidArgument("invalid JSON: the body must be an object")
        if not container.state.running:
            raise Conflict(f"Container {container.id} is not running")
        if container.state.status == "paused":
            raise Conflict(f"Container {container.id} is paused, unpause the container before "
                           "exec")
        cmd = _strings(body.get("Cmd"), "Cmd") or ()
        if not cmd:
            raise InvalidArgument("No exec command specified")
        record = Exec(
            id=secrets.token_hex(32), container_id=container.id, cmd=cmd,
            user=str(body.get("User") or ""), privileged=bool(body.get("Privileged")),
            tty=bool(body.get("Tty")), attach_stdin=bool(body.get("AttachStdin")),
            attach_stdout=bool(body.get("AttachStdout")),
            attach_stderr=bool(body.get("AttachStderr")),
            env=_strings(body.get("Env"), "Env") or (),
            working_dir=str(body.get("WorkingDir") or ""),
            detach_keys=str(body.get("DetachKeys") or ""))
        self._execs[record.id] = record
        self.containers._emit("exec_create", container,
                              execID=record.id, execCmd=_command(cmd))
        return record.id

    def inspect(self, exec_id: str) -> dict[str, Any]:
        return self.get(exec_id).to_json()

    async def start(self, exec_id: str, stream: Stream | None, *, detach: bool = False,
                    tty: bool | None = None) -> None:
        """Start the exec; attached (``stream``) copy its streams until it ends."""
        record = self.get(exec_id)
        if record.started:
            raise Conflict(f"Error: Exec command {exec_id} has already run")
        container = self.containers.get(record.container_id)
        if not container.state.running:
            raise Conflict(f"Container {container.id} is not running")
        if tty is not None and not detach:
            record.tty = record.tty or tty
        record.started = True
        attached = stream is not None and not detach
        directory = self.sockets.dir(exec_id)
        directory.mkdir(mode=0o700, exist_ok=True)
        process = await asyncio.to_thread(self._process, record)
        try:
            reply = await self.containers.spawner.request({
                "op": "exec", "id": container.id, "runtime": container.host.runtime,
                "process": process, "socket": str(directory / "monitor.sock"),
                "work": str(directory), "exit_file": str(directory / "exit"),
                "tty": record.tty, "stdin": record.attach_stdin and attached,
                "stdin_once": True, "hold": attached})
        except DockyardError as exc:
            record.exit_code = 126  # dockerd: an exec that cannot start exits 126
            record.done.set()
            shutil.rmtree(directory, ignore_errors=True)
            raise start_error(exc, "exec") from exc
        record.pid = int(reply["pid"])
        record.running = True
        self.containers._emit("exec_start", container, execID=record.id,
                              execCmd=_command(record.cmd))
        watcher = asyncio.ensure_future(self._watch(record))
        if attached:
            assert stream is not None
            await self._attach(record, stream)
            await watcher

    def _process(self, record: Exec) -> dict[str, Any]:
        """The OCI process of the exec: the container's, with the exec's changes."""
        service = self.containers
        container = service.get(record.container_id)
        user = service.bundles.user(container, user=record.user or container.config.user)
        hostname = service.bundles.hostname(container)
        base = ocispec.process(container, user, ocispec.capabilities(container.host), hostname)
        caps = list(ocispec.grantable_caps()) if record.privileged else \
            base["capabilities"]["bounding"]
        env = ocispec.environment(container, hostname)
        merged = {item.split("=", 1)[0]: item for item in (*env, *record.env)}
        process = dict(base)
        process.update({"terminal": record.tty, "args": list(record.cmd),
                        "env": list(merged.values()),
                        "cwd": record.working_dir or container.config.working_dir or "/",
                        "capabilities": {"bounding": caps, "effective": caps,
                                         "permitted": caps}})
        process.pop("consoleSize", None)
        return process

    async def _attach(self, record: Exec, stream: Stream) -> None:
        flags = ("i" if record.attach_stdin else "") + ("o" if record.attach_stdout else "") + \
            ("e" if record.attach_stderr else "")
        queue: asyncio.Queue[bytes] = asyncio.Queue()
        escape = parse_detach_keys(record.detach_keys) if record.tty else b""
        reader_task = asyncio.ensure_future(_read_client(stream, queue,
                                                         keep=record.attach_stdin,
                                                         escape=escape))
        try:
            try:
                reader, writer = await self.sockets.connect(record.id, f"attach {flags}")
                await reader.readline()
                await self.sockets.command(record.id, "go")
            except (DockyardError, ConnectionError):
                return
            await _pump((reader, writer), stream, queue, record.attach_stdin)
        finally:
            reader_task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await reader_task

    async def _watch(self, record: Exec) -> None:
        try:
            status = await self.sockets.wait(record.id)
        except DockyardError:
            status = ExitStatus(255, False, 0)
        record.exit_code = status.code
        record.running = False
        record.done.set()
        shutil.rmtree(self.sockets.dir(record.id), ignore_errors=True)
        container = self.containers._containers.get(record.container_id)
        if container is not None:
            self.containers._emit("exec_die", container, execID=record.id,
                                  exitCode=str(status.code))
        if container is None or not container.state.running:
            self._execs.pop(record.id, None)  # its container is gone or stopped

    async def resize(self, exec_id: str, height: int, width: int) -> None:
        record = self.get(exec_id)
        if not record.running:
            raise Conflict(f"Exec {exec_id} is not running")
        with contextlib.suppress(Conflict):
            await self.sockets.command(record.id, f"resize {height} {width}")

    async def _container_exited(self, container: Any) -> None:
        """Exec records go with their container's exit (dockerd keeps them until removal)."""
        for exec_id, record in list(self._execs.items()):
            if record.container_id == container.id and not record.running:
                del self._execs[exec_id]


def _command(cmd: tuple[str, ...]) -> str:
    """The command as dockerd's exec events show it: entrypoint, a space, the arguments."""
    return f"{cmd[0]} {' '.join(cmd[1:])}"
