"""The runtime's side of starting a container process: clone the init (or fork stage 1), talk
to it over the pipes of ``channel.py``, and on any failure leave no process behind.

The runtime never changes its own namespaces, credentials or signal dispositions here, and
forks only from a single thread; the same code serves the one-shot commands and a warm
spawner (``library.py``). Two ways, both ending in the same init (``init.py``):

* **direct** (no user namespace, no pid namespace to join, and a caller that may become the
  init's parent): one clone3(CLONE_NEW* | CLONE_INTO_CGROUP | CLONE_PIDFD) makes the init,
  already pid 1 of its new pid namespace, with a pidfd taken atomically. The init is the
  caller's child: a child subreaper (``run`` and ``exec`` in the foreground, the daemon's
  spawner) reaps it anyway, and the one-shot ``create`` exits at once.
* **staged**: stage 1 is forked, enters the namespaces and forks the init, which is a
  grandchild: it is reparented to the caller only if the caller is a child subreaper (prctl
  PR_SET_CHILD_SUBREAPER), else to the nearest subreaper or pid 1, as runc's init is.
"""

from __future__ import annotations

import os

from dockyard.errors import Internal, SystemCallError
from dockyard.runtime.channel import Channel
from dockyard.runtime.init import Pipes, stage_one
from dockyard.runtime.record import Record

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Iterable

    from dockyard.runtime.init import Job
    from dockyard.sys import Syscalls

SIGKILL = 9


class Spawned(Record):
    """The container process once it is ready: its pid, a pidfd on it, its start time."""

    pid: int
    pidfd: int
    start_time: int


def check_single_threaded() -> None:
    """fork(2) from a threaded process copies one thread and whatever locks the others held."""
    import sys

    threading = sys.modules.get("threading")
    if threading is not None and threading.active_count() > 1:
        raise Internal("the runtime must fork from a single-threaded process")


def spawn(
    job: Job, sys: Syscalls, *, placed: Callable[[int], None], ready: Callable[[Spawned], None],
    helper_fd: int | None = None, hooks: Callable[[int], None] | None = None,
    adopt: bool = False,
) -> Spawned:
    """Start the container's process; ``placed(pid)`` runs once the first child exists;
    ``hooks(init_pid)`` runs the prestart and createRuntime hooks while the init waits
    between its mounts and pivot_root (only when it has any: the init asks then);
    ``ready(spawned)`` runs once the init reports ready (write state.json, the pid file).
    ``helper_fd`` is a sealed exec helper the caller keeps (a warm spawner makes one once);
    without it one is made for this spawn. ``adopt``: the caller may become the init's
    parent (it is a child subreaper, or exits right after): where the namespaces allow
    (``namespaces.direct``), the init is cloned straight from the caller, without stage 1.

    Returns once the init has gone past the runtime's part (create: waits on exec.fifo;
    run and exec: has called execve). On failure the processes are killed and waited for."""
    check_single_threaded()
    import gc

    # No collection while a child shares our pages: a collection writes to every object it
    # walks, and each page written then is copied (in the child, before it can disable the
    # collector itself; in the runtime, until the child has called execve).
    collecting = gc.isenabled()
    gc.disable()
    try:
        if adopt and job.kind == "init":
            from dockyard.runtime import namespaces

            if namespaces.direct(job.plan):
                cloned = _clone(job, sys, helper_fd)
                if cloned is not None:
                    return _direct(job, cloned, placed=placed, ready=ready, hooks=hooks)
        return _staged(job, sys, placed=placed, ready=ready, helper_fd=helper_fd, hooks=hooks)
    finally:
        if collecting:
            gc.enable()


