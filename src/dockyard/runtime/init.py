"""What runs between the runtime's fork and the container's execve(2): the two child stages.

The runtime forks **stage 1**, which (after the runtime has put it in the container's cgroup)
joins and creates the container's namespaces and forks the **init**: a new pid namespace
takes effect for children only, and the runtime itself never changes its namespaces (a warm
spawner stays as it was). The messages between them are drawn in ``channel.py``.

Where no user namespace is made or joined and no pid namespace is joined, the runtime
clones the init itself with the new namespaces (``spawn.py``, :func:`cloned_init`): the init
takes stage 1's first steps, joins the ``path`` namespaces and unshares a new cgroup one, and
goes on as below; there is no stage 1.

Stage 1 (or the cloned init), first of all: non-dumpable (CVE-2019-5736: while the
interpreter runs inside the container's namespaces, /proc/<pid>/exe, fd/ and mem of it cannot
be opened by the container, and execve(2) makes the container's binary dumpable again); the
fds the container gets put in place (stdio, then ``--preserve-fds``) and every other
inherited fd closed (so none can serve as a cwd or path into the host, CVE-2024-21626).

The init of a new container, in runc's order (``standard_init_linux.go``)::

    setsid; loopback up (new network namespace)
    rootfs: mounts, /dev (rootfs.py)
    [prestart, createRuntime hooks: "hooks" -> the runtime runs them -> "resume"]
    createContainer hooks, in the root's directory (hooks.py)
    rootfs: pivot_root; mkdir cwd
    console (process.terminal: pty, /dev/console, master over --console-socket)
    rootfs: read-only mounts and root; umask
    hostname, domainname; sysctl; readonly and masked paths
    rlimits; oom_score_adj
    [seccomp here when noNewPrivileges is false: loading needs CAP_SYS_ADMIN]
    capabilities: bounding set, keep caps; groups, gid, uid; cwd; capabilities
    no_new_privs; PATH lookup of args[0]         (a missing binary fails create)
    "ready" -> runtime writes state.json -> "run"
    signals to default, stray fds close-on-exec; seccomp (noNewPrivileges)
    create: close the pipes, open exec.fifo for writing (blocks until ``start``), write "0"
    startContainer hooks
    run and exec: close the pipes; execve of the sealed exec helper, which execs the target
    (exechelper.py)

Stage 1 opens exec.fifo (O_PATH) before it enters the namespaces: in a new user namespace the
container's root may not search the runtime's --root. With a new user namespace, stage 1
has the runtime write its id maps before it unshares the rest (``namespaces.py``).

An exec'd process does the same minus the root filesystem, hostname and sysctl (it joins the
namespaces of the container's init, so its mounts are already there).
"""

from __future__ import annotations

import os

from dockyard.runtime import exechelper
from dockyard.runtime import process as proc
from dockyard.runtime.record import Record

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import NoReturn

    from dockyard.runtime.cgroups import CgroupHandle
    from dockyard.runtime.channel import Channel
    from dockyard.runtime.namespaces import Plan
    from dockyard.runtime.seccomp import Program
    from dockyard.runtime.spec import Hook, Process, Spec
    from dockyard.sys import Syscalls

PR_SET_DUMPABLE = 4


def preload(job: Job) -> None:
    """Import now what the child stages import later: once the init has changed its root (or
    an exec'd process joined the container's mount namespace) the host's modules are out of
    reach. Stage 1 calls it before it enters the namespaces; a warm spawner calls it once
    (``library.Runtime.warm_up``) so that its forks find everything loaded."""
    import fcntl  # noqa: F401
    import resource  # noqa: F401
    import select  # noqa: F401
    import stat  # noqa: F401
    import struct  # noqa: F401

    from dockyard.runtime import capabilities, channel, namespaces, signals  # noqa: F401

    if job.kind == "init":
        import _socket  # noqa: F401

        from dockyard.runtime import devnodes, mounts, rootfs  # noqa: F401
    if job.process.terminal:
        import socket  # noqa: F401

        from dockyard.runtime import console  # noqa: F401
    if job.seccomp is not None:
        from dockyard.runtime import seccomp  # noqa: F401
    if job.spec.hooks.create_container or job.spec.hooks.start_container:
        from dockyard.runtime import hooks, jsontext  # noqa: F401


