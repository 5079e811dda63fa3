"""``exec``: a new process in a running (or created) container.

The process is ``--process FILE`` (a process.json), or the bundle's config.json process with
the command line's args and overrides (``--cwd``, ``--env``, ``--user``, ``--additional-gids``,
``--cap``, ``--tty``, ``--no-new-privs``), as runc builds it. Stage 1 joins every namespace of
the container's init (``/proc/<pid>/ns/*``) after the runtime has put it in the container's
cgroup, then forks the process, which changes user, capabilities and directory, loads the
container's seccomp filter and calls execve.
"""

from __future__ import annotations

import os

from dockyard.errors import Conflict, InvalidArgument
from dockyard.runtime.record import Record
from dockyard.runtime.state import PAUSED, STOPPED

TYPE_CHECKING = False
if TYPE_CHECKING:
    from dockyard.runtime.seccomp import Program
    from dockyard.runtime.spawn import Spawned
    from dockyard.runtime.spec import Process, Seccomp, Spec
    from dockyard.runtime.state import Saved, StateRoot
    from dockyard.sys import Syscalls


class ExecOptions(Record):
    """How to run the process (flags of ``exec`` other than the process's own)."""

    fds: tuple[int, ...] = (0, 1, 2)
    console_socket: str = ""
    pid_file: str = ""
    detach: bool = False
    helper_fd: int | None = None
    console_fd: int = -1
    seccomp_cache: dict[Seccomp, Program | None] | None = None
    ignore_paused: bool = False


class Overrides(Record):
    """The argv form's changes to the bundle's process."""

    args: tuple[str, ...]
    cwd: str = ""
    env: tuple[str, ...] = ()
    user: str = ""
    additional_gids: tuple[int, ...] = ()
    caps: tuple[str, ...] = ()
    tty: bool = False
    no_new_privs: bool | None = None


def process_from(base: Process, overrides: Overrides) -> Process:
    """runc's ``getProcess`` for the argv form."""
    from dockyard.runtime.spec import Capabilities

    if not overrides.args:
        raise InvalidArgument("process args cannot be empty")
    user = base.user
    if overrides.user:
        uid_text, _, gid_text = overrides.user.partition(":")
        try:
            uid = int(uid_text)
            gid = int(gid_text) if gid_text else user.gid
        except ValueError as exc:
            raise InvalidArgument(f"--user {overrides.user!r}: want <uid>[:<gid>]") from exc
        user = user.replace(uid=uid, gid=gid)
    if overrides.additional_gids:
        user = user.replace(additional_gids=user.additional_gids + overrides.additional_gids)
    caps = base.capabilities
    if overrides.caps:
        caps = caps or Capabilities()
        more = overrides.caps
        caps = caps.replace(bounding=caps.bounding + more, effective=caps.effective + more,
                            permitted=caps.permitted + more, ambient=caps.ambient + more)
    return base.replace(
        args=overrides.args, cwd=overrides.cwd or base.cwd, env=base.env + overrides.env,
        user=user, capabilities=caps, terminal=overrides.tty,
        no_new_privileges=base.no_new_privileges if overrides.no_new_privs is None
        else overrides.no_new_privs,
    )


def load_process(path: str) -> Process:
    from dockyard.runtime.spec import parse_process

    try:
        with open(path, "rb") as file:
            data = file.read()
    except OSError as exc:
        raise InvalidArgument(f"--process {path}: {exc.strerror}") from exc
    return parse_process(data, path)


def container(root: StateRoot, container_id: str, *, ignore_paused: bool = True) \
        -> tuple[Saved, Spec]:
    """The container's record and spec, if it may be exec'd into."""
    from dockyard.runtime.spec import parse

    directory = root.open(container_id)
    saved = directory.read()
    status = directory.status(saved)
    if saved is None or status == STOPPED:
        raise Conflict("cannot exec in a stopped container")
    if status == PAUSED and not ignore_paused:
        raise Conflict("cannot exec in a paused container (use --ignore-paused to override)")
    return saved, parse(directory.read_config())


def execute(root: StateRoot, container_id: str, process: Process, options: ExecOptions,
            sys: Syscalls) -> int:
    """Start ``process`` in the container; its exit status, or its pid with ``detach``."""
    from dockyard.runtime import foreground

    if options.detach:
        spawned = spawn_process(root, container_id, process, options, sys)
        os.close(spawned.pidfd)
        return spawned.pid
    relay = process.terminal and not options.console_socket
    ours, theirs = foreground.console_pair() if relay else (-1, -1)
    if relay:
        process = foreground.with_terminal_size(process)
    mask = foreground.prepare(sys)
    try:
        spawned = spawn_process(root, container_id, process,
                                options.replace(console_fd=theirs), sys)
    except BaseException:
        foreground.restore(mask)
        for fd in (ours, theirs):
            if fd >= 0:
                os.close(fd)
        raise
    if relay:
        os.close(theirs)
        try:
            return foreground.relay(spawned.pid, spawned.pidfd, ours, mask)
        finally:
            os.close(spawned.pidfd)
    os.close(spawned.pidfd)
    return foreground.wait(spawned.pid, mask)


def spawn_process(root: StateRoot, container_id: str, process: Process, options: ExecOptions,
                  sys: Syscalls) -> Spawned:
    """Start ``process`` in the container and return it (with a pidfd the caller closes)."""
    from dockyard.runtime import confinement, namespaces, validate
    from dockyard.runtime.init import Job
    from dockyard.runtime.ops.create import write_pid_file
    from dockyard.runtime.spawn import spawn

    saved, spec = container(root, container_id, ignore_paused=options.ignore_paused)
    validate.terminal(process, options.console_socket, options.detach)
    job = Job(kind="exec", container_id=saved.id, spec=spec, process=process,
              bundle=saved.bundle, rootfs=saved.rootfs,
              plan=namespaces.exec_plan(spec.linux.namespaces, saved.pid), fds=options.fds,
              console_socket=options.console_socket, console_fd=options.console_fd,
              seccomp=confinement.compile_seccomp(spec.linux.seccomp, sys,
                                                  options.seccomp_cache))

    if saved.cgroup_paths:  # stage 1 starts in it (spawn.py)
        job = job.replace(cgroup=confinement.open_cgroup(saved.cgroup_paths))

    def placed(pid: int) -> None:
        return

    def ready(spawned: Spawned) -> None:
        if options.pid_file:
            write_pid_file(options.pid_file, spawned.pid)

    return spawn(job, sys, placed=placed, ready=ready, helper_fd=options.helper_fd)
