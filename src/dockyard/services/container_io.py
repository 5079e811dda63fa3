"""A container's streams: attach (before or after start), logs, resize.

Attach copies bytes between the client's hijacked connection and a monitor connection: the
monitor already frames the output as the client wants it (8-byte headers without a tty, raw
with one), so nothing is parsed here. Stdin that arrives before the container starts (``docker
run -i`` sends it before ``/start``) is kept until the start connects the session, and a
client's half-close then becomes the process's end of input (``StdinOnce``). The output side
stays open after that half-close and ends when the monitor closes: the process has exited and
its output is drained.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import struct
from collections.abc import AsyncIterator

from dockyard.containers import logs as logfiles
from dockyard.containers.record import Container
from dockyard.errors import Conflict, DockyardError, InvalidArgument, Unsupported
from dockyard.services.container_waits import PendingAttach
from dockyard.services.containers import ContainerService, Stream

log = logging.getLogger(__name__)

FOLLOW_INTERVAL = 0.1
STREAMS = {"stdout": 1, "stderr": 2}


def frame(stream: int, data: bytes) -> bytes:
    return struct.pack(">BxxxI", stream, len(data)) + data


class ContainerIO:
    def __init__(self, service: ContainerService) -> None:
        self.service = service

    # -- attach --------------------------------------------------------------------------------

    async def attach(self, ref: str, stream: Stream, *, stdin: bool, stdout: bool,
                     stderr: bool, logs: bool = False, detach_keys: str | None = None) -> None:
        service = self.service
        container = service.get(ref)
        stdin = stdin and container.config.open_stdin
        escape = parse_detach_keys(detach_keys) if stdin and container.config.tty else b""
        flags = ("i" if stdin else "") + ("o" if stdout else "") + ("e" if stderr else "")
        if logs:
            async for chunk in self.logs(ref, stdout=stdout, stderr=stderr, follow=False):
                await stream.write(chunk)
        early: asyncio.Queue[bytes] = asyncio.Queue()
        reader_task = asyncio.ensure_future(_read_client(stream, early, keep=stdin,
                                                         escape=escape))
        try:
            connection = await self._connect(container, flags)
            if connection is None:
                return
            service._emit("attach", container)
            await _pump(connection, stream, early, stdin)
        finally:
            reader_task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await reader_task

    async def _connect(self, container: Container, flags: str) -> tuple[
            asyncio.StreamReader, asyncio.StreamWriter] | None:
        service = self.service
        if container.state.running:
            try:
                reader, writer = await service.sockets.connect(container.id, f"attach {flags}")
                if not await reader.readline():
                    return None
            except (Conflict, ConnectionError):
                return None  # it exited meanwhile: nothing more to see
            return reader, writer
        session = PendingAttach(flags)
        service.live(container.id).pending.append(session)
        try:
            return await session.connected
        except (asyncio.CancelledError, DockyardError, ConnectionError):
            if not session.connected.cancelled():
                raise
            return None  # removed, or its start failed

    # -- logs ----------------------------------------------------------------------------------

    async def logs(self, ref: str, *, stdout: bool = True, stderr: bool = True,
                   follow: bool = False, since_ns: int = 0, until_ns: int = 0, tail: int = -1,
                   timestamps: bool = False) -> AsyncIterator[bytes]:
        """``GET /containers/{id}/logs``: frames (raw with a tty); with ``follow`` until the
        container stops."""
        service = self.service
        container = service.get(ref)
        if container.host.log_type == "none":
            raise Unsupported("configured logging driver does not support reading")
        path = service.store.log_path(container.id)
        wanted = {name for name, on in (("stdout", stdout), ("stderr", stderr)) if on}
        entries, inode, offset = await asyncio.to_thread(
            logfiles.read, path, since_ns=since_ns, until_ns=until_ns, tail=tail)
        tty = container.config.tty
        for entry in entries:
            if entry.stream in wanted:
                yield _render(entry, tty, timestamps)
        if not follow or (until_ns and until_ns <= service.clock() * 10**9):
            return
        live = service.live(container.id)
        follower = logfiles.Follower(path, inode, offset)
        while True:
            done = live.stopped.is_set()
            for entry in await asyncio.to_thread(follower.poll):
                if until_ns and entry.time_ns > until_ns:
                    return
                if entry.stream in wanted and entry.time_ns >= since_ns:
                    yield _render(entry, tty, timestamps)
            if done or container.id not in service._containers:
                return
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(live.stopped.wait(), FOLLOW_INTERVAL)

    # -- resize --------------------------------------------------------------------------------

    async def resize(self, ref: str, height: int, width: int) -> None:
        container = self.service.get(ref)
        if not container.state.running:
            raise Conflict(f"Container {container.id} is not running")
        try:
            await self.service.sockets.command(container.id, f"resize {height} {width}")
        except Conflict as exc:
            raise Conflict(f"Container {container.id} is not running") from exc


def _render(entry: logfiles.Entry, tty: bool, timestamps: bool) -> bytes:
    data = entry.data
    if timestamps:
        data = entry.timestamp().encode() + b" " + data
    return data if tty else frame(STREAMS.get(entry.stream, 1), data)


DETACHED = b"\0detached"


async def _read_client(stream: Stream, queue: asyncio.Queue[bytes], *, keep: bool,
                       escape: bytes = b"") -> None:
    """Read the client's input until it half-closes; queue it when it is stdin. With an
    ``escape`` sequence (detach keys, a tty's stdin) seeing it ends the attach instead."""
    held = b""
    try:
        while data := await stream.read():
            if not keep:
                continue
            if escape:
                data, held, detached = _scan(held + data, escape)
                if data:
                    queue.put_nowait(data)
                if detached:
                    queue.put_nowait(DETACHED)
                    return
                continue
            queue.put_nowait(data)
    except ConnectionError:
        pass
    if held:
        queue.put_nowait(held)
    queue.put_nowait(b"")


def _scan(data: bytes, escape: bytes) -> tuple[bytes, bytes, bool]:
    """(what to forward, a prefix of ``escape`` held back, whether the keys were typed)."""
    index = data.find(escape)
    if index >= 0:
        return data[:index], b"", True
    for size in range(min(len(escape) - 1, len(data)), 0, -1):
        if data.endswith(escape[:size]):
            return data[:-size], data[-size:], False
    return data, b"", False


def parse_detach_keys(text: str | None) -> bytes:
    """docker's ``--detach-keys``: ``ctrl-p,ctrl-q`` (the default), letters, ``ctrl-@`` ..."""
    if text is None or text == "":
        text = "ctrl-p,ctrl-q"
    keys = bytearray()
    for item in text.split(","):
        key = item.strip()
        if len(key) == 1:
            keys.append(ord(key))
        elif key.lower().startswith("ctrl-") and len(key) == 6:
            char = key[5].lower()
            if "a" <= char <= "z":
                keys.append(ord(char) - ord("a") + 1)
            elif char in "@[\\]^_":
                keys.append({"@": 0, "[": 27, "\\": 28, "]": 29, "^": 30, "_": 31}[char])
            else:
                raise InvalidArgument(f"Unknown character: '{key}'")
        else:
            raise InvalidArgument(f"Unknown character: '{key}'")
    return bytes(keys)


async def _pump(connection: tuple[asyncio.StreamReader, asyncio.StreamWriter], stream: Stream,
                queue: asyncio.Queue[bytes], stdin: bool) -> None:
    reader, writer = connection

    async def to_monitor() -> None:
        while data := await queue.get():
            if data == DETACHED:  # the client detached: the attach ends, the process goes on
                writer.close()
                return
            writer.write(data)
            await writer.drain()
        if stdin and writer.can_write_eof():
            writer.write_eof()

    feeder = asyncio.ensure_future(to_monitor()) if stdin else None
    try:
        while data := await reader.read(1 << 16):
            await stream.write(data)
    except (ConnectionError, ValueError):  # ValueError: the feeder closed on a detach
        pass
    finally:
        if feeder is not None:
            feeder.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await feeder
        writer.close()
