"""The warm spawner: a single-threaded process the daemon starts once, that forks containers.

The daemon is threaded (asyncio plus worker threads) and must not fork. It starts this process
once (``python -m dockyard.containers.spawner --fd N ...``), which imports the runtime and
compiles what it can (:meth:`Runtime.warm_up`), then serves requests on the socket inherited
as fd N, one JSON object per line each way::

    daemon -> {"op": "start", "id", "bundle", "runtime", "socket", "work", "exit_file",
               "tty", "stdin", "stdin_once", "hold", "log", "netns", "oom_file",
               "seccomp_key"}
    daemon <- {"pid": 4242}  or  {"error": {"kind": "InvalidArgument", "message": "..."}}
    daemon -> {"op": "exec", "id", "runtime", "process": {OCI process}, "socket", "work",
               "exit_file", "tty", "stdin", "stdin_once", "hold"}
    daemon -> {"op": "delete", "id", "runtime", "force"}           <- {}
    daemon -> {"op": "ping"}                                        <- {"pid": <spawner pid>}

Every request may carry a ``seq``, which its answer repeats: answers come in the order the
work ends, not the order of the requests (starts run side by side).

For start and exec it forks a child that becomes the process's parent and then its monitor
(:mod:`dockyard.containers.launch`). The child is forked ahead of time: when the spawner has
been idle for a moment it forks a *spare*, which waits for its request on a pipe, so a start
does not wait for fork(2) and the child's first page faults. A spare is forked from the
spawner's state at that moment: a request whose seccomp profile the spawner compiles first
(the spare lacks it) gets a fresh fork, and the spare is replaced.

The monitors are this process's children: it reaps them when they exit. When the daemon goes
away (EOF on the socket) the spawner exits (so does an unused spare, at EOF on its pipe); the
monitors live on (they are in sessions of their own) and the next daemon finds them by their
sockets.
"""

from __future__ import annotations

import argparse
import contextlib
import errno
import json
import logging
import os
import select
import signal
import socket
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, NoReturn

from dockyard.containers.launch import (
    CommandLauncher,
    Launcher,
    LibraryLauncher,
    Plan,
    child_main,
)
from dockyard.errors import DockyardError, InvalidArgument, SystemCallError

if TYPE_CHECKING:
    from dockyard.sys import Syscalls

log = logging.getLogger(__name__)

RUNTIME_ROOTS = {"dockyard": "runtime", "runc": "runc", "crun": "crun"}
SPARE_AFTER_IDLE = 0.002  # seconds without work before the next child is forked


