"""The pipes between the runtime and the two stages it forks, and their messages.

::

    runtime                      stage 1 (fork)                 init (fork of stage 1)
      |--- fork ------------------->|
      | cgroups: create, add(stage1)|
      |--- "go" ------------------->|  setns; a new user namespace:
      |<-- "usermap" ---------------|    unshare it, ask for its maps
      | write uid_map, gid_map      |
      |--- "mapped" --------------->|    setresuid(0); unshare the rest
      |                             |--- fork ----------------------->|  (pid 1 of a new
      |<-- "pid <n>" ---------------|                                 |   pid namespace)
      | pidfd_open(n)               |                                 |
      |--- "ack" ------------------>|                                 |  rootfs mounts
      | waitpid(stage 1)            x (exits; the init is reparented) |
      |<-- "hooks" ---------------------------------------------------|  (with prestart or
      | prestart, createRuntime hooks                                 |   createRuntime
      |--- "resume" ------------------------------------------------->|   hooks only)
      |                                                               |  createContainer
      |                                                               |  hooks, pivot_root,
      |                                                               |  console, hostname,
      |                                                               |  sysctl, rlimits,
      |<-- "ready" ---------------------------------------------------|  user, caps, cwd
      | state.json, --pid-file                                        |
      |--- "run" ---------------------------------------------------->|  seccomp
      |<-- end of file -----------------------------------------------|  (closed: create;
      |                                                               |   run and exec: right
      |                                                               |   before execve)

When the init is cloned straight from the runtime (``spawn.py``: no user namespace, no pid
namespace to join) there is no stage 1: the runtime has the pid and a pidfd from clone3, the
init starts in its cgroup2 directory (else it waits for "go" until the runtime has moved it
through ``cgroup.procs``), and the exchange starts at "hooks" or "ready".

Either stage may send ``error <class> <message>`` instead of its next message and exit; the
runtime raises that error. The init holds the pid the runtime learnt until the runtime has a
pidfd on it (stage 1 waits for "ack"), so a kill on failure cannot hit a reused pid. Each
direction is a pipe (cheaper to set up than a socket); stage 1 and the init read from pipes of
their own. Messages are single lines written in one write(2), so they never interleave.
"""

from __future__ import annotations

import os

from dockyard import errors
from dockyard.errors import DockyardError, Internal

_LIMIT = 4000  # below PIPE_BUF: one write is atomic


class Channel:
    """One side's ends: ``inbox`` to read, ``outbox`` to write (-1 when closed)."""

    def __init__(self, inbox: int, outbox: int) -> None:
        self.inbox = inbox
        self.outbox = outbox
        self._buffer = b""
        self._pending: list[tuple[str, str]] = []

    def send(self, kind: str, payload: str = "") -> None:
        line = f"{kind} {payload}".replace("\n", "\\n")[:_LIMIT] + "\n"
        os.write(self.outbox, line.encode("utf-8", "surrogateescape"))

    def send_error(self, exc: BaseException) -> None:
        if isinstance(exc, errors.SystemCallError):
            self.send("error", f"SystemCallError {exc.errno} {exc.call} {exc}")
        elif isinstance(exc, DockyardError):
            self.send("error", f"{type(exc).__name__} {exc}")
        else:
            self.send("error", f"Internal {type(exc).__name__}: {exc}")

    def receive(self) -> tuple[str, str] | None:
        """The next message, or None at end of file."""
        if self._pending:
            return self._pending.pop(0)
        while b"\n" not in self._buffer:
            chunk = os.read(self.inbox, 65536)
            if not chunk:
                return None
            self._buffer += chunk
        line, self._buffer = self._buffer.split(b"\n", 1)
        kind, _, payload = line.decode("utf-8", "surrogateescape").partition(" ")
        return kind, payload.replace("\\n", "\n")

    def expect(self, kind: str, what: str) -> str:
        """The payload of the next ``kind`` message; an error message raises its error, end
        of file raises Internal naming ``what`` (the step that did not report back)."""
        held: list[tuple[str, str]] = []
        try:
            while True:
                message = self.receive()
                if message is None:
                    raise Internal(f"{what}: the child exited without reporting")
                if message[0] == "error":
                    raise rebuild(message[1])
                if message[0] == kind:
                    return message[1]
                held.append(message)
        finally:
            self._pending[:0] = held

    def drain(self) -> None:
        """Read to end of file, raising the first error message."""
        while (message := self.receive()) is not None:
            if message[0] == "error":
                raise rebuild(message[1])

    def close(self) -> None:
        for fd in (self.inbox, self.outbox):
            if fd >= 0:
                os.close(fd)
        self.inbox = self.outbox = -1


def rebuild(payload: str) -> DockyardError:
    """The error a child reported, as the class it named (Internal for unknown names)."""
    name, _, message = payload.partition(" ")
    if name == "SystemCallError":
        number, _, rest = message.partition(" ")
        call, _, text = rest.partition(" ")
        error = errors.SystemCallError(call, int(number) if number.isdigit() else 0)
        error.message = text
        error.args = (text,)
        return error
    cls = getattr(errors, name, None)
    if not (isinstance(cls, type) and issubclass(cls, DockyardError)):
        return Internal(message)
    return cls(message)
