"""What the spawner's child does for one container (or exec): become the process's parent,
create it through the OCI runtime, then turn into its monitor.

::

    spawner ──fork──> child: setsid, PR_SET_CHILD_SUBREAPER, monitor socket, stdio pipes
                        |   (or a console socket for a tty), the network namespace
                        |── runtime run/exec ──> the container's process (reparented to us)
                        |── report {"pid": N} to the spawner
                        └── execve(dockyard-monitor -s ... -p N ...)   (keeps pid and children)

The child is single-threaded (forked from the single-threaded spawner), so it may change its
own namespaces and fork. Every failure is reported as ``{"error": {"kind", "message"}}`` and
the child exits; the runtime leaves nothing behind on failure.
"""

from __future__ import annotations

import contextlib
import json
import os
import select
import socket
import subprocess
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, NoReturn, Protocol

from dockyard.containers import netns
from dockyard.errors import DockyardError, Internal, InvalidArgument
from dockyard.sys import Syscalls

PR_SET_CHILD_SUBREAPER = 36
CONSOLE_TIMEOUT = 10.0


class Launcher(Protocol):
    """One OCI runtime, as the child uses it (the warm library or a runtime's command line)."""

    def run(self, container_id: str, bundle: str, stdio: tuple[int, int, int],
            console_socket: str) -> int: ...

    def exec(self, container_id: str, process: bytes, stdio: tuple[int, int, int],
             console_socket: str, work: str) -> int: ...

    def delete(self, container_id: str, force: bool) -> None: ...


@dataclass(frozen=True, slots=True)
class Plan:
    """A start or exec request as the spawner received it."""

    kind: str                     # "start" or "exec"
    container_id: str
    socket: str                   # where the monitor listens
    work: str                     # a directory for this process's files (console socket, ...)
    exit_file: str
    bundle: str = ""
    process: bytes = b""          # exec: the OCI process JSON
    tty: bool = False
    stdin: bool = False
    stdin_once: bool = False
    hold: bool = False
    log: Mapping[str, Any] | None = None
    netns: str = ""               # start: pin a new namespace here first
    oom_file: str = ""

    @classmethod
    def from_request(cls, request: Mapping[str, Any]) -> Plan:
        try:
            return cls(
                kind=str(request["op"]), container_id=str(request["id"]),
                socket=str(request["socket"]), work=str(request["work"]),
                exit_file=str(request["exit_file"]), bundle=str(request.get("bundle", "")),
                process=json.dumps(request.get("process") or {}).encode(),
                tty=bool(request.get("tty")), stdin=bool(request.get("stdin")),
                stdin_once=bool(request.get("stdin_once")), hold=bool(request.get("hold")),
                log=request.get("log"), netns=str(request.get("netns") or ""),
                oom_file=str(request.get("oom_file") or ""),
            )
        except (KeyError, TypeError) as exc:
            raise InvalidArgument(f"spawner: bad {request.get('op')} request: {exc}") from exc


def child_main(plan: Plan, launcher: Launcher, monitor: str, *, report: int, host_ns: int,
               sys: Syscalls) -> NoReturn:
    """Run in the forked child; never returns (exec of the monitor, or _exit)."""
    try:
        os.setsid()
        sys.prctl(PR_SET_CHILD_SUBREAPER, 1)
        argv = _prepare_and_launch(plan, launcher, host_ns=host_ns, sys=sys, report=report)
        os.execv(monitor, argv)
    except DockyardError as exc:
        _report(report, {"error": {"kind": type(exc).__name__, "message": str(exc)}})
    except OSError as exc:
        _report(report, {"error": {"kind": "SystemCallError",
                                   "message": f"{exc.strerror}: {exc.filename or monitor}"}})
    except BaseException as exc:
        _report(report, {"error": {"kind": "Internal", "message": repr(exc)}})
    os._exit(1)


def _report(fd: int, message: Mapping[str, Any]) -> None:
    with contextlib.suppress(OSError):
        os.write(fd, json.dumps(message).encode() + b"\n")


def _prepare_and_launch(plan: Plan, launcher: Launcher, *, host_ns: int, sys: Syscalls,
                        report: int) -> list[str]:
    work = os.open(plan.work, os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)
    listener = listen(plan.socket)
    try:
        return _launch(plan, launcher, host_ns=host_ns, sys=sys, report=report, work=work,
                       listener=listener)
    except BaseException:
        listener.close()  # nobody may connect to a monitor that will not be
        with contextlib.suppress(FileNotFoundError):
            os.unlink(plan.socket)
        raise


