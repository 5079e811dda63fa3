"""A container's root directory, held as a file descriptor, and paths resolved inside it.

``docker cp`` works on a root that the container itself may be changing, so a path checked
and then used by name could lead elsewhere by the time it is used (CVE-2018-15664: a symlink
swapped in between). Here no path is ever resolved by the host's rules: every lookup is an
``openat2(root_fd, path, RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS)``, which resolves each
component, symlinks and ``..`` included, as if ``root_fd`` were ``/``, atomically in the
kernel. What is done to the last component (create, remove, read) goes through the parent's
fd with ``O_NOFOLLOW``/``AT_SYMLINK_NOFOLLOW`` and ``O_EXCL``: a race can make an operation
fail, never reach outside the root.

A running container's root is ``/proc/<pid>/root`` (its mount namespace: bind mounts and
tmpfs included, as dockerd mounts the volumes for a copy), checked to be the container's own
root filesystem. File systems of the kernel's (proc, sysfs, cgroup ...) are never entered:
they hold the host's state, and dockerd's view of a container has none of them.

Paths follow dockerd's ``ResolvePath``: the directory part is resolved in the root, the last
component is not (a symlink is copied as a symlink) unless the path ends in ``/`` or ``/.``.
"""

from __future__ import annotations

import errno
import os
import posixpath
from dataclasses import dataclass

from dockyard.errors import Internal, InvalidArgument, NotFound, SystemCallError
from dockyard.sys import RESOLVE_IN_ROOT, RESOLVE_NO_MAGICLINKS, Syscalls

PSEUDO_FILESYSTEMS = frozenset((
    "proc", "sysfs", "cgroup", "cgroup2", "securityfs", "debugfs", "tracefs", "bpf",
    "configfs", "fusectl", "pstore", "efivarfs", "binfmt_misc", "selinuxfs"))
_RESOLVE = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS


@dataclass(frozen=True, slots=True)
class Target:
    """Where a path leads: ``dir_fd`` is its (resolved) parent directory, ``name`` the last
    component in it ("" when the path names ``dir_fd`` itself), ``st`` its lstat."""

    dir_fd: int
    name: str
    st: os.stat_result


def clean(path: str) -> str:
    """``path`` as an absolute, clean path in the container, keeping a trailing ``/`` or
    ``/.`` (Go's ``PreserveTrailingDotOrSeparator``)."""
    cleaned = posixpath.normpath("/" + path)
    if cleaned.startswith("//"):
        cleaned = "/" + cleaned.lstrip("/")
    if path.endswith("/.") or path == ".":
        return cleaned.rstrip("/") + "/."
    if path.endswith("/") and cleaned != "/":
        return cleaned + "/"
    return cleaned


def base_name(path: str) -> str:
    """Go's ``filepath.Base`` of a cleaned path: ``/`` for the root, ``.`` for ``/x/.``."""
    stripped = path.rstrip("/")
    if not stripped:
        return "/"
    return stripped.rsplit("/", 1)[-1]


def pseudo_devices(mountinfo: str) -> frozenset[int]:
    """The st_dev of every kernel file system mounted in a ``mountinfo`` text."""
    devices = set()
    for line in mountinfo.splitlines():
        fields = line.split()
        if "-" not in fields:
            continue
        fstype = fields[fields.index("-") + 1]
        if fstype in PSEUDO_FILESYSTEMS:
            major, _, minor = fields[2].partition(":")
            devices.add(os.makedev(int(major), int(minor)))
    return frozenset(devices)


