"""The container's root filesystem, set up by its init inside its new mount namespace.

The order is runc's (``prepareRootfs``, ``finalizeRootfs``, then the init's path protection):

:meth:`Rootfs.prepare`
    1. ``/`` becomes rslave (or ``linux.rootfsPropagation``), so nothing done here reaches
       the host; the mount holding the root is made private if it is shared (pivot_root(2)
       refuses a shared parent) and the root is bind-mounted onto itself (a mount point);
    2. each of ``mounts`` in order (:mod:`dockyard.runtime.mounts`);
    3. /dev (:mod:`dockyard.runtime.devnodes`) unless a bind mount provides /dev;
    4. in the root's directory, the hooks' point (``before_pivot``: ``hooks.py``);
    5. pivot_root(".", ".") with the old root unmounted (rslave first, so the unmount does
       not propagate), or with ``--no-pivot`` a move of the root onto "/" and chroot(2) after
       hiding the host's full proc and sysfs mounts; chroot(2) without a mount namespace;
    6. stdio that was the host's /dev/null is reopened on the container's.
:meth:`Rootfs.finalize` (after the console is set up)
    tmpfs mounts and /dev asked to be read-only are remounted so, then the root itself when
    ``root.readonly``.
:meth:`Rootfs.protect` (after hostname and sysctl)
    ``linux.readonlyPaths`` become read-only bind mounts of themselves; ``linux.maskedPaths``
    are covered: a file by /dev/null, a directory by an empty read-only tmpfs. A path that does
    not exist is skipped.
"""

from __future__ import annotations

import errno
import os

from dockyard.errors import InvalidArgument, SystemCallError
from dockyard.runtime import devnodes
from dockyard.runtime.mounts import HostMounts, Mounter, MountOp, convert
from dockyard.sys.flags import (
    MNT_DETACH,
    MS_BIND,
    MS_MOVE,
    MS_NODEV,
    MS_NOEXEC,
    MS_NOSUID,
    MS_PRIVATE,
    MS_RDONLY,
    MS_REC,
    MS_REMOUNT,
    MS_SLAVE,
)

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable

    from dockyard.runtime.spec import Spec
    from dockyard.sys import Syscalls

PROPAGATION_FLAGS = {"": 0, "private": MS_PRIVATE, "rprivate": MS_PRIVATE | MS_REC,
                     "slave": MS_SLAVE, "rslave": MS_SLAVE | MS_REC, "shared": 1 << 20,
                     "rshared": (1 << 20) | MS_REC, "unbindable": 1 << 17,
                     "runbindable": (1 << 17) | MS_REC}


def mount_ops(spec: Spec, bundle: str) -> tuple[MountOp, ...]:
    return tuple(convert(mount, bundle, index) for index, mount in enumerate(spec.mounts))


def needs_dev(ops: tuple[MountOp, ...]) -> bool:
    """runc's rule: /dev is set up unless a bind mount provides it."""
    return not any(op.device == "bind" and os.path.normpath(op.destination) == "/dev"
                   for op in ops)


def root_propagation(spec: Spec, no_pivot: bool) -> int:
    flags = PROPAGATION_FLAGS[spec.linux.rootfs_propagation]
    if no_pivot and flags & MS_PRIVATE:
        raise InvalidArgument(
            "linux.rootfsPropagation: [r]private is not safe without pivot_root")
    return flags