def _launch(plan: Plan, launcher: Launcher, *, host_ns: int, sys: Syscalls, report: int,
            work: int, listener: socket.socket) -> list[str]:
    # unix socket paths are short (108 bytes): name the directory through our fd table
    console_path = f"/proc/{os.getpid()}/fd/{work}/console.sock" if plan.tty else ""
    console = listen(console_path) if plan.tty else None
    ours, theirs = _stdio(plan)
    try:
        if plan.netns:
            netns.create(plan.netns, host_ns, sys)
        if plan.kind == "start":
            pid = launcher.run(plan.container_id, plan.bundle, theirs, console_path)
        else:
            pid = launcher.exec(plan.container_id, plan.process, theirs, console_path, plan.work)
    except BaseException:
        if plan.netns:
            netns.release(plan.netns, sys)
        raise
    finally:
        for fd in set(theirs):
            os.close(fd)
    if console is not None:
        ours = {"o": receive_master(console, console_path)}
    os.close(work)
    listening = listener.detach()  # the socket object must not close it when collected
    for fd in (listening, *ours.values()):
        os.set_inheritable(fd, True)
    _report(report, {"pid": pid})
    return monitor_argv(plan, pid, listening, ours)


def monitor_argv(plan: Plan, pid: int, listener: int, fds: Mapping[str, int]) -> list[str]:
    """The monitor's command line (see monitor.c)."""
    argv = ["dockyard-monitor", "-s", str(listener), "-p", str(pid), "-x", plan.exit_file]
    for flag, fd in fds.items():
        argv += [f"-{flag}", str(fd)]
    if plan.tty:
        argv.append("-t")
        if plan.stdin:
            argv.append("-I")
    if plan.stdin_once:
        argv.append("-O")
    if plan.hold:
        argv.append("-H")
    if plan.log:
        argv += ["-l", str(plan.log["path"]), "-S", str(int(plan.log.get("max_size", 0))),
                 "-N", str(int(plan.log.get("max_file", 1)))]
    if plan.oom_file:
        argv += ["-m", plan.oom_file]
    return argv


def _stdio(plan: Plan) -> tuple[dict[str, int], tuple[int, int, int]]:
    """Our ends (monitor flag -> fd) and the process's stdin, stdout, stderr."""
    if plan.tty:  # the runtime gives the process the pty; its stdio before that is /dev/null
        null = os.open("/dev/null", os.O_RDWR | os.O_CLOEXEC)
        return {}, (null, null, null)
    out_r, out_w = os.pipe2(os.O_CLOEXEC)
    err_r, err_w = os.pipe2(os.O_CLOEXEC)
    ours = {"o": out_r, "e": err_r}
    if plan.stdin:
        stdin, in_w = os.pipe2(os.O_CLOEXEC)
        ours["i"] = in_w
    else:
        stdin = os.open("/dev/null", os.O_RDONLY | os.O_CLOEXEC)
    return ours, (stdin, out_w, err_w)


def listen(path: str) -> socket.socket:
    """A listening unix socket at ``path``; a long path is bound through a directory fd."""
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    directory = -1
    try:
        if len(path.encode()) > 100:
            directory = os.open(os.path.dirname(path), os.O_PATH | os.O_CLOEXEC)
            path = f"/proc/self/fd/{directory}/{os.path.basename(path)}"
        with contextlib.suppress(FileNotFoundError):
            os.unlink(path)
        sock.bind(path)
        sock.listen(64)
    except OSError as exc:
        sock.close()
        raise Internal(f"cannot listen on {path}: {exc.strerror}") from exc
    finally:
        if directory >= 0:
            os.close(directory)
    return sock


def receive_master(console: socket.socket, path: str) -> int:
    """Accept the runtime's connection on the console socket and take the pty master."""
    ready, _, _ = select.select([console], [], [], CONSOLE_TIMEOUT)
    if not ready:
        raise Internal(f"no terminal arrived on {path}")
    conn, _ = console.accept()
    with conn:
        _, fds, _, _ = socket.recv_fds(conn, 4096, 1)
    console.close()
    with contextlib.suppress(FileNotFoundError):
        os.unlink(path)
    if len(fds) != 1:
        raise Internal(f"console socket {path}: expected one fd, got {len(fds)}")
    return fds[0]


