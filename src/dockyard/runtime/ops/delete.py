"""``delete``: remove a stopped container (``--force``: kill a running one first); a created one
is killed without ``--force``, as runc does.

Destroying a container: every process left in its cgroup is killed (only possible without a
pid namespace of its own: the kernel kills a namespace's processes with its init), the
cgroup is removed, then the state directory. The mounts went with the mount namespace.
"""

from __future__ import annotations

import os

from dockyard.errors import Conflict, NotFound
from dockyard.runtime.state import CREATED, STOPPED

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable

    from dockyard.runtime.state import ContainerDir, Saved, StateRoot

SIGKILL = 9


def delete(root: StateRoot, container_id: str, *, force: bool = False) -> None:
    try:
        directory = root.open(container_id)
    except NotFound:
        if force:
            return
        raise
    directory.lock()
    try:
        saved = directory.read()
        status = directory.status(saved)
        if status not in (STOPPED, CREATED) and not force:
            raise Conflict(
                f"cannot delete container {container_id} that is not stopped: {status}")
        if saved is not None and status != STOPPED:
            _kill_and_wait(saved)
        destroy(directory, saved)
    finally:
        directory.unlock()


def _kill_and_wait(saved: Saved, timeout: float = 10.0) -> None:
    """SIGKILL the init and wait until it has exited (runc waits up to 10 s)."""
    import select

    from dockyard.runtime import signals

    try:
        pidfd = os.pidfd_open(saved.pid)
    except ProcessLookupError:
        return
    try:
        from dockyard.runtime.state import start_time

        if start_time(saved.pid) != saved.start_time:
            return
        signals.pidfd_send_signal(pidfd, SIGKILL)
        if not select.select([pidfd], [], [], timeout)[0]:
            raise Conflict("container init still running")
    finally:
        os.close(pidfd)


def destroy(directory: ContainerDir, saved: Saved | None) -> None:
    """Kill what is left in the cgroup, remove the cgroup, then the state directory."""
    if saved is not None and saved.cgroup_paths:
        from dockyard.runtime import confinement

        cgroup = confinement.open_cgroup(saved.cgroup_paths)
        if _without_own_pid_namespace(directory):
            from dockyard.runtime.ops.kill import signal_all

            signal_all(saved, SIGKILL)
            _wait_empty(cgroup.pids)
        cgroup.destroy()
    directory.remove()


def _without_own_pid_namespace(directory: ContainerDir) -> bool:
    try:
        from dockyard.runtime.spec import parse

        spec = parse(directory.read_config())
    except Exception:  # a damaged copy: assume the worst and kill what is in the cgroup
        return True
    return spec.linux.namespace("pid") is None


def _wait_empty(pids: Callable[[], list[int]], timeout: float = 10.0) -> None:
    import time

    deadline = time.monotonic() + timeout
    while pids() and time.monotonic() < deadline:
        time.sleep(0.01)
