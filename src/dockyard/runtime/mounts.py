"""The spec's mounts as mount(2) calls inside the container's root, one filesystem type at a time.

:func:`convert` turns a spec mount into a :class:`MountOp` (runc's ``parseMountOptions``: flag
options become MS_* bits, propagation options a list applied after the mount, the rest the
filesystem's data string; a bind of any ``type`` is a bind). :class:`Mounter` performs one
op the way runc's ``mountToRootfs`` does for its type:

========  =================================================================================
proc,     the destination must be a plain directory (no symlink), joined without following
sysfs     links; mounted as is
mqueue    mkdir, mount
tmpfs     mkdir, mount without MS_RDONLY (made read-only at the end), keep the old dir's mode
bind      the source must exist; destination resolved inside the root (symlinks cannot
          leave it), created as a file or a directory like the source; then a remount when
          the options hold more than bind/rbind, since a bind ignores them at first
cgroup    cgroup v1: a tmpfs with one bind per hierarchy of the container's own cgroup (a
          cgroup mount per hierarchy with a cgroup namespace); cgroup v2: a cgroup2 mount
other     (devpts, overlay, ...) never under /proc; mkdir, mount
========  =================================================================================

Destinations are resolved with :func:`secure_join`, and with ``procfd`` the mount goes
through ``/proc/self/fd/N`` of the resolved path after checking that the fd is where it
should be (runc's ``WithProcfd``), so a symlink swapped in meanwhile cannot redirect it.
"""

from __future__ import annotations

import os
import stat

from dockyard.errors import InvalidArgument, SystemCallError, Unsupported
from dockyard.runtime.record import Record
from dockyard.sys.flags import (
    MS_BIND,
    MS_PRIVATE,
    MS_RDONLY,
    MS_REC,
    MS_REMOUNT,
    MS_SHARED,
    MS_SLAVE,
)

TYPE_CHECKING = False
if TYPE_CHECKING:
    from dockyard.runtime.spec import Mount
    from dockyard.sys import Syscalls

MS_NOSUID, MS_NODEV, MS_NOEXEC, MS_SYNCHRONOUS, MS_MANDLOCK = 0x2, 0x4, 0x8, 0x10, 0x40
MS_DIRSYNC, MS_NOSYMFOLLOW, MS_NOATIME = 0x80, 0x100, 0x400
MS_NODIRATIME, MS_SILENT = 0x800, 0x8000
MS_POSIXACL, MS_UNBINDABLE, MS_RELATIME, MS_I_VERSION = 1 << 16, 1 << 17, 1 << 21, 1 << 23
MS_STRICTATIME, MS_LAZYTIME = 1 << 24, 1 << 25
DEFAULT_FLAGS = MS_NOEXEC | MS_NOSUID | MS_NODEV

FLAG_OPTIONS: dict[str, tuple[bool, int]] = {
    "acl": (False, MS_POSIXACL), "async": (True, MS_SYNCHRONOUS), "atime": (True, MS_NOATIME),
    "bind": (False, MS_BIND), "defaults": (False, 0), "dev": (True, MS_NODEV),
    "diratime": (True, MS_NODIRATIME), "dirsync": (False, MS_DIRSYNC),
    "exec": (True, MS_NOEXEC), "iversion": (False, MS_I_VERSION),
    "lazytime": (False, MS_LAZYTIME), "loud": (True, MS_SILENT), "mand": (False, MS_MANDLOCK),
    "noacl": (True, MS_POSIXACL), "noatime": (False, MS_NOATIME), "nodev": (False, MS_NODEV),
    "nodiratime": (False, MS_NODIRATIME), "noexec": (False, MS_NOEXEC),
    "noiversion": (True, MS_I_VERSION), "nolazytime": (True, MS_LAZYTIME),
    "nomand": (True, MS_MANDLOCK), "norelatime": (True, MS_RELATIME),
    "nostrictatime": (True, MS_STRICTATIME), "nosuid": (False, MS_NOSUID),
    "nosymfollow": (False, MS_NOSYMFOLLOW), "rbind": (False, MS_BIND | MS_REC),
    "relatime": (False, MS_RELATIME), "remount": (False, MS_REMOUNT), "ro": (False, MS_RDONLY),
    "rw": (True, MS_RDONLY), "silent": (False, MS_SILENT), "strictatime": (False, MS_STRICTATIME),
    "suid": (True, MS_NOSUID), "sync": (False, MS_SYNCHRONOUS), "symfollow": (True, MS_NOSYMFOLLOW),
}  # fmt: skip
"""runc's table: option -> (clears the flag, flag)."""

