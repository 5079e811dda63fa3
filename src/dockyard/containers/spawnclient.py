"""The daemon's side of the spawner (:mod:`dockyard.containers.spawner`).

The daemon starts the spawner once, right away, and talks to it over a socket pair; requests
carry a sequence number, answers come back with it in any order (starts run side by side).
If the spawner dies, the requests under way fail and the next one starts a new spawner (the
monitors do not depend on it).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import socket
import subprocess
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from dockyard import errors
from dockyard.errors import DockyardError, Internal, Unavailable

log = logging.getLogger(__name__)

START_TIMEOUT = 30.0


class SpawnerClient:
    def __init__(self, exec_root: Path, monitor: str, runtimes: Mapping[str, str] | None = None,
                 *, python: str = sys.executable, debug: bool = False) -> None:
        self.exec_root = exec_root
        self.monitor = monitor
        self.runtimes = dict(runtimes or {})
        self.python = python
        self.debug = debug
        self._process: subprocess.Popen[bytes] | None = None
        self._socket: socket.socket | None = None
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None
        self._lock = asyncio.Lock()
        self._seq = 0
        self._waiting: dict[int, asyncio.Future[dict[str, Any]]] = {}
        self._answers: asyncio.Future[None] | None = None

    def launch(self) -> None:
        """Start the spawner process (it warms up while the daemon goes on)."""
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        args = [self.python, "-m", "dockyard.containers.spawner", "--fd", str(theirs.fileno()),
                "--exec-root", str(self.exec_root), "--monitor", self.monitor]
        for name, binary in self.runtimes.items():
            args += ["--runtime", f"{name}={binary}"]
        if self.debug:
            args.append("--debug")
        try:
            self._process = subprocess.Popen(args, pass_fds=(theirs.fileno(),),
                                             stdin=subprocess.DEVNULL)
        finally:
            theirs.close()
        self._socket = ours
        self._reader = self._writer = None
        log.debug("spawner started as pid %d", self._process.pid)

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process else None

    async def request(self, message: Mapping[str, Any]) -> dict[str, Any]:
        """Send one request; its answer, or the error it carries raised as its class.
        Requests run side by side: answers are matched to them by ``seq``."""
        async with self._lock:  # one writer, and one (re)launch
            await self._connect()
            self._seq += 1
            seq = self._seq
            future: asyncio.Future[dict[str, Any]] = \
                asyncio.get_running_loop().create_future()
            self._waiting[seq] = future
            assert self._writer is not None
            try:
                self._writer.write(json.dumps({**message, "seq": seq}).encode() + b"\n")
                await self._writer.drain()
            except ConnectionError as exc:
                self._fail(Unavailable(f"the spawner failed: {exc!r}"))
        try:
            async with asyncio.timeout(START_TIMEOUT):
                reply = await future
        except TimeoutError as exc:
            self._waiting.pop(seq, None)
            raise Unavailable(f"the spawner did not answer {message.get('op')} in "
                              f"{START_TIMEOUT:.0f} s") from exc
        error = reply.get("error")
        if isinstance(error, dict):
            raise _error(str(error.get("kind", "")), str(error.get("message", "")))
        return reply

    async def _connect(self) -> None:
        if self._process is None or self._process.poll() is not None:
            if self._process is not None:
                log.warning("spawner exited with %s; starting a new one",
                            self._process.returncode)
                self._drop()
            self.launch()
        if self._writer is None:
            assert self._socket is not None
            self._reader, self._writer = await asyncio.open_unix_connection(sock=self._socket)
            self._answers = asyncio.ensure_future(self._read_answers(self._reader))

    async def _read_answers(self, reader: asyncio.StreamReader) -> None:
        try:
            while line := await reader.readline():
                value = json.loads(line)
                future = self._waiting.pop(value.pop("seq", None), None) \
                    if isinstance(value, dict) else None
                if future is not None and not future.done():
                    future.set_result(value)
        except (ConnectionError, ValueError) as exc:
            log.warning("reading the spawner's answers: %r", exc)
        if self._reader is reader:  # still the current spawner: it went away
            self._fail(Unavailable("the spawner went away"))

    def _fail(self, error: DockyardError) -> None:
        waiting, self._waiting = self._waiting, {}
        for future in waiting.values():
            if not future.done():
                future.set_exception(error)
        self._drop()

    def _drop(self) -> None:
        """Forget a failed spawner: close our end, kill it if it still runs, reap it."""
        self._close_socket()
        process, self._process = self._process, None
        if process is not None:
            if process.poll() is None:
                process.kill()
            process.wait()

    def _close_socket(self) -> None:
        if self._writer is not None:
            self._writer.close()
        elif self._socket is not None:
            self._socket.close()
        self._reader = self._writer = None
        self._socket = None

    async def close(self) -> None:
        """End the spawner: it exits at the end of its input (the monitors stay)."""
        self._close_socket()
        if self._answers is not None:
            with contextlib.suppress(Exception):
                await self._answers
            self._answers = None
        process, self._process = self._process, None
        if process is not None:
            try:
                await asyncio.to_thread(process.wait, 5.0)
            except subprocess.TimeoutExpired:
                process.kill()
                await asyncio.to_thread(process.wait)


def _error(kind: str, message: str) -> DockyardError:
    cls = getattr(errors, kind, None)
    if isinstance(cls, type) and issubclass(cls, DockyardError) and cls is not \
            errors.SystemCallError:
        return cls(message)
    return Internal(message)


def runtime_binaries(names: Sequence[str]) -> dict[str, str]:
    """The command-line runtimes found on PATH among ``names``."""
    import shutil

    found = {}
    for name in names:
        path = shutil.which(name)
        if path:
            found[name] = path
    return found
