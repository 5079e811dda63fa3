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
    from typing import Any

    from dockyard.runtime.spec import Process
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


def console_pair() -> tuple[int, int]:
    """A connected pair standing in for ``--console-socket`` when the runtime itself holds
    the terminal: (the runtime's end, the end the init sends the pty master over)."""
    import socket

    ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
    return ours.detach(), theirs.detach()


def with_terminal_size(process: Process) -> Process:
    """``process`` with the size of the runtime's own terminal (stdin) as its console size,
    so the pty has it from the start (runc resizes later, racing the container's first
    reads of it); unchanged when it has a size or stdin is no terminal."""
    if process.console_size is not None:
        return process
    import fcntl
    import struct
    import termios

    from dockyard.runtime.spec import ConsoleSize

    try:
        rows, columns = struct.unpack("HHHH", fcntl.ioctl(0, termios.TIOCGWINSZ, b"\0" * 8))[:2]
    except OSError:
        return process
    return process.replace(console_size=ConsoleSize(height=rows, width=columns))


def relay(pid: int, pidfd: int, console_end: int, mask: list[int]) -> int:
    """``run``/``exec`` with a terminal in the foreground (runc without --console-socket):
    receive the pty master, copy stdin to it and it to stdout (stdin in raw mode when it is
    a terminal, the window size followed), forward signals, and return the exit status."""
    import socket

    from dockyard.runtime import console

    with socket.socket(fileno=console_end) as sock:
        _, master = console.receive_master(sock)
    try:
        _follow_window_size(master)

        def forward(number: int, _frame: object) -> None:
            try:
                os.kill(pid, number)
            except ProcessLookupError:
                return

        signals.handle((n for n in range(1, 32) if n not in _NOT_FORWARDED), forward)
        signals.handle((28,), lambda _n, _f: _follow_window_size(master))  # SIGWINCH
        restore(mask)
        saved = _raw_stdin()
        try:
            _copy(master, pidfd)
        finally:
            _restore_stdin(saved)
    finally:
        os.close(master)
    _, status = os.waitpid(pid, 0)
    code = os.waitstatus_to_exitcode(status)
    return 128 - code if code < 0 else code


def _copy(master: int, pidfd: int) -> None:
    import select

    sources = [0, master, pidfd]
    while True:
        readable = select.select(sources, [], [])[0]
        if 0 in readable:
            data = os.read(0, 65536)
            if data:
                os.write(master, data)
            else:
                sources.remove(0)
        if master in readable and not _pump(master):
            return
        if pidfd in readable:
            while _pump(master, wait=False):
                continue
            return


def _pump(master: int, *, wait: bool = True) -> bool:
    """Copy what the pty has to stdout; False once it is closed (or empty, if not waiting)."""
    import select

    if not wait and not select.select([master], [], [], 0)[0]:
        return False
    try:
        data = os.read(master, 65536)
    except OSError:  # EIO: the slave side is gone
        return False
    if not data:
        return False
    os.write(1, data)
    return True


def _follow_window_size(master: int) -> None:
    import fcntl
    import termios

    try:
        size = fcntl.ioctl(0, termios.TIOCGWINSZ, b"\0" * 8)
        fcntl.ioctl(master, termios.TIOCSWINSZ, size)
    except OSError:
        return  # stdin is no terminal: the pty keeps its size


def _raw_stdin() -> list[Any] | None:
    import termios
    import tty

    if not os.isatty(0):
        return None
    saved = termios.tcgetattr(0)
    tty.setraw(0)
    return saved


def _restore_stdin(saved: list[Any] | None) -> None:
    if saved is not None:
        import termios

        termios.tcsetattr(0, termios.TCSADRAIN, saved)