PROPAGATION: dict[str, int] = {
    "private": MS_PRIVATE, "rprivate": MS_PRIVATE | MS_REC, "slave": MS_SLAVE,
    "rslave": MS_SLAVE | MS_REC, "shared": MS_SHARED, "rshared": MS_SHARED | MS_REC,
    "unbindable": MS_UNBINDABLE, "runbindable": MS_UNBINDABLE | MS_REC,
}  # fmt: skip
_RECURSIVE_ATTRS = frozenset({
    "rro", "rrw", "rnosuid", "rsuid", "rnodev", "rdev", "rnoexec", "rexec", "rnodiratime",
    "rdiratime", "rrelatime", "rnorelatime", "rnoatime", "ratime", "rstrictatime",
    "rnostrictatime", "rnosymfollow", "rsymfollow",
})  # fmt: skip
_PROC_ALLOWED = ("/proc/cpuinfo", "/proc/diskstats", "/proc/meminfo", "/proc/stat",
                 "/proc/swaps", "/proc/uptime", "/proc/loadavg", "/proc/slabinfo",
                 "/proc/net/dev", "/proc/sys/kernel/ns_last_pid")
_MAX_SYMLINKS = 255


class MountOp(Record):
    """One mount as mount(2) arguments (runc's ``configs.Mount``)."""

    source: str
    destination: str
    device: str
    """The filesystem type; "bind" for a bind mount."""
    flags: int = 0
    data: str = ""
    propagation: tuple[int, ...] = ()


def convert(mount: Mount, bundle: str, index: int = 0) -> MountOp:
    """A spec mount as a :class:`MountOp`; a relative bind source is taken from ``bundle``."""
    flags = 0
    data: list[str] = []
    propagation: list[int] = []
    for option in mount.options:
        if option in FLAG_OPTIONS and FLAG_OPTIONS[option][1]:
            clear, flag = FLAG_OPTIONS[option]
            flags = flags & ~flag if clear else flags | flag
        elif option in PROPAGATION:
            propagation.append(PROPAGATION[option])
        elif option in _RECURSIVE_ATTRS or option == "tmpcopyup":
            raise Unsupported(f"mounts[{index}].options: {option!r} is not supported yet")
        elif option != "defaults":
            data.append(option)
    device, source = mount.type, mount.source
    if flags & MS_BIND:
        device = "bind"
        if not source.startswith("/"):
            source = os.path.join(bundle, source)
    for name, value in (("source", source), ("destination", mount.destination),
                        ("type", device)):
        if "\0" in value:
            raise InvalidArgument(f"config.json: mounts[{index}].{name}: contains a NUL byte")
    return MountOp(source=source, destination=mount.destination, device=device, flags=flags,
                   data=",".join(data), propagation=tuple(propagation))


def secure_join(root: str, unsafe: str) -> str:
    """``root`` + ``unsafe`` with symlinks resolved as if ``root`` were "/" (filepath-securejoin).

    Neither ``..`` nor a symlink (absolute or relative) leads out of ``root``; parts that do
    not exist are appended as they are.
    """
    root = root.rstrip("/") or "/"
    parts = [part for part in unsafe.split("/") if part]
    resolved: list[str] = []
    expansions = 0
    while parts:
        part = parts.pop(0)
        if part == ".":
            continue
        if part == "..":
            if resolved:
                resolved.pop()
            continue
        path = root + "/" + "/".join([*resolved, part])
        try:
            is_link = stat.S_ISLNK(os.lstat(path).st_mode)
        except (FileNotFoundError, NotADirectoryError):
            is_link = False
        if not is_link:
            resolved.append(part)
            continue
        expansions += 1
        if expansions > _MAX_SYMLINKS:
            raise InvalidArgument(f"{unsafe}: too many levels of symbolic links under {root}")
        target = os.readlink(path)
        if target.startswith("/"):
            resolved = []
        parts = [p for p in target.split("/") if p] + parts
    return root + "/" + "/".join(resolved) if resolved else root


def inside(root: str, path: str) -> str:
    """The container path of a host ``path`` under ``root`` ("/" for the root itself)."""
    rest = path[len(root.rstrip("/")):]
    return rest or "/"


