"""The spec's hooks (runtime-spec config.md, "POSIX-platform Hooks"): programs run at set points
of a container's life, each given the container's state as JSON on stdin.

================  =====================  ================================  =========  ======
hook              run by                 where (namespaces, cwd)           status     pid
================  =====================  ================================  =========  ======
prestart          the runtime            runtime's; the caller's cwd       creating   init's
createRuntime     the runtime            runtime's; the caller's cwd       creating   init's
createContainer   the container's init   container's, before pivot_root;   creating   1 (own
                                         cwd the rootfs (host path)                   pid ns)
startContainer    the container's init   container's, after ``start``, as  created    1
                                         the process user; the process cwd
poststart         the runtime            runtime's (``start``, ``run``)    running    init's
poststop          the runtime            runtime's (``delete``)            stopped    (none)
================  =====================  ================================  =========  ======

The first two run while the init waits between its mounts and pivot_root (runc's
``procHooks`` sync, ``channel.py``). As in runc (Go's ``exec.Cmd``), a hook without ``env``
inherits the environment of whoever runs it: the runtime's, or for the two the init runs,
the container process's; without ``args`` its argv is its path; nothing but stdio reaches it.
A hook that cannot be executed, exits non-zero, is killed or outlives its ``timeout`` (it is
then killed) fails the step with runc's message (``error running hook: exit status 1, stdout:
..., stderr: ...``). Unlike runc 1.1 (which runs poststart hooks at the end of ``create``),
poststart hooks run once the process has started, as the spec says (and runc from 1.5 on).
"""

from __future__ import annotations

import os

from dockyard.errors import SystemCallError, Unavailable
from dockyard.runtime.record import Record
from dockyard.runtime.spec import EMPTY

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Mapping

    from dockyard.runtime.spec import Hook
    from dockyard.sys import Syscalls

OCI_VERSION = "1.0.2-dev"
_SIGNAL_WORDS = {1: "hangup", 2: "interrupt", 3: "quit", 4: "illegal instruction",
                 5: "trace/breakpoint trap", 6: "aborted", 7: "bus error",
                 8: "floating point exception", 9: "killed", 10: "user defined signal 1",
                 11: "segmentation fault", 12: "user defined signal 2", 13: "broken pipe",
                 14: "alarm clock", 15: "terminated"}
"""Go's names of signals in ``signal: killed`` (syscall.Signal.String)."""


class HookState(Record):
    """The state a hook reads on stdin (the spec's state object, as runc marshals it)."""

    id: str
    status: str
    bundle: str
    pid: int = 0
    annotations: Mapping[str, str] = EMPTY

    def to_json(self) -> str:
        """Go's ``json.Marshal(specs.State)``: ``pid`` and ``annotations`` omitted when empty."""
        from dockyard.runtime.jsontext import dumps

        value: dict[str, object] = {"ociVersion": OCI_VERSION, "id": self.id,
                                    "status": self.status}
        if self.pid:
            value["pid"] = self.pid
        value["bundle"] = self.bundle
        if self.annotations:
            value["annotations"] = {k: self.annotations[k] for k in sorted(self.annotations)}
        return dumps(value)


def run(kind: str, hooks: tuple[Hook, ...], state: HookState, sys: Syscalls,
        env: Mapping[str, str] | None = None) -> None:
    """Run ``hooks`` (the spec's ``kind`` list) in order; the first failure raises.

    ``env`` is what a hook without its own ``env`` gets (default: this process's)."""
    if not hooks:
        return
    data = state.to_json().encode()
    inherited = dict(os.environ if env is None else env)
    for index, hook in enumerate(hooks):
        try:
            run_one(hook, data, sys, inherited)
        except (Unavailable, SystemCallError) as exc:
            raise Unavailable(f"error running {kind} hook #{index}: {exc}") from exc


def run_one(hook: Hook, data: bytes, sys: Syscalls, inherited: Mapping[str, str]) -> None:
    """Fork and exec one hook with ``data`` on its stdin; wait for it (or its timeout)."""
    env = inherited if hook.env is None else _environ(hook.env)
    argv = list(hook.args) or [hook.path]
    ends: list[int] = []
    try:
        for _ in range(4):
            ends += os.pipe2(os.O_CLOEXEC)
        stdin_r, stdin_w, out_r, out_w, err_r, err_w, report_r, report_w = ends
        pid = os.fork()
        if pid == 0:  # pragma: no cover - the child execs or exits
            _child(hook.path, argv, env, (stdin_r, out_w, err_w, report_w), sys)
        for fd in (stdin_r, out_w, err_w, report_w, stdin_w):
            if fd != stdin_w:
                os.close(fd)
            ends.remove(fd)  # _supervise closes stdin_w once it has written the state
        status, out, err = _supervise(pid, data, stdin_w, (out_r, err_r), hook.timeout)
        failure = os.read(report_r, 64)
    finally:
        for fd in ends:
            os.close(fd)
    if failure:
        number = int(failure)
        raise SystemCallError("fork/exec", number, hook.path)
    if status != 0:
        raise Unavailable(f"error running hook: {_describe(status)}, "
                          f"stdout: {out.decode(errors='replace')}, "
                          f"stderr: {err.decode(errors='replace')}")