class Root:
    """An open root directory; close it (or use it as a context manager) when done."""

    def __init__(self, fd: int, syscalls: Syscalls, *, container: str,
                 pseudo: frozenset[int] = frozenset()) -> None:
        self.fd = fd
        self.sys = syscalls
        self.container = container  # the name the client used, for dockerd's messages
        self.pseudo = pseudo
        self.dev = os.fstat(fd).st_dev

    @classmethod
    def at(cls, path: str, syscalls: Syscalls, *, container: str,
           pseudo: frozenset[int] = frozenset()) -> Root:
        fd = os.open(path, os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)
        return cls(fd, syscalls, container=container, pseudo=pseudo)

    @classmethod
    def of_process(cls, pid: int, expected: os.stat_result, syscalls: Syscalls, *,
                   container: str) -> Root | None:
        """``/proc/<pid>/root`` if it is the directory ``expected`` (the container's root
        filesystem, seen from the host); None if the process is gone or is another one."""
        try:
            fd = os.open(f"/proc/{pid}/root", os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)
        except OSError:
            return None
        try:
            st = os.fstat(fd)
            with open(f"/proc/{pid}/mountinfo") as info:
                pseudo = pseudo_devices(info.read())
        except OSError:
            os.close(fd)
            return None
        if (st.st_dev, st.st_ino) != (expected.st_dev, expected.st_ino):
            os.close(fd)
            return None
        return cls(fd, syscalls, container=container, pseudo=pseudo)

    def close(self) -> None:
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1

    def __enter__(self) -> Root:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- lookups ------------------------------------------------------------------------------

    def not_found(self, path: str) -> NotFound:
        return NotFound(f"Could not find the file {path} in container {self.container}")

    def open(self, path: str, flags: int, *, shown: str | None = None) -> int:
        """An fd for ``path`` resolved in the root (every component followed); NotFound as
        dockerd words it, and for anything on a kernel file system."""
        rel = path.strip("/") or "."
        try:
            fd = self.sys.openat2(self.fd, rel, flags | os.O_CLOEXEC, 0, _RESOLVE)
        except SystemCallError as exc:
            if exc.errno == errno.ENOTDIR:
                raise Internal(f"lstat {shown or path}: not a directory") from None
            if exc.errno in (errno.ENOENT, errno.ELOOP, errno.EXDEV):
                raise self.not_found(shown or path) from None
            raise
        if self.pseudo and os.fstat(fd).st_dev in self.pseudo:
            os.close(fd)
            raise self.not_found(shown or path)
        return fd

    def dir(self, path: str, *, shown: str | None = None) -> int:
        return self.open(path, os.O_PATH | os.O_DIRECTORY, shown=shown)

    def target(self, path: str) -> Target:
        """``path`` (see :func:`clean`) as dockerd resolves it: the directory part followed,
        the last component not, unless the path ends in ``/`` or ``/.``. The caller closes
        ``dir_fd``."""
        absolute = clean(path)
        parent, _, last = absolute.rpartition("/")
        if last in ("", "."):
            fd = self.dir(parent or "/", shown=path)
            return Target(fd, "", os.fstat(fd))
        fd = self.dir(parent or "/", shown=path)
        try:
            st = os.stat(last, dir_fd=fd, follow_symlinks=False)
        except FileNotFoundError:
            os.close(fd)
            raise self.not_found(path) from None
        except NotADirectoryError as exc:
            os.close(fd)
            raise Internal(f"lstat {path}: not a directory") from exc
        return Target(fd, last, st)

    def link_target(self, path: str) -> str:
        """The absolute path in the container that ``path`` leads to, every symlink followed
        in the root's scope and what does not exist kept as written (dockerd's
        ``FollowSymlinkInScope``, for ``linkTarget``). Only links are read here: nothing is
        opened through the result."""
        pending = [p for p in clean(path).split("/") if p]
        resolved: list[str] = []
        for _ in range(4096):
            if not pending:
                return "/" + "/".join(resolved)
            part = pending.pop(0)
            if part == ".":
                continue
            if part == "..":
                if resolved:
                    resolved.pop()
                continue
            target = self._readlink("/" + "/".join(resolved), part)
            if target is None:
                resolved.append(part)
                continue
            if target.startswith("/"):
                resolved = []
            pending[:0] = [p for p in target.split("/") if p]
        raise InvalidArgument(f"too many links in {path}")

    def _readlink(self, directory: str, name: str) -> str | None:
        try:
            fd = self.dir(directory)
        except NotFound:
            return None
        try:
            return os.readlink(name, dir_fd=fd)
        except OSError:
            return None
        finally:
            os.close(fd)

    def is_pseudo(self, st: os.stat_result) -> bool:
        return st.st_dev in self.pseudo