class Mounter:
    """Performs :class:`MountOp` s inside ``root`` through ``sys``."""

    def __init__(
        self, sys: Syscalls, root: str, host: HostMounts, *, cgroupns: bool = False,
        procfd: bool = True,
    ) -> None:
        self.sys = sys
        self.root = root.rstrip("/")
        self.host = host
        self.cgroupns = cgroupns
        self.procfd = procfd

    def mount(self, op: MountOp) -> None:
        """Mount ``op`` inside the root, as runc's ``mountToRootfs`` does for its type."""
        try:
            self._mount(op)
        except SystemCallError as exc:
            raise SystemCallError(
                exc.call, exc.errno, f"{op.source or op.device} on {op.destination}"
            ) from exc
        except OSError as exc:
            raise SystemCallError(
                "mount", exc.errno or 0, f"{op.source} on {op.destination} ({exc.strerror})"
            ) from exc

    def _mount(self, op: MountOp) -> None:
        if op.device in ("proc", "sysfs"):
            dest = self.root + "/" + os.path.normpath("/" + op.destination).lstrip("/")
            if os.path.lexists(dest) and not (os.path.isdir(dest) and not os.path.islink(dest)):
                raise InvalidArgument(
                    f"filesystem {op.device!r} must be mounted on an ordinary directory: "
                    f"{op.destination}")
            os.makedirs(dest, 0o755, exist_ok=True)
            self._propagate(op, dest)
            return
        dest = secure_join(self.root, op.destination)
        if op.device == "mqueue":
            os.makedirs(dest, 0o755, exist_ok=True)
            self._propagate(op, dest)
        elif op.device == "tmpfs":
            self._tmpfs(op, dest)
        elif op.device == "bind":
            self._bind(op, dest)
        elif op.device == "cgroup":
            self._cgroup(op)
        else:
            self._check_proc(dest, op.source)
            os.makedirs(dest, 0o755, exist_ok=True)
            self._propagate(op, dest)

    def _tmpfs(self, op: MountOp, dest: str) -> None:
        try:
            mode: int | None = stat.S_IMODE(os.stat(dest).st_mode)
        except FileNotFoundError:
            mode = None
            os.makedirs(dest, 0o755, exist_ok=True)
        self._propagate(op, dest)
        if mode is not None:
            os.chmod(dest, mode)

    def _bind(self, op: MountOp, dest: str) -> None:
        try:
            source_is_dir = stat.S_ISDIR(os.stat(op.source).st_mode)
        except FileNotFoundError as exc:
            raise InvalidArgument(f"bind mount source {op.source} does not exist") from exc
        self._check_proc(dest, op.source)
        if not os.path.lexists(dest):
            if source_is_dir:
                os.makedirs(dest, 0o755, exist_ok=True)
            else:
                os.makedirs(os.path.dirname(dest), 0o755, exist_ok=True)
                os.close(os.open(dest, os.O_CREAT | os.O_CLOEXEC, 0o755))
        self._propagate(op, dest)
        if op.flags & ~(MS_REC | MS_REMOUNT | MS_BIND):
            self._remount(op, dest)

    def _remount(self, op: MountOp, dest: str) -> None:
        """Apply a bind's flags (a bind ignores them until remounted, see mount(2))."""
        flags = op.flags | MS_REMOUNT
        try:
            self._call(op.source, dest, op.device, flags, "")
        except SystemCallError:
            # A read-only source can only be remounted with MS_RDONLY kept.
            if not os.statvfs(op.source).f_flag & MS_RDONLY:
                raise
            self._call(op.source, dest, op.device, flags | MS_RDONLY, "")

    def _propagate(self, op: MountOp, dest: str) -> None:
        """mount(2) then the propagation flags (runc's ``mountPropagate``)."""
        flags = op.flags
        if op.device == "tmpfs" or os.path.normpath(op.destination) == "/dev":
            flags &= ~MS_RDONLY  # files are made in these first; read-only comes at the end
        self._call(op.source, dest, op.device, flags, op.data)
        for flag in op.propagation:
            self._call("", dest, "", flag, "")

    def _call(self, source: str, dest: str, device: str, flags: int, data: str) -> None:
        fstype = "" if device == "bind" else device
        if not self.procfd:
            self.sys.mount(source, dest, fstype, flags, data)
            return
        fd = os.open(dest, os.O_PATH | os.O_CLOEXEC)
        try:
            procfd = f"/proc/self/fd/{fd}"
            actual = os.readlink(procfd)
            if actual != dest:
                raise InvalidArgument(f"mount target {dest} moved to {actual} while mounting")
            self.sys.mount(source, procfd, fstype, flags, data)
        finally:
            os.close(fd)

    def _check_proc(self, dest: str, source: str) -> None:
        """Refuse a mount over /proc or inside it (but for what lxcfs emulates)."""
        proc = self.root + "/proc"
        if dest != proc and not dest.startswith(proc + "/"):
            return
        if dest == proc:
            if self.host.fstype_of(source) == "proc":
                return
            raise InvalidArgument(f"{dest} cannot be mounted because it is not of type proc")
        if inside(self.root, dest) in _PROC_ALLOWED:
            return
        raise InvalidArgument(f"{dest} cannot be mounted because it is inside /proc")

    def _cgroup(self, op: MountOp) -> None:
        if self.host.unified():
            dest = secure_join(self.root, op.destination)
            os.makedirs(dest, 0o755, exist_ok=True)
            self._call(op.source, dest, "cgroup2", op.flags, op.data)
            return
        binds = self.host.cgroup_binds(op)
        self.mount(MountOp(source="tmpfs", destination=op.destination, device="tmpfs",
                           flags=DEFAULT_FLAGS, data="mode=755", propagation=op.propagation))
        for bind in binds:
            if not self.cgroupns:
                self.mount(bind)
                continue
            dest = secure_join(self.root, bind.destination)
            os.makedirs(dest, 0o755, exist_ok=True)
            name = os.path.basename(bind.destination)
            source, data = ("systemd", "name=systemd") if name == "systemd" else ("cgroup", name)
            self._call(source, dest, "cgroup", DEFAULT_FLAGS | (op.flags & MS_RDONLY), data)
        for bind in binds:
            merged = os.path.basename(bind.destination)
            for name in merged.split(",") if "," in merged else ():
                link = secure_join(self.root, f"{op.destination}/{name}")
                if not os.path.lexists(link):
                    os.symlink(merged, link)