class LibraryLauncher:
    """dockyard-runtime through its warm library (``runtime.library.Runtime``)."""

    def __init__(self, runtime: Any) -> None:
        self.runtime = runtime

    def prepare(self, bundle: str) -> None:
        """In the spawner, before the fork: compile the bundle's seccomp filter into the
        runtime's cache, so the children inherit it instead of each compiling it (~10 ms)."""
        from dockyard.runtime import confinement, spec

        config, _ = spec.load(bundle)
        cache = getattr(self.runtime, "_filters", None)
        if cache is not None and config.linux.seccomp not in cache:
            confinement.compile_seccomp(config.linux.seccomp, self.runtime.sys, cache)

    def run(self, container_id: str, bundle: str, stdio: tuple[int, int, int],
            console_socket: str) -> int:
        container = self.runtime.run(container_id, bundle, stdio=stdio,
                                     console_socket=console_socket)
        os.close(container.pidfd)
        return int(container.pid)

    def exec(self, container_id: str, process: bytes, stdio: tuple[int, int, int],
             console_socket: str, work: str) -> int:
        from dockyard.runtime.spec import parse_process

        parsed = parse_process(process, "process.json")
        container = self.runtime.exec(container_id, parsed, stdio=stdio,
                                      console_socket=console_socket)
        os.close(container.pidfd)
        return int(container.pid)

    def delete(self, container_id: str, force: bool) -> None:
        self.runtime.delete(container_id, force=force)


class CommandLauncher:
    """runc or crun through their command line (``run -d``, ``exec -d``, ``delete``)."""

    def __init__(self, binary: str, root: str, extra: Sequence[str] = ()) -> None:
        self.binary = binary
        self.root = root
        self.extra = list(extra)

    def _base(self) -> list[str]:
        return [self.binary, "--root", self.root, *self.extra]

    def run(self, container_id: str, bundle: str, stdio: tuple[int, int, int],
            console_socket: str) -> int:
        pid_file = os.path.join(bundle, "init.pid")
        args = ["run", "-d", "--pid-file", pid_file, "-b", bundle]
        if console_socket:
            args += ["--console-socket", console_socket]
        self._call([*args, container_id], stdio, bundle)
        return _read_pid(pid_file)

    def exec(self, container_id: str, process: bytes, stdio: tuple[int, int, int],
             console_socket: str, work: str) -> int:
        spec = os.path.join(work, "process.json")
        pid_file = os.path.join(work, "exec.pid")
        with open(spec, "wb") as out:
            out.write(process)
        args = ["exec", "-d", "--pid-file", pid_file, "-p", spec]
        if console_socket:
            args += ["--console-socket", console_socket]
        self._call([*args, container_id], stdio, work)
        return _read_pid(pid_file)

    def delete(self, container_id: str, force: bool) -> None:
        args = [*self._base(), "delete", *(["--force"] if force else []), container_id]
        result = subprocess.run(args, capture_output=True, check=False)
        if result.returncode != 0 and b"does not exist" not in result.stderr:
            raise Internal(f"{os.path.basename(self.binary)} delete {container_id}: "
                           f"{_last_line(result.stderr)}")

    def _call(self, args: list[str], stdio: tuple[int, int, int], work: str) -> None:
        """Run the runtime with the process's stdio (a detached runtime hands its own stdio
        to the process); its errors go to a json log in ``work``."""
        log_file = os.path.join(work, "runtime.log")
        command = [*self._base(), "--log", log_file, "--log-format", "json", *args]
        result = subprocess.run(command, stdin=stdio[0], stdout=stdio[1], stderr=stdio[2],
                                check=False)
        if result.returncode != 0:
            try:
                with open(log_file, "rb") as errors:
                    text = errors.read()
            except FileNotFoundError:
                text = b""
            raise InvalidArgument(_runtime_message(text))


def _runtime_message(text: bytes) -> str:
    """The error of runc's or crun's log: its last error-level line (json or text)."""
    lines = [line for line in text.decode(errors="replace").splitlines() if line.strip()]
    for line in reversed(lines):
        with contextlib.suppress(ValueError, AttributeError, KeyError, TypeError):
            entry = json.loads(line)
            if entry.get("level") in ("error", "fatal"):
                return str(entry["msg"])
    return lines[-1] if lines else "the runtime failed"


def _last_line(text: bytes) -> str:
    lines = [line for line in text.decode(errors="replace").splitlines() if line.strip()]
    return lines[-1] if lines else "failed"


def _read_pid(path: str) -> int:
    with open(path) as handle:
        return int(handle.read().strip())