def _environ(pairs: tuple[str, ...]) -> dict[str, str]:
    env: dict[str, str] = {}
    for pair in pairs:
        name, _, value = pair.partition("=")
        env[name] = value
    return env


def _child(path: str, argv: list[str], env: Mapping[str, str], fds: tuple[int, int, int, int],
           sys: Syscalls) -> None:
    """stdin, stdout, stderr from the pipes, fd 3 reports a failed execve, nothing else."""
    try:
        stdin, stdout, stderr, report = (os.dup(fd) for fd in fds)  # above 2, whatever they were
        for target, fd in enumerate((stdin, stdout, stderr)):
            os.dup2(fd, target)
        os.dup2(report, 3, inheritable=False)
        sys.close_range(4)
        from dockyard.runtime import signals

        signals.reset()
        os.execve(path, argv, dict(env))
    except BaseException as exc:  # whatever it was, the child must not return
        number = exc.errno if isinstance(exc, OSError) and exc.errno else 5  # EIO
        os.write(3, str(number).encode())
    os._exit(127)


def _supervise(pid: int, data: bytes, stdin: int, outputs: tuple[int, int],
               timeout: int | None) -> tuple[int, bytes, bytes]:
    """Feed stdin (then close it), collect stdout and stderr until the hook exits; SIGKILL it
    at the timeout. Returns its wait status and output."""
    import select
    import time

    pidfd = os.pidfd_open(pid)
    deadline = None if timeout is None else time.monotonic() + timeout
    out, err = outputs
    collected = {out: bytearray(), err: bytearray()}
    readers = [out, err]
    for fd in (stdin, out, err):
        os.set_blocking(fd, False)
    try:
        while True:
            if not data and stdin >= 0:
                os.close(stdin)  # end of file: the hook has the whole state
                stdin = -1
            left = None if deadline is None else max(0.0, deadline - time.monotonic())
            writers = [stdin] if stdin >= 0 else []
            ready, writable, _ = select.select([pidfd, *readers], writers, [], left)
            if not ready and not writable:
                _kill(pid, pidfd)
                raise Unavailable(f"hook ran past specified timeout of {timeout:.1f}s")
            if writable:
                data = _feed(stdin, data)
            for fd in readers[:]:
                if fd in ready and not _drain(fd, collected[fd]):
                    readers.remove(fd)
            if pidfd in ready:
                break
        for fd in readers:  # what it wrote before exiting (a daemonised child may hold on)
            _drain(fd, collected[fd])
        _, status = os.waitpid(pid, 0)
    finally:
        os.close(pidfd)
        if stdin >= 0:
            os.close(stdin)
    return status, bytes(collected[out]), bytes(collected[err])


def _feed(fd: int, data: bytes) -> bytes:
    try:
        return data[os.write(fd, data):]
    except BlockingIOError:
        return data
    except BrokenPipeError:  # the hook does not read its stdin: as Go, that is no error
        return b""


def _drain(fd: int, into: bytearray) -> bool:
    """Read what is there; False at end of file."""
    while True:
        try:
            chunk = os.read(fd, 65536)
        except BlockingIOError:
            return True
        if not chunk:
            return False
        into += chunk
        if len(chunk) < 65536:
            return True


def _kill(pid: int, pidfd: int) -> None:
    from dockyard.runtime import signals

    try:
        signals.pidfd_send_signal(pidfd, signals.SIGKILL)
    except ProcessLookupError:  # it has just exited
        os.waitpid(pid, 0)
        return
    os.waitpid(pid, 0)


def _describe(status: int) -> str:
    """Go's ``ProcessState.String()``: "exit status 1", "signal: killed"."""
    if os.WIFEXITED(status):
        return f"exit status {os.WEXITSTATUS(status)}"
    number = os.WTERMSIG(status)
    word = _SIGNAL_WORDS.get(number, f"signal {number}")
    return f"signal: {word}" + (" (core dumped)" if os.WCOREDUMP(status) else "")