class Rootfs:
    """Sets up the root at ``root`` (an absolute host path) for ``spec``."""

    def __init__(
        self, sys: Syscalls, spec: Spec, root: str, bundle: str, *, no_pivot: bool = False,
        mount_namespace: bool = True, cgroupns: bool = False, host: HostMounts | None = None,
        procfd: bool = True,
    ) -> None:
        self.sys = sys
        self.spec = spec
        self.root = root.rstrip("/")
        self.no_pivot = no_pivot
        self.mount_namespace = mount_namespace
        self.ops = mount_ops(spec, bundle)
        self.propagation = root_propagation(spec, no_pivot)
        self._host = host
        self._cgroupns = cgroupns
        self._procfd = procfd

    @property
    def host(self) -> HostMounts:
        if self._host is None:
            self._host = HostMounts.read()
        return self._host

    def prepare(self, before_pivot: Callable[[], None] | None = None) -> None:
        """Steps 1 to 6 of the module docstring; the process ends inside the new root.
        ``before_pivot`` runs in the root's directory (still the host's path) right before
        the root changes: the hooks' sync with the runtime and createContainer hooks."""
        if not self.mount_namespace:
            if self.ops:
                raise InvalidArgument("mounts: a container without a mount namespace "
                                      "cannot have mounts")
            os.chdir(self.root)
            if before_pivot is not None:
                before_pivot()
            self._chroot()
            return
        sys = self.sys
        sys.mount("", "/", "", self.propagation or MS_SLAVE | MS_REC, "")
        parent = self.host.parent_of(self.root)
        if any(field.startswith("shared:") for field in parent.optional.split()):
            sys.mount("", parent.mountpoint, "", MS_PRIVATE, "")
        sys.mount(self.root, self.root, "", MS_BIND | MS_REC, "")
        mounter = Mounter(sys, self.root, self.host, cgroupns=self._cgroupns,
                          procfd=self._procfd)
        for op in self.ops:
            mounter.mount(op)
        setup_dev = needs_dev(self.ops)
        if setup_dev:
            devnodes.create_devices(
                self.root, devnodes.devices_to_create(self.spec.linux.devices), sys)
            devnodes.setup_ptmx(self.root)
            devnodes.setup_links(self.root)
        os.chdir(self.root)
        if before_pivot is not None:
            before_pivot()
        if self.no_pivot:
            self._move_root()
        else:
            self._pivot()
        if setup_dev:
            devnodes.reopen_dev_null()

    def _pivot(self) -> None:
        """pivot_root(".", ".") as runc does: no put_old directory needed."""
        old = os.open("/", os.O_DIRECTORY | os.O_RDONLY | os.O_CLOEXEC)
        new = os.open(self.root, os.O_DIRECTORY | os.O_RDONLY | os.O_CLOEXEC)
        try:
            os.fchdir(new)
            self.sys.pivot_root(".", ".")
            os.fchdir(old)  # "." is the old root now; unmount it from here
            self.sys.mount("", ".", "", MS_SLAVE | MS_REC, "")
            self.sys.umount(".", MNT_DETACH)
            os.chdir("/")
        finally:
            os.close(old)
            os.close(new)

    def _move_root(self) -> None:
        """--no-pivot: hide the host's full proc/sysfs mounts, move the root to /, chroot."""
        for entry in self.host.entries:
            point = entry.mountpoint
            if entry.root != "/" or entry.fstype not in ("proc", "sysfs") or \
                    point.startswith(self.root):
                continue
            try:
                self.sys.mount("", point, "", MS_SLAVE | MS_REC, "")
            except SystemCallError as exc:
                if exc.errno == errno.ENOENT:
                    continue
                raise
            try:
                self.sys.umount(point, MNT_DETACH)
            except SystemCallError as exc:
                if exc.errno not in (errno.EINVAL, errno.EPERM):
                    raise
                self.sys.mount("tmpfs", point, "tmpfs", 0, "")
        self.sys.mount(self.root, "/", "", MS_MOVE, "")
        self.sys.chroot(".")  # "." is the moved root: prepare() changed into it
        os.chdir("/")

    def _chroot(self) -> None:
        os.chdir(self.root)
        self.sys.chroot(".")
        os.chdir("/")

    def finalize(self) -> None:
        """Read-only tmpfs and /dev mounts, then a read-only root (runc's ``finalizeRootfs``)."""
        if not self.mount_namespace:
            return
        for op in self.ops:
            if op.flags & MS_RDONLY and (op.device == "tmpfs"
                                         or os.path.normpath(op.destination) == "/dev"):
                self.sys.mount("", op.destination, "",
                               op.flags | MS_REMOUNT | MS_BIND | MS_RDONLY, "")
        if self.spec.root is not None and self.spec.root.readonly:
            self._readonly("/")

    def _readonly(self, path: str) -> None:
        flags = MS_BIND | MS_REMOUNT | MS_RDONLY
        try:
            self.sys.mount("", path, "", flags, "")
        except SystemCallError:
            # Locked flags (nosuid, nodev, ...) must be repeated on a remount.
            self.sys.mount("", path, "", flags | os.statvfs(path).f_flag, "")

    def protect(self) -> None:
        """``readonlyPaths`` then ``maskedPaths``, inside the new root."""
        for path in self.spec.linux.readonly_paths:
            self._readonly_path(path)
        for path in self.spec.linux.masked_paths:
            self._mask(path)

    def _readonly_path(self, path: str) -> None:
        try:
            self.sys.mount(path, path, "", MS_BIND | MS_REC, "")
        except SystemCallError as exc:
            if exc.errno == errno.ENOENT:
                return
            raise
        kept = os.statvfs(path).f_flag & (MS_NOSUID | MS_NODEV | MS_NOEXEC)
        self.sys.mount(path, path, "", kept | MS_BIND | MS_REMOUNT | MS_RDONLY, "")

    def _mask(self, path: str) -> None:
        try:
            self.sys.mount("/dev/null", path, "", MS_BIND, "")
        except SystemCallError as exc:
            if exc.errno == errno.ENOENT:
                return
            if exc.errno != errno.ENOTDIR:
                raise
            self.sys.mount("tmpfs", path, "tmpfs", MS_RDONLY, "")