class Job(Record):
    """Everything the child stages need; they are forks, so nothing is serialised."""

    kind: str
    """"init" for create and run, "exec" for exec."""
    container_id: str
    spec: Spec
    process: Process
    bundle: str
    rootfs: str
    plan: Plan
    fds: tuple[int, ...] = (0, 1, 2)
    """The fds that become 0, 1, 2, 3, ... in the container (stdio, then preserved fds)."""
    fifo: str = ""
    """create: the exec fifo the init waits on; "" for run and exec."""
    fifo_fd: int = -1
    """An O_PATH fd on ``fifo``, opened by stage 1."""
    no_pivot: bool = False
    console_socket: str = ""
    console_fd: int = -1
    """An already connected console socket (the runtime's own terminal relay), instead of
    ``console_socket``."""
    seccomp: Program | None = None
    cgroup: CgroupHandle | None = None
    """The container's cgroup: stage 1 joins it itself (``CgroupHandle.join``) before it
    enters the namespaces; the runtime adds the rest (``add_rest``)."""


class Pipes(Record):
    """The fds the runtime hands to stage 1: its inbox, the init's inbox, the shared outbox,
    and the connected ``--console-socket`` (-1 without one): the runtime connects it, since
    the path may not exist inside the container."""

    stage_inbox: int
    init_inbox: int
    outbox: int
    console: int = -1
    helper: int = -1
    """The sealed exec helper (``exechelper.py``), -1 where there is none."""


def stage_one(job: Job, pipes: Pipes, sys: Syscalls) -> NoReturn:
    """Stage 1 in the forked child: never returns, exits 0 once the init is forked."""
    from dockyard.runtime.channel import Channel

    channel = Channel(pipes.stage_inbox, pipes.outbox)
    try:
        pipes = _first_steps(job, pipes, sys)
        channel = Channel(pipes.stage_inbox, pipes.outbox)
        channel.expect("go", "stage 1")
        from dockyard.runtime import namespaces

        if job.fifo:
            job = job.replace(fifo_fd=os.open(job.fifo, os.O_PATH | os.O_CLOEXEC))

        def map_ids() -> None:
            channel.send("usermap")
            channel.expect("mapped", "stage 1")

        namespaces.enter(job.plan, sys, map_ids)
        pid = os.fork()
        if pid == 0:
            os.close(pipes.stage_inbox)
            _child(job, Channel(pipes.init_inbox, pipes.outbox), pipes, sys)
        channel.send("pid", str(pid))
        channel.expect("ack", "stage 1")
    except BaseException as exc:  # report whatever happened; never return into the caller
        _report(channel, exc)
        os._exit(1)
    os._exit(0)


def cloned_init(job: Job, pipes: Pipes, sys: Syscalls, *, placed: bool) -> NoReturn:
    """The init cloned straight from the runtime (``spawn.py``), already in the namespaces
    that ``direct_flags`` gave the clone: stage 1's first steps, then the joins (and a new
    cgroup namespace, once in the v1 hierarchies too), then the init's work. ``placed``:
    the clone started in the cgroup2 directory; otherwise wait for the runtime's "go"."""
    from dockyard.runtime.channel import Channel

    channel = Channel(pipes.init_inbox, pipes.outbox)
    try:
        pipes = _first_steps(job, pipes, sys)
        channel = Channel(pipes.init_inbox, pipes.outbox)
        if not placed:
            channel.expect("go", "container init")
        from dockyard.runtime import namespaces

        if job.fifo:
            job = job.replace(fifo_fd=os.open(job.fifo, os.O_PATH | os.O_CLOEXEC))
        namespaces.enter(namespaces.Plan(joins=job.plan.joins,
                                         new=job.plan.new & ~namespaces.direct_flags(job.plan)),
                         sys)
    except BaseException as exc:
        _report(channel, exc)
        os._exit(1)
    _child(job, channel, pipes, sys)


def _first_steps(job: Job, pipes: Pipes, sys: Syscalls) -> Pipes:
    """What a child of the runtime does first: non-dumpable, its fds in place and the rest
    closed, the modules it needs loaded, into the cgroup's v1 hierarchies. The new pipes."""
    import gc

    gc.disable()  # short-lived: no collection, no copy-on-write of the whole heap
    sys.prctl(PR_SET_DUMPABLE, 0)
    pipes = _arrange_fds(job.fds, pipes)
    preload(job)
    if job.cgroup is not None:
        job.cgroup.join()
    return pipes


def _child(job: Job, channel: Channel, fds: Pipes, sys: Syscalls) -> NoReturn:
    try:
        if job.plan.has("user"):
            _become_namespace_root()
        if job.kind == "exec":
            _exec(job, channel, fds, sys)
        else:
            _init(job, channel, fds, sys)
    except BaseException as exc:
        if channel.outbox < 0:  # create has returned: the container's stderr is all there is
            _tell_stderr(exc)
        else:
            _report(channel, exc)
        os._exit(1)
    os._exit(127)  # _init and _exec end in execve


