"""``kill``: send a signal, by name (KILL, SIGKILL) or number, to the init or with ``--all`` to
every process of the container's cgroup (frozen meanwhile, as runc does, so none escapes by
forking). A paused container is thawed after a SIGKILL to its init (a frozen process cannot
die on cgroup v1) and by ``--all`` (runc's order: freeze, signal, thaw)."""

from __future__ import annotations

import os

from dockyard.errors import Conflict, InvalidArgument
from dockyard.runtime import signals
from dockyard.runtime.state import CREATED, PAUSED, RUNNING, STOPPED

TYPE_CHECKING = False
if TYPE_CHECKING:
    from dockyard.runtime.state import Saved, StateRoot

def parse_signal(text: str) -> int:
    """runc's parseSignal: a number, or a name with or without "SIG", any case."""
    if text.lstrip("-").isdigit():
        return int(text)
    name = text.upper().removeprefix("SIG")
    if name in signals.NAMES:
        return signals.NAMES[name]
    if name.startswith("RTMIN") or name.startswith("RTMAX"):
        offset = name[5:]
        base = 34 if name.startswith("RTMIN") else 64
        if not offset:
            return base
        if offset[0] in "+-" and offset[1:].isdigit():
            return base + int(offset)
    raise InvalidArgument(f"unknown signal {text!r}")


def kill(root: StateRoot, container_id: str, signal: int, *, all_processes: bool = False) \
        -> None:
    directory = root.open(container_id)
    saved = directory.read()
    status = directory.status(saved)
    if all_processes:
        if saved is None or (status == STOPPED and not saved.cgroup_paths):
            return
        signal_all(saved, signal)
        return
    if saved is None or status not in (CREATED, RUNNING, PAUSED):
        raise Conflict("container not running")
    _signal_init(saved, signal)
    if status == PAUSED and signal == signals.SIGKILL:
        from dockyard.runtime import confinement

        confinement.open_cgroup(saved.cgroup_paths).thaw()


def _signal_init(saved: Saved, signal: int) -> None:
    """Signal through a pidfd taken after checking the start time: never a reused pid."""
    from dockyard.runtime.state import start_time

    try:
        pidfd = os.pidfd_open(saved.pid)
    except ProcessLookupError as exc:
        raise Conflict("container not running") from exc
    try:
        if start_time(saved.pid) != saved.start_time:
            raise Conflict("container not running")
        signals.pidfd_send_signal(pidfd, signal)
    except ProcessLookupError as exc:
        raise Conflict("container not running") from exc
    finally:
        os.close(pidfd)


def signal_all(saved: Saved, signal: int) -> None:
    """``signal`` to every process of the container's cgroup, frozen while it is sent."""
    from dockyard.errors import Unsupported
    from dockyard.runtime import confinement

    cgroup = confinement.open_cgroup(saved.cgroup_paths)
    try:
        cgroup.freeze()
        frozen = True
    except Unsupported:
        frozen = False
    try:
        for pid in cgroup.pids():
            try:
                os.kill(pid, signal)
            except ProcessLookupError:
                continue
    finally:
        if frozen:
            cgroup.thaw()
