"""Copy-up: the image's content at a volume's destination copied into a new, empty volume.

dockerd does this when a container is created (``CopyImagePathContent``): if the volume's data
directory is empty, everything under the image's path goes in, keeping owners, modes, times,
extended attributes, symlinks, device nodes, fifos and hard links (containerd's ``fs.CopyDir``);
the data directory itself takes the source directory's owner, mode and attributes (so an image's
``/var/lib/postgresql/data`` owned by postgres with mode 0700 gives a volume root like it).

Every step works through directory file descriptors and never follows a symlink, on both sides:
a container that shares the volume cannot redirect a write out of it with a symlink or a rename
race, and a symlink in the image cannot make the copy read host files. Sockets are skipped
(nothing can use a copy of one), as are ``trusted.overlay.*`` attributes (overlayfs' own);
attributes the target filesystem does not support are dropped, as dockerd drops them.
"""

from __future__ import annotations

import errno
import logging
import os
import stat
from dataclasses import dataclass, field
from pathlib import Path

from dockyard.errors import Breakout

log = logging.getLogger(__name__)

_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
_SKIPPED_XATTRS = ("trusted.overlay.",)
_UNSUPPORTED = (errno.ENOTSUP, errno.EOPNOTSUPP)
_NO_FAST_COPY = (errno.EXDEV, errno.ENOSYS, errno.EINVAL, errno.EOPNOTSUPP, errno.EBADF)


def is_empty(directory: Path) -> bool:
    with os.scandir(directory) as entries:
        return next(entries, None) is None


def copy_tree(source: Path, target: Path) -> None:
    """Copy the content of the directory ``source`` into the directory ``target`` (expected
    empty), then give ``target`` the owner, mode, attributes and times of ``source``."""
    src = os.open(source, _DIR_FLAGS)
    try:
        dst = os.open(target, _DIR_FLAGS)
        links = _Links()
        try:
            _copy_children(src, dst, links)
            _finish_fd(dst, os.fstat(src), src)
        finally:
            links.close()
            os.close(dst)
    finally:
        os.close(src)


@dataclass
class _Links:
    """Files with several links: the first copy's fd, to link the later names to."""

    fds: dict[tuple[int, int], int] = field(default_factory=dict)
    left: dict[tuple[int, int], int] = field(default_factory=dict)

    def close(self) -> None:
        for fd in self.fds.values():
            os.close(fd)
        self.fds.clear()

    def seen(self, key: tuple[int, int], dst_dir: int, name: str) -> bool:
        """Link ``name`` to an earlier copy of the same file, if there is one."""
        fd = self.fds.get(key)
        if fd is None:
            return False
        os.link(f"/proc/self/fd/{fd}", name, dst_dir_fd=dst_dir, follow_symlinks=True)
        self.left[key] -= 1
        if self.left[key] <= 0:
            os.close(self.fds.pop(key))
        return True

    def keep(self, key: tuple[int, int], fd: int, links: int) -> None:
        self.fds[key] = os.dup(fd)
        self.left[key] = links - 1


def _copy_children(src: int, dst: int, links: _Links) -> None:
    with os.scandir(src) as entries:
        names = sorted(entry.name for entry in entries)
    for name in names:
        info = os.stat(name, dir_fd=src, follow_symlinks=False)
        _copy_entry(src, dst, name, info, links)


def _copy_entry(src: int, dst: int, name: str, info: os.stat_result, links: _Links) -> None:
    kind = stat.S_IFMT(info.st_mode)
    if kind == stat.S_IFDIR:
        os.mkdir(name, 0o700, dir_fd=dst)
        child_src = os.open(name, _DIR_FLAGS, dir_fd=src)
        try:
            child_dst = os.open(name, _DIR_FLAGS, dir_fd=dst)
            try:
                _copy_children(child_src, child_dst, links)
                _finish_fd(child_dst, info, child_src)
            finally:
                os.close(child_dst)
        finally:
            os.close(child_src)
    elif kind == stat.S_IFREG:
        _copy_file(src, dst, name, info, links)
    elif kind == stat.S_IFLNK:
        os.symlink(os.readlink(name, dir_fd=src), name, dir_fd=dst)
        _finish_name(src, dst, name, info, chmod=False)
    elif kind in (stat.S_IFCHR, stat.S_IFBLK, stat.S_IFIFO):
        os.mknod(name, kind | 0o600, info.st_rdev, dir_fd=dst)
        _finish_name(src, dst, name, info, chmod=True)
    else:
        log.debug("copy-up skips socket %s", name)


def _copy_file(src: int, dst: int, name: str, info: os.stat_result, links: _Links) -> None:
    key = (info.st_dev, info.st_ino)
    if info.st_nlink > 1 and links.seen(key, dst, name):
        return
    in_fd = os.open(name, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=src)
    try:
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
        out_fd = os.open(name, flags, 0o600, dir_fd=dst)
        try:
            _copy_data(in_fd, out_fd)
            _finish_fd(out_fd, info, in_fd)
            if info.st_nlink > 1:
                links.keep(key, out_fd, info.st_nlink)
        finally:
            os.close(out_fd)
    finally:
        os.close(in_fd)


def _copy_data(in_fd: int, out_fd: int) -> None:
    try:
        while os.copy_file_range(in_fd, out_fd, 1 << 30):
            pass
        return
    except OSError as exc:
        if exc.errno not in _NO_FAST_COPY:
            raise
    while os.sendfile(out_fd, in_fd, None, 1 << 30):  # from the current offsets
        pass


def _finish_fd(fd: int, info: os.stat_result, src_fd: int) -> None:
    """Owner, then mode (chown clears set-id bits), then attributes (chown drops
    security.capability), then times (every change before moves them)."""
    os.fchown(fd, info.st_uid, info.st_gid)
    os.fchmod(fd, stat.S_IMODE(info.st_mode))
    _copy_xattrs(src_fd, fd, follow=True)
    os.utime(fd, ns=(info.st_atime_ns, info.st_mtime_ns))


def _finish_name(src: int, dst: int, name: str, info: os.stat_result, *, chmod: bool) -> None:
    """The same for an entry held by name in ``dst`` (a symlink or a node): nothing follows
    its last component, and a mode goes through an O_PATH fd checked to be the node made."""
    os.chown(name, info.st_uid, info.st_gid, dir_fd=dst, follow_symlinks=False)
    if chmod:
        node = os.open(name, os.O_PATH | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=dst)
        try:
            if stat.S_IFMT(os.fstat(node).st_mode) != stat.S_IFMT(info.st_mode):
                raise Breakout(f"copy-up: {name} was replaced while it was copied")
            os.chmod(f"/proc/self/fd/{node}", stat.S_IMODE(info.st_mode))
        finally:
            os.close(node)
    _copy_xattrs(f"/proc/self/fd/{src}/{name}", f"/proc/self/fd/{dst}/{name}", follow=False)
    os.utime(name, ns=(info.st_atime_ns, info.st_mtime_ns), dir_fd=dst, follow_symlinks=False)


def _copy_xattrs(src: int | str, dst: int | str, *, follow: bool) -> None:
    try:
        names = os.listxattr(src, follow_symlinks=follow)
    except OSError as exc:
        if exc.errno in _UNSUPPORTED:
            return
        raise
    for name in names:
        if name.startswith(_SKIPPED_XATTRS):
            continue
        value = os.getxattr(src, name, follow_symlinks=follow)
        try:
            os.setxattr(dst, name, value, follow_symlinks=follow)
        except OSError as exc:
            if exc.errno not in _UNSUPPORTED:
                raise
            log.debug("copy-up drops unsupported attribute %s", name)
