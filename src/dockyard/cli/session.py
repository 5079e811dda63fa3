"""What a command runs with: the daemon address, the streams, the clock, and the client.

Commands never touch ``sys.stdout`` or ``os.environ`` themselves; tests hand them a Session
over in-memory streams and a fixed clock.
"""

from __future__ import annotations

import sys
import time

TYPE_CHECKING = False  # typing's import costs the CLI's start a few ms
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import IO, BinaryIO, TextIO

    from dockyard.client import Client


class StatusError(Exception):
    """A failure the CLI reports with its own text and exit status (docker's cli.StatusError)."""

    def __init__(self, message: str, exit_code: int = 1) -> None:
        super().__init__(message)
        self.exit_code = exit_code


def _isatty(stream: IO[bytes] | IO[str]) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False


class Session:
    """One CLI invocation's context (the docker CLI's ``command.Cli``)."""

    def __init__(self, host: str, *, out: TextIO | None = None, err: TextIO | None = None,
                 stdin: BinaryIO | None = None, stdout_binary: BinaryIO | None = None,
                 now: Callable[[], float] = time.time,
                 environ: dict[str, str] | None = None) -> None:
        self.host = host
        self.out = out if out is not None else sys.stdout
        self.err = err if err is not None else sys.stderr
        self.stdin = stdin if stdin is not None else sys.stdin.buffer
        self.stdout_binary = stdout_binary if stdout_binary is not None else sys.stdout.buffer
        self.now = now
        self.environ = environ if environ is not None else {}
        self._client: Client | None = None

    def client(self) -> Client:
        if self._client is None:
            from dockyard.client import Client

            self._client = Client(self.host)
        return self._client

    def close(self) -> None:
        if self._client is not None:
            self._client.close()

    def out_is_terminal(self) -> bool:
        return _isatty(self.out)

    def in_is_terminal(self) -> bool:
        return _isatty(self.stdin)

    def confirm(self, message: str) -> bool:
        """Ask ``message`` with `` [y/N] `` and read a line: True for y or yes, in any case
        (docker's command.PromptForConfirmation)."""
        self.out.write(f"{message} [y/N] ")
        self.out.flush()
        answer = self.stdin.readline().decode(errors="replace").strip().lower()
        return answer in ("y", "yes")
