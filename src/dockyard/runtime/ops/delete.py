"""``delete``: remove a stopped container (``--force``: kill a running one first); a created one
is killed without ``--force``, as runc does.

Destroying a container: every process left in its cgroup is killed (only possible without a
pid namespace of its own: the kernel kills a namespace's processes with its init), the
cgroup is removed, then the state directory, then the poststop hooks run (runc's order; their
failure fails ``delete``, but the container is gone). The mounts went with the mount
namespace. A paused container is thawed once its init has been sent SIGKILL.
"""

from __future__ import annotations

import os

from dockyard.errors import Conflict, NotFound
from dockyard.runtime.record import Record
from dockyard.runtime.state import CREATED, PAUSED, STOPPED

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable

    from dockyard.runtime.spec import Spec
    from dockyard.runtime.state import ContainerDir, Saved, StateRoot
    from dockyard.sys import Syscalls

SIGKILL = 9


class Known(Record):
    """What the process that created a container remembers of it (a warm spawner): its
    init and the config create parsed. ``delete`` uses the config instead of reading
    config.json back when state.json names the same init (pid and start time)."""

    pid: int
    start_time: int
    spec: Spec


def delete(root: StateRoot, container_id: str, *, force: bool = False,
           sys: Syscalls | None = None, known: Known | None = None) -> None:
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
            _kill_and_wait(saved, thaw=status == PAUSED)
        spec = None
        if known is not None and saved is not None and \
                (saved.pid, saved.start_time) == (known.pid, known.start_time):
            spec = known.spec
        destroy(directory, saved, sys, spec)
    finally:
        directory.unlock()


def _kill_and_wait(saved: Saved, *, thaw: bool = False, timeout: float = 10.0) -> None:
    """SIGKILL the init (``thaw`` its frozen cgroup then) and wait until it has exited (runc
    waits up to 10 s)."""
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
        if thaw:
            from dockyard.runtime import confinement

            confinement.open_cgroup(saved.cgroup_paths).thaw()
        if not select.select([pidfd], [], [], timeout)[0]:
            raise Conflict("container init still running")
    finally:
        os.close(pidfd)


def destroy(directory: ContainerDir, saved: Saved | None, sys: Syscalls | None = None,
            spec: Spec | None = None) -> None:
    """Kill what is left in the cgroup, remove the cgroup, then the state directory, then run
    the poststop hooks. ``spec``: the container's config when the caller has it (else the
    copy in the state directory is read)."""
    if spec is None:
        spec = _spec(directory)
    if saved is not None and saved.cgroup_paths:
        from dockyard.runtime import confinement

        cgroup = confinement.open_cgroup(saved.cgroup_paths)
        if spec is None or spec.linux.namespace("pid") is None:  # damaged: assume the worst
            from dockyard.runtime.ops.kill import signal_all

            signal_all(saved, SIGKILL)
            _wait_empty(cgroup.pids)
        cgroup.destroy()
    directory.remove()
    if saved is not None and spec is not None and spec.hooks.poststop:
        from dockyard.runtime.ops.create import poststop

        if sys is None:
            from dockyard.sys import real

            sys = real()
        poststop(saved.id, saved.bundle, spec, sys)


def _spec(directory: ContainerDir) -> Spec | None:
    """What delete needs of the config.json create saved (``specread.read_teardown``); None
    if it is missing or damaged."""
    try:
        from dockyard.runtime.specread import read_teardown

        return read_teardown(directory.read_config())
    except Exception:  # a damaged copy: the caller assumes the worst
        return None


def _wait_empty(pids: Callable[[], list[int]], timeout: float = 10.0) -> None:
    import time

    deadline = time.monotonic() + timeout
    while pids() and time.monotonic() < deadline:
        time.sleep(0.01)
