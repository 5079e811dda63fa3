"""``create``: a container whose init waits, fully set up, until ``start`` (and the first half of
``run``, which lets the init go on at once).

Order: read and check config.json and compile the seccomp filter (nothing exists yet, so a
failure leaves nothing); make ``<root>/<id>`` (locked) and, for create, exec.fifo; the cgroup;
clone the init or fork stage 1 (``spawn.py``), which starts in the cgroup; meanwhile the copy
of config.json is written; once the init is ready, state.json and the pid file are written.
Any failure kills the processes, removes the cgroup and the state directory: no mount
(they live in the container's mount namespace), namespace, cgroup or process remains.
"""

from __future__ import annotations

import os
import time

from dockyard.runtime import validate
from dockyard.runtime.record import Record

SIGKILL = 9

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable

    from dockyard.runtime.cgroups import CgroupHandle
    from dockyard.runtime.init import Job
    from dockyard.runtime.seccomp import Program
    from dockyard.runtime.spawn import Spawned
    from dockyard.runtime.spec import Seccomp, Spec
    from dockyard.runtime.state import ContainerDir, StateRoot
    from dockyard.sys import Syscalls


class CreateOptions(Record):
    """The flags of ``create``/``run`` that shape the container."""

    bundle: str
    pid_file: str = ""
    console_socket: str = ""
    no_pivot: bool = False
    fds: tuple[int, ...] = (0, 1, 2)
    """The fds that become the container's 0, 1, 2, 3, ... (stdio then preserved fds)."""
    detach: bool = True
    helper_fd: int | None = None
    """A sealed exec helper the caller keeps open (a warm spawner); None: one per create."""
    seccomp_cache: dict[Seccomp, Program | None] | None = None
    """Compiled seccomp filters by profile, kept by a warm spawner."""
    adopt: bool = True
    """The caller may become the init's parent (it reaps as a child subreaper, or exits
    right after create, as the command line does): the init is then cloned straight from it
    where the namespaces allow (``spawn.py``); False keeps it a grandchild, reparented as
    runc's is."""
    relay_terminal: bool = False
    """``run`` in the foreground: a process with a terminal and no ``console_socket`` gets
    one end of a socket pair; :attr:`Created.console` is the runtime's end."""


class Created(Record):
    """A container whose init is ready."""

    pid: int
    pidfd: int
    directory: ContainerDir
    cgroup: CgroupHandle | None
    spec: Spec
    console: int = -1
    """The runtime's end of the terminal relay (``relay_terminal``), else -1."""
    start_time: int = 0
    """The init's start time (/proc/<pid>/stat), as state.json has it."""


def create(
    root: StateRoot, container_id: str, options: CreateOptions, sys: Syscalls, *,
    start: bool = False,
) -> Created:
    """Create the container; with ``start`` the init does not wait for ``start`` (``run``)."""
    from dockyard.runtime import spec

    bundle = os.path.abspath(options.bundle)
    config, raw = spec.load(bundle)
    job = _job(config, container_id, bundle, options, sys)
    directory = root.create(container_id)
    cgroup: list[CgroupHandle] = []
    spawned: Spawned | None = None
    ours = theirs = -1
    try:
        if not start:
            directory.make_fifo()
            uid, gid = validate.host_root(config)
            if uid or gid:  # the init reopens it as the user namespace's root (runc)
                os.chown(directory.fifo, uid, gid)
            job = job.replace(fifo=directory.fifo)
        if options.relay_terminal and job.process.terminal and not options.console_socket:
            from dockyard.runtime.foreground import console_pair, with_terminal_size

            ours, theirs = console_pair()
            job = job.replace(console_fd=theirs, process=with_terminal_size(job.process))
        spawned = _spawn(job, sys, directory, cgroup=cgroup, options=options, config=config,
                         raw=raw)
        if start and config.hooks.poststart:
            poststart(job.container_id, bundle, config, spawned.pid, sys)
    except BaseException:
        if spawned is not None:
            kill_and_wait(spawned.pidfd)
            os.close(spawned.pidfd)
        for handle in cgroup:
            _quietly(handle.destroy)
        _quietly(directory.remove)
        if ours >= 0:
            os.close(ours)
        if config.hooks.poststop:  # runc destroys a container whose create failed: poststop
            _quietly(lambda: poststop(container_id, bundle, config, sys))
        raise
    finally:
        directory.unlock()
        if theirs >= 0:
            os.close(theirs)
    return Created(pid=spawned.pid, pidfd=spawned.pidfd, directory=directory,
                   cgroup=cgroup[0] if cgroup else None, spec=config, console=ours,
                   start_time=spawned.start_time)


