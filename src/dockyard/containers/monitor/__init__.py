"""The daemon's side of the per-container monitor (``monitor.c``, the protocol is drawn there).

A monitor listens on ``<exec-root>/containers/<id>/monitor.sock`` (``execs/<exec-id>/`` for an
exec) and, once its process has exited and its output is drained, writes ``exit`` beside it
(``"<code> <oom 0|1> <finished unix ns>\\n"``) and goes away. So the daemon learns an exit from
the ``wait`` connection it keeps open, or, after a restart, from the exit file.

Unix socket paths are limited to 108 bytes; :class:`Sockets` reaches the directories through
a directory fd (``/proc/self/fd/N/<id>/monitor.sock``), whatever the exec root's length.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path

from dockyard.errors import Conflict, Internal, NotFound

log = logging.getLogger(__name__)

SOCKET = "monitor.sock"
EXIT_FILE = "exit"
BINARY = "dockyard-monitor"


def binary() -> str:
    """The compiled monitor: $DOCKYARD_MONITOR, the venv's bin, or beside monitor.c."""
    candidates = [os.environ.get("DOCKYARD_MONITOR", ""),
                  os.path.join(sys.prefix, "bin", BINARY),
                  str(Path(__file__).with_name(BINARY))]
    for candidate in candidates:
        if candidate and os.access(candidate, os.X_OK):
            _warn_if_stale(candidate)
            return candidate
    found = shutil.which(BINARY)
    if found:
        return found
    raise NotFound(f"{BINARY} not found (build it with scripts/setup): looked in "
                   + ", ".join(c for c in candidates if c))


def source() -> Path:
    return Path(__file__).with_name("monitor.c")


def _warn_if_stale(binary: str) -> None:
    """A checkout newer than its build runs an old monitor: say so (scripts/setup rebuilds)."""
    try:
        if os.stat(binary).st_mtime < source().stat().st_mtime:
            log.warning("%s is older than %s: run scripts/setup to rebuild it", binary,
                        source())
    except OSError:
        pass


@dataclass(frozen=True, slots=True)
class ExitStatus:
    """How a monitored process ended."""

    code: int
    oom_killed: bool
    finished_ns: int

    @classmethod
    def parse(cls, text: str) -> ExitStatus:
        parts = text.split()
        if len(parts) != 3:
            raise Internal(f"bad exit record from the monitor: {text!r}")
        return cls(int(parts[0]), parts[1] == "1", int(parts[2]))


class Sockets:
    """One area of the exec root (``containers`` or ``execs``) with an fd on its directory."""

    def __init__(self, directory: Path) -> None:
        directory.mkdir(mode=0o711, parents=True, exist_ok=True)
        self.directory = directory
        self._fd = os.open(directory, os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)

    def close(self) -> None:
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1

    def dir(self, name: str) -> Path:
        return self.directory / name

    def socket(self, name: str) -> str:
        """A connectable path for ``<name>/monitor.sock``."""
        return f"/proc/self/fd/{self._fd}/{name}/{SOCKET}"

    def exit_status(self, name: str) -> ExitStatus | None:
        try:
            text = (self.directory / name / EXIT_FILE).read_text()
        except FileNotFoundError:
            return None
        return ExitStatus.parse(text)

    async def connect(self, name: str, line: str) -> tuple[asyncio.StreamReader,
                                                           asyncio.StreamWriter]:
        """A connection to the monitor with ``line`` sent; Conflict if nobody listens."""
        try:
            reader, writer = await asyncio.open_unix_connection(self.socket(name),
                                                                limit=1 << 20)
        except (ConnectionRefusedError, FileNotFoundError) as exc:
            raise Conflict(f"the monitor of {name} is gone") from exc
        writer.write(line.encode() + b"\n")
        return reader, writer

    async def command(self, name: str, line: str) -> str:
        """Send one command and return the monitor's one-line answer."""
        reader, writer = await self.connect(name, line)
        try:
            answer = await reader.readline()
        finally:
            writer.close()
            with contextlib.suppress(ConnectionError):
                await writer.wait_closed()
        if not answer:
            raise Conflict(f"the monitor of {name} is gone")
        return answer.decode().strip()

    async def wait(self, name: str) -> ExitStatus:
        """Wait until the process exits; its status (from the connection or the exit file)."""
        try:
            reader, writer = await self.connect(name, "wait")
        except Conflict:
            status = self.exit_status(name)
            if status is None:
                raise
            return status
        try:
            line = await reader.readline()
        except ConnectionError:
            line = b""
        finally:
            writer.close()
        if line.startswith(b"exit "):
            return ExitStatus.parse(line.decode()[5:])
        status = self.exit_status(name)
        if status is None:
            raise Conflict(f"the monitor of {name} went away without an exit status")
        return status