def _staged(
    job: Job, sys: Syscalls, *, placed: Callable[[int], None], ready: Callable[[Spawned], None],
    helper_fd: int | None, hooks: Callable[[int], None] | None,
) -> Spawned:
    """Through stage 1, which enters the namespaces and forks the init."""
    first, cloned, to_stage, to_init = _fork(job, sys, helper_fd)
    pidfd = -1
    try:
        placed(first)
        if job.cgroup is not None and not cloned:
            job.cgroup.add_rest(first)
        to_stage.send("go")
        if job.plan.uid_map or job.plan.gid_map:
            from dockyard.runtime.namespaces import write_id_maps

            to_stage.expect("usermap", "stage 1")
            write_id_maps(first, job.plan)
            to_stage.send("mapped")
        pid = int(to_stage.expect("pid", "stage 1"))
        pidfd = os.pidfd_open(pid)
        to_stage.send("ack")
        _reap(first)
        return _finish(job, pid, pidfd, to_stage, to_init, ready=ready, hooks=hooks)
    except BaseException:
        _kill(first, pidfd)
        raise
    finally:
        to_stage.close()
        to_init.close()


class _Cloned(Record):
    """The init just cloned: its pid and pidfd, whether it started in the cgroup2
    directory, the runtime's ends of the pipes (from the init, to the init)."""

    pid: int
    pidfd: int
    placed: bool
    inbox: Channel
    to_init: Channel


def _direct(
    job: Job, cloned: _Cloned, *, placed: Callable[[int], None],
    ready: Callable[[Spawned], None], hooks: Callable[[int], None] | None,
) -> Spawned:
    """The init was cloned by the runtime itself: no stage 1 to talk to or reap."""
    try:
        placed(cloned.pid)
        if not cloned.placed:
            if job.cgroup is not None:
                job.cgroup.add_rest(cloned.pid)
            cloned.to_init.send("go")
        return _finish(job, cloned.pid, cloned.pidfd, cloned.inbox, cloned.to_init,
                       ready=ready, hooks=hooks)
    except BaseException:
        _kill(-1, cloned.pidfd)
        raise
    finally:
        cloned.inbox.close()
        cloned.to_init.close()


def _finish(
    job: Job, pid: int, pidfd: int, inbox: Channel, to_init: Channel, *,
    ready: Callable[[Spawned], None], hooks: Callable[[int], None] | None,
) -> Spawned:
    """The runtime's part once the init exists: hooks, "ready", state, "run"."""
    if job.kind == "init" and (job.spec.hooks.prestart or job.spec.hooks.create_runtime):
        inbox.expect("hooks", "container init")
        if hooks is not None:
            hooks(pid)
        to_init.send("resume")
    inbox.expect("ready", "container init")
    from dockyard.runtime.state import start_time

    spawned = Spawned(pid=pid, pidfd=pidfd, start_time=start_time(pid) or 0)
    ready(spawned)
    to_init.send("run")
    inbox.drain()
    return spawned


def _clone(job: Job, sys: Syscalls, helper_fd: int | None) -> _Cloned | None:
    """Clone the init with its new namespaces, into the cgroup2 directory when there is one;
    None where clone3 is refused (then stage 1 does it all, by fork)."""
    from dockyard.runtime import namespaces
    from dockyard.runtime.init import cloned_init

    directory = job.cgroup.unified if job.cgroup is not None else ""
    opened: list[int] = []  # what this call opened, closed in the runtime after the clone
    try:
        helper = _helper(helper_fd, opened)
        console = _console(job)
        opened.append(console)
        ends = [fd for _ in range(2) for fd in os.pipe2(os.O_CLOEXEC)]
        opened += ends
        if directory:
            opened.append(os.open(directory, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC))
        try:
            pid, pidfd = sys.clone_into_cgroup(opened[-1] if directory else -1,
                                               namespaces.direct_flags(job.plan))
        except SystemCallError:  # ENOSYS: before Linux 5.7, or a seccomp filter refuses it
            _close_all(opened)
            return None
    except BaseException:
        _close_all(opened)
        raise
    init_r, init_w, out_r, out_w = ends
    if pid == 0:
        for fd in (init_w, out_r):
            os.close(fd)
        cloned_init(job, Pipes(stage_inbox=-1, init_inbox=init_r, outbox=out_w,
                               console=console, helper=helper), sys, placed=bool(directory))
    _close_all(fd for fd in opened if fd not in (init_w, out_r))
    return _Cloned(pid=pid, pidfd=pidfd, placed=bool(directory), inbox=Channel(out_r, -1),
                   to_init=Channel(-1, init_w))