class HostMounts:
    """The runtime's view of the host's mounts and cgroups (``/proc/self/mountinfo`` and
    ``/proc/self/cgroup``), read once; tests give the texts."""

    def __init__(self, mountinfo: str, cgroup: str) -> None:
        self.entries = [parse_mountinfo_line(line) for line in mountinfo.splitlines() if line]
        self.cgroups = cgroup

    @classmethod
    def read(cls, proc: str = "/proc/self") -> HostMounts:
        with open(f"{proc}/mountinfo") as mountinfo, open(f"{proc}/cgroup") as cgroup:
            return cls(mountinfo.read(), cgroup.read())

    def unified(self) -> bool:
        """Whether /sys/fs/cgroup is a cgroup2 mount (the unified hierarchy)."""
        found = [e for e in self.entries if e.mountpoint == "/sys/fs/cgroup"]
        return bool(found) and found[-1].fstype == "cgroup2"

    def fstype_of(self, path: str) -> str:
        """The filesystem type of the mount ``path`` is on."""
        path = os.path.realpath(path)
        best: MountInfo | None = None
        for entry in self.entries:
            point = entry.mountpoint.rstrip("/")
            if (path == point or path.startswith(point + "/") or point == "") and (
                    best is None or len(point) >= len(best.mountpoint.rstrip("/"))):
                best = entry
        return best.fstype if best else ""

    def parent_of(self, path: str) -> MountInfo:
        """The mount ``path`` lives on (the longest mount point that contains it)."""
        best: MountInfo | None = None
        for entry in self.entries:
            point = entry.mountpoint.rstrip("/")
            if (path == point or path.startswith(point + "/") or point == "") and (
                    best is None or len(point) >= len(best.mountpoint.rstrip("/"))):
                best = entry
        if best is None:
            raise InvalidArgument(f"could not find the parent mount of {path}")
        return best

    def cgroup_binds(self, op: MountOp) -> list[MountOp]:
        """One bind per cgroup v1 hierarchy: the host directory of our own cgroup in it."""
        own: dict[str, str] = {}
        for line in self.cgroups.splitlines():
            _, controllers, path = line.split(":", 2)
            for controller in controllers.split(","):
                if controller:
                    own[controller] = path
        binds: list[MountOp] = []
        seen: set[str] = set()
        for entry in self.entries:
            if entry.fstype != "cgroup":
                continue
            subsystems = [o for o in entry.super_options.split(",")
                          if o in own or o.startswith("name=")]
            if not subsystems or seen.issuperset(subsystems):
                continue
            seen.update(subsystems)
            path = next((own[s] for s in subsystems if s in own), "/")
            relative = os.path.relpath(path, entry.root)
            binds.append(MountOp(
                source=os.path.normpath(f"{entry.mountpoint}/{relative}"),
                destination=f"{op.destination.rstrip('/')}/{os.path.basename(entry.mountpoint)}",
                device="bind", flags=MS_BIND | MS_REC | op.flags, propagation=op.propagation,
            ))
        return binds


class MountInfo(Record):
    """One line of /proc/self/mountinfo (proc(5))."""

    root: str
    mountpoint: str
    options: str
    optional: str
    fstype: str
    source: str
    super_options: str


def parse_mountinfo_line(line: str) -> MountInfo:
    fields = line.split(" ")
    separator = fields.index("-")
    return MountInfo(
        root=_unescape(fields[3]), mountpoint=_unescape(fields[4]), options=fields[5],
        optional=" ".join(fields[6:separator]), fstype=fields[separator + 1],
        source=_unescape(fields[separator + 2]), super_options=fields[separator + 3],
    )


def _unescape(text: str) -> str:
    """Undo mountinfo's octal escapes (``\\040`` for a space)."""
    if "\\" not in text:
        return text
    out, index = [], 0
    while index < len(text):
        if text[index] == "\\" and text[index + 1:index + 4].isdigit():
            out.append(chr(int(text[index + 1:index + 4], 8)))
            index += 4
        else:
            out.append(text[index])
            index += 1
    return "".join(out)
