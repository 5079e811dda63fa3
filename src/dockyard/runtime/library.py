"""The runtime's operations for a warm, single-threaded process: the daemon's spawner.

A one-shot ``dockyard-runtime run`` pays for an interpreter start and the runtime's imports on
every container. A spawner starts once, calls :meth:`Runtime.warm_up` (imports everything the
child stages need and seals the exec helper), and then creates containers with a fork each::

    runtime = Runtime("/run/dockyard/runtime", subreaper=True)
    runtime.warm_up()
    container = runtime.run("web", "/var/lib/dockyard/bundles/web", stdio=(0, out, err))
    status = runtime.wait(container)          # the init's exit status (it is our child)
    runtime.delete("web")

Contract for the calling process:

* **single-threaded** whenever it calls :meth:`create`, :meth:`run` or :meth:`exec` (they
  fork; a thread would be copied in whatever state it was). They raise Internal otherwise.
* **nothing of the caller leaks in**: the container gets exactly ``stdio`` as fds 0, 1, 2 and
  ``extra_fds`` as 3, 4, ... (``--preserve-fds``); every other fd is closed in the child.
  Signal dispositions and mask, namespaces, credentials and cwd of the caller are not changed
  by these calls and do not reach the container (its signals are reset before execve).
* **reaping**: the container's process is a grandchild of the caller. Construct with
  ``subreaper=True`` (prctl PR_SET_CHILD_SUBREAPER on the caller) and the process becomes
  the caller's child: :meth:`wait` (or ``os.waitid(os.P_PIDFD, container.pidfd, ...)``) gets
  its status. Without it, pid 1 (or another subreaper above) reaps it, as with runc. (A
  caller that is a subreaper, by this flag or its own prctl, gets the init cloned straight
  from it, one process instead of two: ``spawn.py``.)
* errors are :mod:`dockyard.errors` exceptions; nothing is printed.
* compiled seccomp filters are kept per profile for the life of the object.

The state on disk is the command line's (same ``root``), so ``dockyard-runtime state/kill/
delete`` and this class can be mixed.
"""

from __future__ import annotations

import os

from dockyard.runtime.record import Record
from dockyard.runtime.state import DEFAULT_ROOT, StateRoot

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Sequence

    from dockyard.runtime.cgroups.stats import Stats
    from dockyard.runtime.ops.delete import Known
    from dockyard.runtime.seccomp import Program
    from dockyard.runtime.spec import Process, Resources, Seccomp
    from dockyard.runtime.state import ContainerState
    from dockyard.sys import Syscalls

SIGTERM = 15
PR_SET_CHILD_SUBREAPER = 36
_KNOWN_LIMIT = 256


class Container(Record):
    """A created (or running) container's first process."""

    id: str
    pid: int
    pidfd: int
    """A pidfd on the process, owned by the caller (close it when done)."""