class Spawner:
    """Answers requests; one at a time (the process is single-threaded by contract)."""

    def __init__(self, exec_root: str, monitor: str, binaries: Mapping[str, str]) -> None:
        from dockyard.runtime.library import Runtime
        from dockyard.sys import real

        self.sys = real()
        self.monitor = monitor
        self.runtime = Runtime(os.path.join(exec_root, RUNTIME_ROOTS["dockyard"]), sys=self.sys)
        self.runtime.warm_up()
        from dockyard.runtime import namespaces  # noqa: F401  (not among warm_up's imports)
        self.launchers: dict[str, Launcher] = {"dockyard": LibraryLauncher(self.runtime)}
        for name, binary in binaries.items():
            root = os.path.join(exec_root, RUNTIME_ROOTS.get(name, name))
            self.launchers[name] = CommandLauncher(binary, root)
        self.host_ns = os.open("/proc/self/ns/net", os.O_RDONLY | os.O_CLOEXEC)
        self.prepared: set[str] = set()  # seccomp profiles compiled already (by their key)
        self.spare: Spare | None = None
        self.inherited: tuple[int, ...] = ()  # the spawner's own fds, closed in a spare

    def handle(self, request: Mapping[str, Any]) -> dict[str, Any] | Child:
        """The answer to a request, or for start and exec the child whose report will be."""
        op = request.get("op")
        try:
            if op in ("start", "exec"):
                launcher = self._launcher(request)
                plan = Plan.from_request(request)
                key = str(request.get("seccomp_key") or "")
                if op == "start" and isinstance(launcher, LibraryLauncher) and \
                        (not key or key not in self.prepared):
                    launcher.prepare(str(request["bundle"]))
                    self.prepared.add(key)
                    self.drop_spare()  # forked without this filter
                if self.spare is not None:
                    return self.spare.hand(request, self)
                return self.spawn(plan, launcher)
            if op == "delete":
                self._launcher(request).delete(str(request["id"]), bool(request.get("force")))
                return {}
            if op == "ping":
                return {"pid": os.getpid()}
            raise InvalidArgument(f"spawner: unknown request {op!r}")
        except DockyardError as exc:
            return {"error": {"kind": type(exc).__name__, "message": str(exc)}}
        except (KeyError, TypeError, ValueError) as exc:
            return {"error": {"kind": "InvalidArgument", "message": f"spawner: {op}: {exc}"}}

    def _launcher(self, request: Mapping[str, Any]) -> Launcher:
        name = str(request.get("runtime") or "dockyard")
        launcher = self.launchers.get(name)
        if launcher is None:
            raise InvalidArgument(f"unknown or invalid runtime name: {name}")
        return launcher

    def fork_spare(self) -> None:
        """Fork the child of the next start or exec now, while nothing else is under way."""
        if self.spare is None:
            self.spare = Spare.fork(self)

    def drop_spare(self) -> None:
        if self.spare is not None:
            self.spare.close()
            self.spare = None

    def spawn(self, plan: Plan, launcher: Launcher) -> Child:
        """Fork the child that becomes the process's parent and monitor. Its report comes
        on a pipe; meanwhile the spawner serves other requests (other starts run at once)."""
        report_r, report_w = os.pipe2(os.O_CLOEXEC)
        pid = os.fork()
        if pid == 0:  # the child: never returns
            os.close(report_r)
            self.forked()
            self.become(plan, launcher, report_w)
        os.close(report_w)
        return Child(pid, report_r)

    @staticmethod
    def forked() -> None:
        """In a forked child: the spawner's signal handling is not the child's."""
        signal.set_wakeup_fd(-1)
        signal.signal(signal.SIGCHLD, signal.SIG_DFL)

    def become(self, plan: Plan, launcher: Launcher, report: int) -> NoReturn:
        """In a forked child: carry out ``plan`` and become the process's monitor."""
        child_main(plan, launcher, self.monitor, report=report, host_ns=self.host_ns,
                   sys=self.sys)


@dataclass
class Spare:
    """A forked child waiting for its request: ``plans`` is the write end of its pipe."""

    pid: int
    plans: int
    report: int

    @classmethod
    def fork(cls, spawner: Spawner) -> Spare:
        plan_r, plan_w = os.pipe2(os.O_CLOEXEC)
        report_r, report_w = os.pipe2(os.O_CLOEXEC)
        pid = os.fork()
        if pid == 0:  # never returns
            try:
                os.close(plan_w)
                os.close(report_r)
                for fd in spawner.inherited:  # the daemon must see EOF when the spawner dies
                    os.close(fd)
                spawner.forked()
                prefault(spawner.sys, plan_r)
                request = _read_request(plan_r)
                os.close(plan_r)
            except BaseException:
                os._exit(1)
            if not request:  # the spawner is gone, or dropped this spare
                os._exit(0)
            spawner.become(Plan.from_request(request), spawner._launcher(request), report_w)
        os.close(plan_r)
        os.close(report_w)
        return cls(pid, plan_w, report_r)

    def hand(self, request: Mapping[str, Any], spawner: Spawner) -> Child:
        """Give the spare its request; it is then an ordinary child under way."""
        spawner.spare = None
        with contextlib.suppress(OSError):  # if it died, its report pipe reads EOF
            os.write(self.plans, json.dumps(request).encode() + b"\n")
        os.close(self.plans)
        return Child(self.pid, self.report)

    def close(self) -> None:
        """End an unused spare: EOF on its pipe makes it exit; reap() collects it."""
        os.close(self.plans)
        os.close(self.report)


def prefault(syscalls: Syscalls, plans: int, maps: str = "/proc/self/maps") -> None:
    """Copy now, while no request waits, the pages the spare shares with the spawner: each
    first write to one would otherwise copy it during a start (about 900 of them, some 2 ms,
    measured with getrusage). Writable private mappings one by one (MADV_POPULATE_WRITE),
    stopping as soon as a request has come; a kernel without the call costs nothing."""
    with open(maps) as table:
        lines = table.read().splitlines()
    for line in lines:
        fields = line.split()
        if fields[1] != "rw-p" or (len(fields) > 5 and fields[5].startswith("[")
                                   and fields[5] != "[heap]"):
            continue  # the stack, vvar and the like
        if select.select([plans], [], [], 0)[0]:
            return
        start, end = (int(x, 16) for x in fields[0].split("-"))
        try:
            syscalls.populate_write(start, end - start)
        except SystemCallError as exc:
            if exc.errno in (errno.EINVAL, errno.ENOSYS):  # before Linux 5.14
                return
            log.debug("prefault %s: %s", fields[0], exc)


