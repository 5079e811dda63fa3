"""``start``: let a created container's init go on to execve (runc's exec fifo handshake).

The init is blocked opening exec.fifo for writing. Opening it for reading unblocks it; it writes
one byte, and reading that byte means it has passed the point of no return; the fifo is then
removed, which makes the status "running". If the init dies instead, the pidfd becomes
readable and start fails. Then the poststart hooks run; if one fails, the container's init
is killed and start fails (the spec's rule, and runc's from 1.5 on).
"""

from __future__ import annotations

import os

from dockyard.errors import Conflict
from dockyard.runtime.state import CREATED, RUNNING, STOPPED

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable

    from dockyard.runtime.state import ContainerDir, Saved, StateRoot
    from dockyard.sys import Syscalls


def start(root: StateRoot, container_id: str, sys: Syscalls | None = None) -> None:
    directory = root.open(container_id)
    directory.lock()
    try:
        saved = directory.read()
        status = directory.status(saved)
        if status == CREATED and saved is not None:
            _release(directory, saved)
            _poststart(directory, saved, sys)
            return
        if status == STOPPED:
            raise Conflict("cannot start a container that has stopped")
        if status == RUNNING:
            raise Conflict("cannot start an already running container")
        raise Conflict(f"cannot start a container in the {status} state")
    finally:
        directory.unlock()


def _release(directory: ContainerDir, saved: Saved) -> None:
    import select

    from dockyard.runtime.state import start_time

    fifo = os.open(directory.fifo, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    try:
        try:
            pidfd = os.pidfd_open(saved.pid)
        except ProcessLookupError:
            pidfd = -1
        try:
            if pidfd >= 0 and start_time(saved.pid) == saved.start_time:
                select.select([fifo, pidfd], [], [])
            data = os.read(fifo, 1)
        finally:
            if pidfd >= 0:
                os.close(pidfd)
    finally:
        os.close(fifo)
    if data != b"0":
        raise Conflict("container process is already dead")
    os.unlink(directory.fifo)


def _poststart(directory: ContainerDir, saved: Saved, sys: Syscalls | None) -> None:
    raw = directory.read_config()
    if b'"poststart"' not in raw:  # no need to parse it again
        return
    from dockyard.runtime.spec import parse

    spec = parse(raw)
    if not spec.hooks.poststart:
        return
    from dockyard.runtime.ops.create import kill_and_wait, poststart

    if sys is None:
        from dockyard.sys import real

        sys = real()
    try:
        poststart(saved.id, saved.bundle, spec, saved.pid, sys)
    except BaseException:
        _kill(saved, kill_and_wait)
        raise


def _kill(saved: Saved, kill_and_wait: Callable[[int], None]) -> None:
    from dockyard.runtime.state import start_time

    try:
        pidfd = os.pidfd_open(saved.pid)
    except ProcessLookupError:
        return
    try:
        if start_time(saved.pid) == saved.start_time:
            kill_and_wait(pidfd)
    finally:
        os.close(pidfd)
