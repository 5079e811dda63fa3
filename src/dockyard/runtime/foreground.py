"""The runtime in the foreground (``run`` and ``exec`` without ``--detach``): it is the
container process's reaper, passes on the signals it gets, and exits with its status.

Before the fork the runtime becomes a child subreaper (the process it waits for is a
grandchild) and blocks every signal, so none is lost or acted on by the children before
they reset their mask; once the process exists, handlers that forward each signal to it are
installed and the mask is restored (a signal that came meanwhile is forwarded then). As with
runc, SIGCHLD reaps, SIGWINCH and SIGURG are not forwarded, and the exit status is the
process's exit code, or 128 + the signal that killed it.
"""

from __future__ import annotations

import os

from dockyard.runtime import signals

TYPE_CHECKING = False
if TYPE_CHECKING:
    from dockyard.sys import Syscalls

PR_SET_CHILD_SUBREAPER = 36
_NOT_FORWARDED = (9, 17, 19, 23, 28)  # KILL, CHLD, STOP, URG, WINCH


def prepare(sys: Syscalls) -> list[int]:
    """Subreaper, all signals blocked; returns the mask to restore."""
    sys.prctl(PR_SET_CHILD_SUBREAPER, 1)
    return signals.block_all()


def restore(mask: list[int]) -> None:
    signals.set_mask(mask)


def wait(pid: int, mask: list[int]) -> int:
    """Forward signals to ``pid`` until it exits; its exit status (128 + signal if killed)."""

    def forward(number: int, _frame: object) -> None:
        try:
            os.kill(pid, number)
        except ProcessLookupError:
            return

    signals.handle((n for n in range(1, 32) if n not in _NOT_FORWARDED), forward)
    restore(mask)
    while True:
        try:
            reaped, status = os.waitpid(-1, 0)
        except ChildProcessError:
            return _wait_foreign(pid)
        if reaped == pid:
            code = os.waitstatus_to_exitcode(status)
            return 128 - code if code < 0 else code


def _wait_foreign(pid: int) -> int:
    """The process is not our child (we could not become its reaper): wait, status unknown."""
    import select

    try:
        pidfd = os.pidfd_open(pid)
    except ProcessLookupError:
        return 255
    try:
        select.select([pidfd], [], [])
    finally:
        os.close(pidfd)
    return 255