def _read_request(fd: int) -> dict[str, Any]:
    data = b""
    while b"\n" not in data:
        chunk = os.read(fd, 65536)
        if not chunk:
            return {}
        data += chunk
    return _decode(data.split(b"\n", 1)[0])


@dataclass
class Child:
    """A start or exec under way: the child's pid and the read end of its report pipe."""

    pid: int
    report: int
    seq: object = None
    data: bytes = b""

    def read(self) -> dict[str, Any] | None:
        """Take what the pipe has; the report once it is whole (or the child is gone)."""
        chunk = os.read(self.report, 65536)
        self.data += chunk
        if chunk and b"\n" not in self.data:
            return None
        os.close(self.report)
        try:
            message = json.loads(self.data.split(b"\n", 1)[0]) if self.data else None
        except ValueError:
            message = None
        if not isinstance(message, dict):
            message = {"error": {"kind": "Internal",
                                 "message": f"the spawner's child {self.pid} died before "
                                            "reporting"}}
        if "error" in message:  # the child exits right after: reap it, nothing is left
            with contextlib.suppress(ChildProcessError):
                os.waitpid(self.pid, 0)
        return message


def reap() -> None:
    """Collect exited monitors (and failed children)."""
    while True:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return


def serve(sock: socket.socket, spawner: Spawner) -> None:
    """Requests in, answers out (each tagged with the request's ``seq``); the reports of the
    children under way are read as they come."""
    wake_r, wake_w = os.pipe2(os.O_CLOEXEC | os.O_NONBLOCK)
    signal.set_wakeup_fd(wake_w)
    signal.signal(signal.SIGCHLD, lambda signum, frame: None)
    spawner.inherited = (sock.fileno(), wake_r, wake_w)
    buffered = b""
    children: dict[int, Child] = {}

    def answer(seq: object, reply: Mapping[str, Any]) -> None:
        sock.sendall(json.dumps({**reply, "seq": seq}).encode() + b"\n")

    while True:
        while b"\n" in buffered:
            line, buffered = buffered.split(b"\n", 1)
            request = _decode(line)
            result = spawner.handle(request)
            if isinstance(result, Child):
                result.seq = request.get("seq")
                children[result.report] = result
            else:
                answer(request.get("seq"), result)
        idle = SPARE_AFTER_IDLE if spawner.spare is None and not children else None
        ready, _, _ = select.select([sock.fileno(), wake_r, *children], [], [], idle)
        if not ready:
            spawner.fork_spare()
            continue
        for fd in ready:
            child = children.get(fd)
            if child is not None and (report := child.read()) is not None:
                del children[fd]
                answer(child.seq, report)
        if wake_r in ready:
            with contextlib.suppress(BlockingIOError):
                os.read(wake_r, 4096)
            reap()
        if sock.fileno() in ready:
            data = sock.recv(65536)
            if not data:
                return
            buffered += data


def _decode(line: bytes) -> dict[str, Any]:
    try:
        value = json.loads(line)
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m dockyard.containers.spawner")
    parser.add_argument("--fd", type=int, required=True, help="the daemon's socket")
    parser.add_argument("--exec-root", required=True)
    parser.add_argument("--monitor", required=True, help="the dockyard-monitor binary")
    parser.add_argument("--runtime", action="append", default=[], metavar="NAME=PATH",
                        help="an OCI runtime's command line (runc, crun)")
    parser.add_argument("--debug", action="store_true")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.debug else logging.WARNING,
                        format="spawner: %(levelname)s %(name)s: %(message)s")
    os.set_inheritable(args.fd, False)
    binaries = dict(item.split("=", 1) for item in args.runtime)
    sock = socket.socket(fileno=args.fd)
    spawner = Spawner(args.exec_root, args.monitor, binaries)
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # a terminal's ^C is the daemon's to handle
    with contextlib.suppress(BrokenPipeError, ConnectionResetError):
        serve(sock, spawner)
    return 0


if __name__ == "__main__":
    sys.exit(main())
