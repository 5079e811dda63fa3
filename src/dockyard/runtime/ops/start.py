"""``start``: let a created container's init go on to execve (runc's exec fifo handshake).

The init is blocked opening exec.fifo for writing. Opening it for reading unblocks it; it writes
one byte, and reading that byte means it has passed the point of no return; the fifo is then
removed, which makes the status "running". If the init dies instead, the pidfd becomes
readable and start fails.
"""

from __future__ import annotations

import os

from dockyard.errors import Conflict
from dockyard.runtime.state import CREATED, RUNNING, STOPPED

TYPE_CHECKING = False
if TYPE_CHECKING:
    from dockyard.runtime.state import ContainerDir, Saved, StateRoot


def start(root: StateRoot, container_id: str) -> None:
    directory = root.open(container_id)
    directory.lock()
    try:
        saved = directory.read()
        status = directory.status(saved)
        if status == CREATED and saved is not None:
            _release(directory, saved)
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
