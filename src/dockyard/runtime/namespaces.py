"""Which namespaces a container's first process creates or joins, and entering them.

The spec lists namespaces by type; an entry with a ``path`` joins that namespace (setns(2)),
one without creates a new one (unshare(2)). The process that enters them is a fork of the
runtime (``init.py``'s first stage), never the runtime itself, so a warm spawner keeps its own
namespaces. Joining follows runc's order (user, ipc, uts, net, pid, mount, cgroup) with every
path opened first: joining the mount namespace changes what later paths resolve to. A new or
joined pid namespace applies to children only, so the first stage forks the init after
:func:`enter` (pid 1 of a new namespace).

Where :func:`direct` allows (no user namespace, no pid namespace to join) there is no first
stage: the runtime clones the init with the new namespaces' flags (:func:`direct_flags`) and
the init joins the ``path`` ones and unshares a new cgroup namespace itself, before anything
else; the new ones exist before the joins then, which only matters to a user namespace.

A new user namespace comes first and alone, as in runc's nsexec: the first stage unshares
it, asks the runtime (still in the parent namespace, with the privilege to) to write its
``uid_map`` and ``gid_map`` from ``linux.uidMappings``/``gidMappings``, becomes root of it
(setresuid(0, 0, 0)) and only then unshares the other namespaces, which the new user
namespace then owns. A joined user namespace (a ``path``) is joined first, like the rest.

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
    from collections.abc import Callable

    from dockyard.runtime.spec import IdMapping, Namespace
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
    uid_map: str = ""
    """A new user namespace's /proc/<pid>/uid_map text (the runtime writes it)."""
    gid_map: str = ""

    def has(self, kind: str) -> bool:
        """Whether the container gets a namespace of ``kind`` other than the runtime's."""
        return bool(self.new & FLAGS[kind]) or any(k == kind for k, _ in self.joins)


def plan(namespaces: tuple[Namespace, ...], uid_mappings: tuple[IdMapping, ...] = (),
         gid_mappings: tuple[IdMapping, ...] = ()) -> Plan:
    """The plan for a new container's namespaces (the mappings serve a new user namespace)."""
    by_type = {namespace.type: namespace for namespace in namespaces}
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
    if not new & CLONE_NEWUSER:
        return Plan(joins=tuple(joins), new=new)
    return Plan(joins=tuple(joins), new=new, uid_map=id_map(uid_mappings),
                gid_map=id_map(gid_mappings))


def direct(plan: Plan) -> bool:
    """Whether a container's init can be cloned straight from the runtime, with no stage 1
    in between: no user namespace (its maps need a process to exist first) and no pid
    namespace to join (setns of one applies to children only)."""
    return not plan.has("user") and not any(kind == "pid" for kind, _ in plan.joins)


def direct_flags(plan: Plan) -> int:
    """The CLONE_NEW* flags such a clone takes: every new namespace but the cgroup one,
    which the init unshares once it is in the v1 hierarchies too (a cgroup namespace's root
    is where the process is when it is made)."""
    return plan.new & ~(CLONE_NEWCGROUP | CLONE_NEWUSER)


def id_map(mappings: tuple[IdMapping, ...]) -> str:
    """The text written to /proc/<pid>/uid_map or gid_map: one "inside outside count" line
    per mapping (user_namespaces(7)); written in one write(2), as the kernel wants."""
    return "".join(f"{m.container_id} {m.host_id} {m.size}\n" for m in mappings)


def write_id_maps(pid: int, plan: Plan, proc: str = "/proc") -> None:
    """The runtime's side: map the user namespace process ``pid`` created (gid_map is written
    with /proc/<pid>/setgroups left as "allow", as runc does when it runs as root)."""
    for name, text in (("uid_map", plan.uid_map), ("gid_map", plan.gid_map)):
        if not text:
            continue
        path = f"{proc}/{pid}/{name}"
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CLOEXEC)
            try:
                os.write(fd, text.encode())
            finally:
                os.close(fd)
        except OSError as exc:
            raise SystemCallError("write", exc.errno or 0,
                                  f"{path} ({text.strip()!r})") from exc


def exec_plan(namespaces: tuple[Namespace, ...], init_pid: int, proc: str = "/proc") -> Plan:
    """Join every namespace the container has, through its init's /proc entries."""
    kinds = {namespace.type for namespace in namespaces}
    joins = tuple((kind, f"{proc}/{init_pid}/ns/{PROC_NAMES[kind]}")
                  for kind in FLAGS if kind in kinds)
    return Plan(joins=joins)


def enter(plan: Plan, sys: Syscalls, map_ids: Callable[[], None] | None = None) -> None:
    """Join and create the namespaces of ``plan`` in the calling process (the first stage);
    ``map_ids`` has the runtime map a new user namespace and returns once it has."""
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
    new = plan.new
    if new & CLONE_NEWUSER:
        sys.unshare(CLONE_NEWUSER)
        if map_ids is not None:
            map_ids()
        try:
            os.setresuid(0, 0, 0)
        except OSError as exc:
            raise SystemCallError("setresuid", exc.errno or 0,
                                  "to root of the new user namespace") from exc
        new &= ~CLONE_NEWUSER
    if new:
        sys.unshare(new)


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
