"""Which namespaces a container's first process creates or joins, and entering them.

The spec lists namespaces by type; an entry with a ``path`` joins that namespace (setns(2)),
one without creates a new one (unshare(2)). The process that enters them is a fork of the
runtime (``init.py``'s first stage), never the runtime itself, so a warm spawner keeps its own
namespaces. Joining follows runc's order (user, ipc, uts, net, pid, mount, cgroup) with every
path opened first: joining the mount namespace changes what later paths resolve to. A new or
joined pid namespace applies to children only, so the first stage forks the init after
:func:`enter` (pid 1 of a new namespace).

``exec`` joins the namespaces of the container's init through ``/proc/<pid>/ns/<name>``.
"""

from __future__ import annotations

import os

from dockyard.errors import InvalidArgument, SystemCallError, Unsupported
from dockyard.runtime.record import Record
from dockyard.sys.flags import (
    CLONE_NEWCGROUP,
    CLONE_NEWIPC,
    CLONE_NEWNET,
    CLONE_NEWNS,
    CLONE_NEWPID,
    CLONE_NEWUSER,
    CLONE_NEWUTS,
)

TYPE_CHECKING = False
if TYPE_CHECKING:
    from dockyard.runtime.spec import Namespace
    from dockyard.sys import Syscalls

FLAGS = {
    "user": CLONE_NEWUSER, "ipc": CLONE_NEWIPC, "uts": CLONE_NEWUTS, "network": CLONE_NEWNET,
    "pid": CLONE_NEWPID, "mount": CLONE_NEWNS, "cgroup": CLONE_NEWCGROUP,
}  # fmt: skip
"""clone(2) flag per spec type, in runc's join order."""

PROC_NAMES = {"user": "user", "ipc": "ipc", "uts": "uts", "network": "net", "pid": "pid",
              "mount": "mnt", "cgroup": "cgroup", "time": "time"}
"""The file name under /proc/<pid>/ns/ per spec type."""


class Plan(Record):
    """What the first stage does: setns into ``joins`` in order, then unshare ``new``."""

    joins: tuple[tuple[str, str], ...] = ()
    """(type, path) pairs in join order."""
    new: int = 0
    """The CLONE_NEW* flags to unshare."""

    def has(self, kind: str) -> bool:
        """Whether the container gets a namespace of ``kind`` other than the runtime's."""
        return bool(self.new & FLAGS[kind]) or any(k == kind for k, _ in self.joins)


def plan(namespaces: tuple[Namespace, ...]) -> Plan:
    """The plan for a new container's namespaces."""
    by_type = {namespace.type: namespace for namespace in namespaces}
    if "user" in by_type:
        raise Unsupported("linux.namespaces: user namespaces are not supported yet")
    if "time" in by_type:
        raise Unsupported("linux.namespaces: time namespaces are not supported yet")
    joins: list[tuple[str, str]] = []
    new = 0
    for kind, flag in FLAGS.items():
        namespace = by_type.get(kind)
        if namespace is None:
            continue
        if namespace.path:
            joins.append((kind, namespace.path))
        else:
            new |= flag
    return Plan(joins=tuple(joins), new=new)


def exec_plan(namespaces: tuple[Namespace, ...], init_pid: int, proc: str = "/proc") -> Plan:
    """Join every namespace the container has, through its init's /proc entries."""
    kinds = {namespace.type for namespace in namespaces}
    joins = tuple((kind, f"{proc}/{init_pid}/ns/{PROC_NAMES[kind]}")
                  for kind in FLAGS if kind in kinds)
    return Plan(joins=joins)


def enter(plan: Plan, sys: Syscalls) -> None:
    """Join and create the namespaces of ``plan`` in the calling process (the first stage)."""
    fds: list[tuple[str, int]] = []
    try:
        for kind, path in plan.joins:
            try:
                fds.append((kind, os.open(path, os.O_RDONLY | os.O_CLOEXEC)))
            except OSError as exc:
                raise InvalidArgument(
                    f"linux.namespaces: {kind} namespace path {path}: {exc.strerror}"
                ) from exc
        for kind, fd in fds:
            try:
                sys.setns(fd, FLAGS[kind])
            except SystemCallError as exc:
                raise SystemCallError("setns", exc.errno, f"{kind} namespace") from exc
    finally:
        for _, fd in fds:
            os.close(fd)
    if plan.new:
        sys.unshare(plan.new)


def same_namespace(kind: str, pid: int, other: str = "self", proc: str = "/proc") -> bool:
    """Whether process ``pid`` and ``other`` share their namespace of ``kind``."""
    name = PROC_NAMES[kind]
    try:
        return os.stat(f"{proc}/{pid}/ns/{name}").st_ino == \
            os.stat(f"{proc}/{other}/ns/{name}").st_ino
    except FileNotFoundError:
        return False


def bring_up_loopback() -> None:
    """Set ``lo`` up in a new network namespace (runc's "loopback" network strategy)."""
    import _socket
    import fcntl
    import struct

    siocgifflags, siocsifflags, iff_up = 0x8913, 0x8914, 0x1
    sock = _socket.socket(_socket.AF_INET, _socket.SOCK_DGRAM, 0)
    try:
        request = struct.pack("16sH22x", b"lo", 0)
        flags = struct.unpack("16sH22x", fcntl.ioctl(sock.fileno(), siocgifflags, request))[1]
        fcntl.ioctl(sock.fileno(), siocsifflags, struct.pack("16sH22x", b"lo", flags | iff_up))
    except OSError as exc:
        raise SystemCallError("ioctl", exc.errno or 0, "SIOCSIFFLAGS lo up") from exc
    finally:
        sock.close()