def _become_namespace_root() -> None:
    """Root of the user namespace, with no supplementary groups (runc's nsexec does this in
    its last stage): what the init creates before the user switch (devpts, mount points)
    needs a uid and gid the namespace maps."""
    try:
        os.setresgid(0, 0, 0)
        if proc.read_text("/proc/self/setgroups").strip() != "deny":
            os.setgroups([])
        os.setresuid(0, 0, 0)
    except OSError as exc:
        from dockyard.errors import SystemCallError

        raise SystemCallError("setresuid", exc.errno or 0,
                              "to root of the user namespace") from exc


def _tell_stderr(exc: BaseException) -> None:
    try:
        os.write(2, f"dockyard-runtime: container init: {exc}\n".encode(errors="replace"))
    except OSError:
        return


def _report(channel: Channel, exc: BaseException) -> None:
    try:
        channel.send_error(exc)
    except OSError:
        return  # the runtime is gone; nobody to tell


def _arrange_fds(fds: tuple[int, ...], pipes: Pipes) -> Pipes:
    """Put ``fds`` at 0, 1, 2, ... (inheritable), the pipes above them, close everything else."""
    import fcntl

    base = max(len(fds), *fds, 2) + 1
    moved = Pipes(**{name: fcntl.fcntl(getattr(pipes, name), fcntl.F_DUPFD_CLOEXEC, base)
                     if getattr(pipes, name) >= 0 else -1
                     for name in ("stage_inbox", "init_inbox", "outbox", "console", "helper")})
    if fds != tuple(range(len(fds))):
        temps = [fcntl.fcntl(fd, fcntl.F_DUPFD_CLOEXEC, base) for fd in fds]
        for target, temp in enumerate(temps):
            os.dup2(temp, target, inheritable=True)
        for temp in temps:
            os.close(temp)
    keep = {*range(len(fds)), moved.stage_inbox, moved.init_inbox, moved.outbox, moved.console,
            moved.helper}
    for name in os.listdir("/proc/self/fd"):
        fd = int(name)
        if fd not in keep:
            try:
                os.close(fd)
            except OSError:
                continue
    for fd in range(len(fds)):
        os.set_inheritable(fd, True)
    return moved


def _init(job: Job, channel: Channel, fds: Pipes, sys: Syscalls) -> None:
    from dockyard.runtime import confinement, namespaces
    from dockyard.runtime.rootfs import Rootfs

    spec, process = job.spec, job.process
    os.setsid()
    if job.plan.new & namespaces.FLAGS["network"]:
        namespaces.bring_up_loopback()
    rootfs = Rootfs(sys, spec, job.rootfs, job.bundle, no_pivot=job.no_pivot,
                    mount_namespace=job.plan.has("mount"), cgroupns=job.plan.has("cgroup"))
    rootfs.prepare(before_pivot=lambda: _before_pivot(job, channel, sys))
    proc.make_cwd(process.cwd)
    if process.terminal:
        confinement.attach_console(fds.console, process.console_size, sys, mount=True)
    rootfs.finalize()
    os.umask(process.user.umask if process.user.umask is not None else 0o022)
    if spec.hostname:
        sys.sethostname(spec.hostname)
    if spec.domainname:
        sys.setdomainname(spec.domainname)
    proc.apply_sysctl(spec.linux.sysctl)
    rootfs.protect()
    path, argv, env = _become_user(job, sys)
    _handshake(job, channel, sys)
    if job.fifo_fd >= 0:
        _wait_for_start(job.fifo_fd)
    if spec.hooks.start_container:
        _run_hooks(job, "startContainer", spec.hooks.start_container, "created", sys)
    _exec_process(channel, fds, path, argv, env)


def _exec_process(channel: Channel, fds: Pipes, path: str, argv: list[str],
                  env: dict[str, str]) -> NoReturn:
    """Close the channel (the runtime returns at its end of file), then execve through the
    sealed helper. Closed now, not by close-on-exec: the execve first tears down this
    copy of the runtime's address space, which the runtime need not wait for (as runc's init
    closes its pipe before exec). A failing execve is told on the container's stderr."""
    channel.close()
    exechelper.execve(fds.helper, path, argv, env)