class Runtime:
    """The verbs of ``dockyard-runtime`` as methods, for a long-lived caller."""

    def __init__(
        self, root: str = DEFAULT_ROOT, *, sys: Syscalls | None = None, subreaper: bool = False
    ) -> None:
        if sys is None:
            from dockyard.sys import real

            sys = real()
        self.root = StateRoot(root)
        self.sys = sys
        self._helper: int | None = None
        self._filters: dict[Seccomp, Program | None] = {}
        self._known: dict[str, Known] = {}
        """The containers this object created: delete skips reading their config back."""
        self._subreaper = subreaper
        if subreaper:
            sys.prctl(PR_SET_CHILD_SUBREAPER, 1)

    def warm_up(self) -> None:
        """Import what the verbs and the child stages use and make the sealed exec helper, so
        that each container costs a fork and the kernel's work."""
        from dockyard.runtime import (  # noqa: F401
            capabilities,
            cgroups,
            confinement,
            console,
            devnodes,
            exechelper,
            hooks,
            init,
            mounts,
            rootfs,
            seccomp,
            spawn,
        )
        from dockyard.runtime.cgroups import v1, v2  # noqa: F401
        from dockyard.runtime.ops import create, delete, exec, kill, start  # noqa: F401

        if self._helper is None:
            fd = exechelper.sealed_copy()
            self._helper = fd if fd >= 0 else None

    def close(self) -> None:
        """Close the sealed exec helper (the runtime stays usable)."""
        if self._helper is not None:
            os.close(self._helper)
            self._helper = None

    def create(
        self, container_id: str, bundle: str, *, stdio: tuple[int, int, int] = (0, 1, 2),
        extra_fds: Sequence[int] = (), console_socket: str = "", pid_file: str = "",
        no_pivot: bool = False,
    ) -> Container:
        """``create``: the init waits, set up, until :meth:`start`."""
        return self._create(container_id, bundle, start=False, stdio=stdio,
                            extra_fds=extra_fds, console_socket=console_socket,
                            pid_file=pid_file, no_pivot=no_pivot)

    def run(
        self, container_id: str, bundle: str, *, stdio: tuple[int, int, int] = (0, 1, 2),
        extra_fds: Sequence[int] = (), console_socket: str = "", pid_file: str = "",
        no_pivot: bool = False,
    ) -> Container:
        """``run --detach``: created and started at once (no exec fifo round trip)."""
        return self._create(container_id, bundle, start=True, stdio=stdio,
                            extra_fds=extra_fds, console_socket=console_socket,
                            pid_file=pid_file, no_pivot=no_pivot)

    def _create(self, container_id: str, bundle: str, *, start: bool,
                stdio: tuple[int, int, int], extra_fds: Sequence[int], console_socket: str,
                pid_file: str, no_pivot: bool) -> Container:
        from dockyard.runtime.ops.create import CreateOptions, create

        options = CreateOptions(bundle=bundle, pid_file=pid_file, console_socket=console_socket,
                                no_pivot=no_pivot, fds=(*stdio, *extra_fds), detach=True,
                                helper_fd=self._helper, seccomp_cache=self._filters,
                                adopt=self._subreaper or self.sys.child_subreaper())
        created = create(self.root, container_id, options, self.sys, start=start)
        from dockyard.runtime.ops.delete import Known

        self._known[container_id] = Known(pid=created.pid, start_time=created.start_time,
                                          spec=created.spec)
        if len(self._known) > _KNOWN_LIMIT:  # deleted elsewhere (the command line): forget
            del self._known[next(iter(self._known))]
        return Container(id=container_id, pid=created.pid, pidfd=created.pidfd)

    def start(self, container_id: str) -> None:
        """``start`` (then the poststart hooks)."""
        from dockyard.runtime.ops.start import start

        start(self.root, container_id, self.sys)

    def state(self, container_id: str) -> ContainerState:
        from dockyard.runtime.ops.state import state

        return state(self.root, container_id)

    def kill(self, container_id: str, signal: int = SIGTERM, *, all_processes: bool = False) \
            -> None:
        from dockyard.runtime.ops.kill import kill

        kill(self.root, container_id, signal, all_processes=all_processes)

    def delete(self, container_id: str, *, force: bool = False) -> None:
        """``delete`` (then the poststop hooks)."""
        from dockyard.runtime.ops.delete import delete

        delete(self.root, container_id, force=force, sys=self.sys,
               known=self._known.get(container_id))
        self._known.pop(container_id, None)

    def pause(self, container_id: str) -> None:
        """Freeze every process of a created or running container (status "paused")."""
        from dockyard.runtime.ops.pause import pause

        pause(self.root, container_id)

    def resume(self, container_id: str) -> None:
        """Thaw a paused container."""
        from dockyard.runtime.ops.pause import resume

        resume(self.root, container_id)

    def update(self, container_id: str, resources: Resources) -> None:
        """Change the limits of a live container (``update``: only the values given are
        written; Unsupported when this cgroup lacks the file of one)."""
        from dockyard.runtime.ops.update import update

        update(self.root, container_id, resources)

    def stats(self, container_id: str) -> Stats:
        """One sample of the container's resource usage (``events --stats``; runc's JSON is
        ``stats.to_runc()``)."""
        from dockyard.runtime.ops.events import stats

        return stats(self.root, container_id)

    def exec(
        self, container_id: str, process: Process, *, stdio: tuple[int, int, int] = (0, 1, 2),
        extra_fds: Sequence[int] = (), console_socket: str = "", pid_file: str = "",
        ignore_paused: bool = False,
    ) -> Container:
        """A new process in the container (``exec --detach``)."""
        from dockyard.runtime.ops.exec import ExecOptions, spawn_process

        options = ExecOptions(fds=(*stdio, *extra_fds), console_socket=console_socket,
                              pid_file=pid_file, detach=True, helper_fd=self._helper,
                              seccomp_cache=self._filters, ignore_paused=ignore_paused)
        spawned = spawn_process(self.root, container_id, process, options, self.sys)
        return Container(id=container_id, pid=spawned.pid, pidfd=spawned.pidfd)

    def ps(self, container_id: str) -> list[int]:
        from dockyard.runtime.ops.ps import pids

        return pids(self.root, container_id)

    def list(self) -> list[ContainerState]:
        from dockyard.runtime.ops.list import containers

        return containers(self.root)

    def wait(self, container: Container) -> int:
        """Reap ``container``'s process (the caller must be its subreaper): its exit status,
        128 + the signal that killed it. Closes the container's pidfd."""
        try:
            result = os.waitid(os.P_PIDFD, container.pidfd, os.WEXITED)
        finally:
            os.close(container.pidfd)
        if result is None:
            return 0
        return result.si_status if result.si_code == os.CLD_EXITED else 128 + result.si_status