def _job(config: Spec, container_id: str, bundle: str, options: CreateOptions,
         sys: Syscalls) -> Job:
    """Every check that needs no process, then what the child stages are to do."""
    from dockyard.runtime import confinement, namespaces
    from dockyard.runtime.init import Job

    process = validate.container(config)
    validate.terminal(process, options.console_socket, options.detach)
    return Job(kind="init", container_id=container_id, spec=config, process=process,
               bundle=bundle, rootfs=validate.rootfs_path(config, bundle),
               plan=namespaces.plan(config.linux.namespaces, config.linux.uid_mappings,
                                    config.linux.gid_mappings), fds=options.fds,
               no_pivot=options.no_pivot, console_socket=options.console_socket,
               seccomp=confinement.compile_seccomp(config.linux.seccomp, sys,
                                                   options.seccomp_cache))


def _spawn(job: Job, sys: Syscalls, directory: ContainerDir, *, cgroup: list[CgroupHandle],
           options: CreateOptions, config: Spec, raw: bytes) -> Spawned:
    from dockyard.runtime import confinement
    from dockyard.runtime.spawn import spawn
    from dockyard.runtime.state import Saved, rfc3339_nano

    created = rfc3339_nano(time.time_ns())

    # The cgroup is made before the fork; stage 1 starts in it (spawn.py).
    cgroup.append(confinement.create_cgroup(config.linux, job.container_id))
    job = job.replace(cgroup=cgroup[0])

    def placed(pid: int) -> None:
        # The copy of config.json is written while the first child gets going (before
        # state.json, which ``ready`` writes): nothing in the child needs it.
        directory.save_config(raw)

    def ready(spawned: Spawned) -> None:
        directory.write(Saved(
            id=job.container_id, pid=spawned.pid, start_time=spawned.start_time,
            bundle=job.bundle, rootfs=job.rootfs, created=created,
            cgroup_paths=dict(cgroup[0].paths) if cgroup else {},
            annotations=config.annotations))
        if options.pid_file:
            write_pid_file(options.pid_file, spawned.pid)

    def hooks(pid: int) -> None:
        from dockyard.runtime.hooks import HookState, run

        state = HookState(id=job.container_id, status="creating", bundle=job.bundle, pid=pid,
                          annotations=config.annotations)
        run("prestart", config.hooks.prestart, state, sys)
        run("createRuntime", config.hooks.create_runtime, state, sys)

    return spawn(job, sys, placed=placed, ready=ready, helper_fd=options.helper_fd,
                 hooks=hooks, adopt=options.adopt)


def poststart(container_id: str, bundle: str, config: Spec, pid: int, sys: Syscalls) -> None:
    """The poststart hooks of a container whose process has started (status running)."""
    from dockyard.runtime.hooks import HookState, run

    run("poststart", config.hooks.poststart,
        HookState(id=container_id, status="running", bundle=bundle, pid=pid,
                  annotations=config.annotations), sys)


def poststop(container_id: str, bundle: str, config: Spec, sys: Syscalls) -> None:
    """The poststop hooks of a container that is gone (status stopped, no pid)."""
    from dockyard.runtime.hooks import HookState, run

    run("poststop", config.hooks.poststop,
        HookState(id=container_id, status="stopped", bundle=bundle,
                  annotations=config.annotations), sys)


def kill_and_wait(pidfd: int, timeout: float = 10.0) -> None:
    """SIGKILL the process behind ``pidfd`` and wait until it has exited (reaping it when it
    is our child, as a subreaper's)."""
    import select

    from dockyard.runtime import signals

    try:
        signals.pidfd_send_signal(pidfd, SIGKILL)
    except ProcessLookupError:
        return
    select.select([pidfd], [], [], timeout)
    try:
        os.waitid(os.P_PIDFD, pidfd, os.WEXITED | os.WNOHANG)
    except ChildProcessError:
        return


def write_pid_file(path: str, pid: int) -> None:
    """Write ``pid`` to ``path`` atomically (a temp file beside it, renamed), as runc does."""
    path = os.path.abspath(path)
    temp = os.path.join(os.path.dirname(path), "." + os.path.basename(path))
    fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o666)
    try:
        os.write(fd, str(pid).encode())
    finally:
        os.close(fd)
    os.rename(temp, path)


def _quietly(action: Callable[[], None]) -> None:
    try:
        action()
    except Exception:  # cleanup after a failure: the first error is the one to report
        return