def _before_pivot(job: Job, channel: Channel, sys: Syscalls) -> None:
    """runc's ``procHooks`` sync (the runtime runs prestart and createRuntime hooks while the
    mounts are in place), then createContainer hooks here, in the root's directory."""
    hooks = job.spec.hooks
    if hooks.prestart or hooks.create_runtime:
        channel.send("hooks")
        channel.expect("resume", "init")
    if hooks.create_container:
        _run_hooks(job, "createContainer", hooks.create_container, "creating", sys)


def _run_hooks(job: Job, kind: str, hooks: tuple[Hook, ...], status: str, sys: Syscalls) \
        -> None:
    """Hooks the init runs: its pid (1 in a new pid namespace), the process's environment."""
    from dockyard.runtime import hooks as runner

    state = runner.HookState(id=job.container_id, status=status, bundle=job.bundle,
                             pid=os.getpid(), annotations=job.spec.annotations)
    runner.run(kind, hooks, state, sys, proc.check_env(job.process.env))


def _exec(job: Job, channel: Channel, fds: Pipes, sys: Syscalls) -> None:
    from dockyard.runtime import confinement

    process = job.process
    os.setsid()
    if process.terminal:
        confinement.attach_console(fds.console, process.console_size, sys, mount=False)
    os.umask(process.user.umask if process.user.umask is not None else 0o022)
    path, argv, env = _become_user(job, sys)
    _handshake(job, channel, sys)
    _exec_process(channel, fds, path, argv, env)


def _become_user(job: Job, sys: Syscalls) -> tuple[str, list[str], dict[str, str]]:
    """rlimits, oom score, capabilities around the user switch, cwd, no_new_privs, lookup."""
    from dockyard.runtime import confinement

    process = job.process
    proc.apply_rlimits(process.rlimits)
    if job.kind == "init":
        proc.apply_oom_score_adj(process.oom_score_adj)
    if job.seccomp is not None and not process.no_new_privileges:
        confinement.load_seccomp(job.seccomp, sys)  # needs CAP_SYS_ADMIN: before the drop
    user = process.user
    exec_user = proc.lookup_user(user.uid, user.gid, user.additional_gids,
                                 proc.read_text("/etc/passwd"), proc.read_text("/etc/group"))
    try:
        proc.change_directory(process.cwd)
        moved = True
    except PermissionError:
        moved = False  # the container's user may be able to; try again after the switch
    caps = confinement.capabilities(process.capabilities, sys)
    caps.drop_bounding()
    caps.keep_across_setuid()
    proc.apply_user(exec_user)
    if not moved:
        proc.change_directory(process.cwd)
    caps.clear_keep()
    caps.apply()
    if process.no_new_privileges:
        proc.no_new_privileges(sys)
    return proc.prepare_exec(process, exec_user)


def _handshake(job: Job, channel: Channel, sys: Syscalls) -> None:
    """"ready", wait for "run", then the last steps before execve that need no runtime."""
    from dockyard.runtime import confinement

    channel.send("ready")
    channel.expect("run", "init")
    from dockyard.runtime import signals

    signals.reset()
    proc.close_fds(len(job.fds), sys)
    if job.seccomp is not None and job.process.no_new_privileges:
        confinement.load_seccomp(job.seccomp, sys)
    if job.fifo:
        channel.close()  # end of file tells the runtime that create is done


_FATAL_WHILE_CREATED = (1, 2, 3, 4, 5, 6, 15, 16, 31)
"""HUP, INT, QUIT, ILL, TRAP, ABRT, TERM, STKFLT, SYS: fatal to runc's Go init (exit 2)."""


def _wait_for_start(fifo: int) -> None:
    """Block until ``start`` opens the exec fifo, then tell it we go (runc's handshake).

    Meanwhile the init answers signals as runc's init (a Go program) does: the fatal ones
    end it with status 2, the others are caught and ignored. A pid namespace's init gets a
    signal from outside only if it has a handler, so without these ``kill`` of a created
    container would do nothing. execve(2) drops the handlers again."""
    from dockyard.runtime import signals

    def fatal(_number: int, _frame: object) -> None:
        os._exit(2)

    signals.handle(_FATAL_WHILE_CREATED, fatal)
    signals.handle((n for n in range(1, 32) if n not in (*_FATAL_WHILE_CREATED, 9, 19)),
                   lambda _number, _frame: None)
    fd = os.open(f"/proc/self/fd/{fifo}", os.O_WRONLY | os.O_CLOEXEC)
    try:
        os.write(fd, b"0")
    finally:
        os.close(fd)
    os.close(fifo)