def _helper(helper_fd: int | None, opened: list[int]) -> int:
    """The sealed exec helper: the caller's, else one made for this spawn (in ``opened``)."""
    if helper_fd is not None:
        return helper_fd
    from dockyard.runtime import exechelper

    opened.append(exechelper.sealed_copy())
    return opened[-1]


def _close_all(fds: Iterable[int]) -> None:
    for fd in fds:
        if fd >= 0:
            os.close(fd)


def _fork(job: Job, sys: Syscalls, helper_fd: int | None) \
        -> tuple[int, bool, Channel, Channel]:
    """Fork stage 1 with its pipes, the console socket and the exec helper; returns its pid,
    whether it started in the cgroup's unified directory, and the runtime's channels to it
    and to the init."""
    opened: list[int] = []  # what this call opened, closed in the runtime after the fork
    try:
        helper = _helper(helper_fd, opened)
        console = _console(job)
        opened.append(console)
        ends = [fd for _ in range(3) for fd in os.pipe2(os.O_CLOEXEC)]
        opened += ends
        first, cloned = _fork_into(job, sys)
    except BaseException:
        _close_all(opened)
        raise
    stage_r, stage_w, init_r, init_w, out_r, out_w = ends
    if first == 0:
        for fd in (stage_w, init_w, out_r):
            os.close(fd)
        stage_one(job, Pipes(stage_inbox=stage_r, init_inbox=init_r, outbox=out_w,
                             console=console, helper=helper), sys)
    _close_all(fd for fd in opened if fd not in (stage_w, init_w, out_r))
    return first, cloned, Channel(out_r, stage_w), Channel(-1, init_w)


def _fork_into(job: Job, sys: Syscalls) -> tuple[int, bool]:
    """fork(2); with a cgroup2 directory to be in, clone3(CLONE_INTO_CGROUP) into it, so no
    move through ``cgroup.procs`` waits for an RCU grace period (5-15 ms after an idle
    moment, runc's too); stage 1 joins the v1 hierarchies itself. Falls back to fork(2) (and
    :meth:`CgroupHandle.add_rest`) where clone3 is refused. (pid, whether it was cloned.)"""
    directory = job.cgroup.unified if job.cgroup is not None else ""
    if directory:
        fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
        try:
            return sys.fork_into_cgroup(fd), True
        except SystemCallError:  # ENOSYS: before Linux 5.7, or a seccomp filter refuses it
            pass
        finally:
            os.close(fd)
    return os.fork(), False


def _console(job: Job) -> int:
    """The connected console socket the init sends the pty master over, or -1."""
    if not job.process.terminal:
        return -1
    if job.console_fd >= 0:
        return os.dup(job.console_fd)
    if job.console_socket:
        from dockyard.runtime import confinement

        return confinement.connect_console(job.console_socket)
    return -1


def _reap(first: int) -> None:
    _, status = os.waitpid(first, 0)
    if os.waitstatus_to_exitcode(status) != 0:
        raise Internal(f"stage 1 (pid {first}) exited with status {status:#x}")


def _kill(first: int, pidfd: int) -> None:
    """SIGKILL stage 1 (-1: none) and the init, and wait until both are gone."""
    if first > 0:
        _kill_child(first)
    if pidfd < 0:
        return
    import select

    from dockyard.runtime import signals

    try:
        signals.pidfd_send_signal(pidfd, SIGKILL)
        select.select([pidfd], [], [], 10.0)  # readable once the process has exited
        os.waitid(os.P_PIDFD, pidfd, os.WEXITED)  # reaps it when it is our child (subreaper)
    except (ProcessLookupError, ChildProcessError):
        return
    finally:
        os.close(pidfd)


def _kill_child(pid: int) -> None:
    try:
        os.kill(pid, SIGKILL)
        os.waitpid(pid, 0)
    except (ProcessLookupError, ChildProcessError):
        return
