"""Copies into a container's root (``PUT /containers/{id}/archive``): a tar extracted under a
directory, as dockerd's ``Untar`` does it in a chroot of the container, without the chroot.

Each entry's parent directory is opened with ``openat2(RESOLVE_IN_ROOT)`` from the root
(:mod:`dockyard.containers.inroot`), so symlinks on the way, the container's or the archive's
own, are followed in the container's scope and never out of it, even if the container swaps
them while the copy runs (CVE-2018-15664). The entry itself is made through that fd: an
existing one is removed (``unlinkat``, or a tree removal through fds), the new one created with
``O_EXCL | O_NOFOLLOW`` (files), ``mkdirat``, ``symlinkat``, ``linkat``, ``mknodat``; owner,
mode, xattrs and times are set through fds or with ``AT_SYMLINK_NOFOLLOW``.

dockerd's rules kept: an entry whose cleaned name leaves the destination is a breakout, as is a
relative symlink or a hardlink that does; ``noOverwriteDirNonDir`` refuses to replace a
directory with a non-directory or the reverse; a directory entry over a directory merges;
missing parents are made 0777 (less the umask) as ``MkdirAll`` makes them; directory times are
set at the end.
"""

from __future__ import annotations

import contextlib
import errno
import logging
import os
import posixpath
import stat
from typing import BinaryIO

from dockyard.archive.compression import open_stream
from dockyard.archive.tarreader import BLK, CHR, DIR, FIFO, LNK, REG, SYM, Entry, TarReader
from dockyard.containers.inroot import Root, clean
from dockyard.errors import DataCorrupt, DockyardError, Internal, NotFound, SystemCallError

log = logging.getLogger(__name__)

_CREATE = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
_OPEN_DIR = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
_DEVICES = {CHR: stat.S_IFCHR, BLK: stat.S_IFBLK, FIFO: stat.S_IFIFO}


def extract(root: Root, path: str, stream: BinaryIO, *, no_overwrite_dir_non_dir: bool = False,
            readonly_rootfs: bool = False, owner: tuple[int, int] | None = None) -> None:
    """Extract the tar (plain, gzip or zstd) read from ``stream`` under ``path``; ``owner``
    (``cp -a``: the container's user) replaces the archive's owners."""
    dest = clean(path).rstrip("/.") or "/"
    dest_fd = root.open(dest, os.O_PATH, shown=path)
    try:
        st = os.fstat(dest_fd)
        if not stat.S_ISDIR(st.st_mode):
            raise Internal("extraction point is not a directory")
        if readonly_rootfs and st.st_dev == root.dev:
            raise Internal("container rootfs is marked read-only")
    finally:
        os.close(dest_fd)
    Extraction(root, dest, no_overwrite_dir_non_dir, owner).run(stream)


class Refused(Exception):
    """Why an archive cannot be extracted, in dockerd's words."""


class Extraction:
    def __init__(self, root: Root, dest: str, no_overwrite: bool,
                 owner: tuple[int, int] | None = None) -> None:
        self.root = root
        self.dest = dest
        self.no_overwrite = no_overwrite
        self.owner = owner
        self.dirs: list[Entry] = []

    def _owner(self, entry: Entry) -> tuple[int, int]:
        return self.owner if self.owner is not None else (entry.uid, entry.gid)

    def run(self, stream: BinaryIO) -> None:
        try:
            reader = TarReader(open_stream(stream, "archive"), "archive", hashing=False)
            while (entry := reader.next()) is not None:
                self.entry(entry, reader)
            for entry in reversed(self.dirs):
                self._times_by_path(entry)
        except Refused as exc:
            raise Internal(f"Error processing tar file(exit status 1): {exc}") from None
        except NotFound:
            raise
        except DataCorrupt as exc:  # a broken archive: Go's reader says "unexpected EOF"
            reason = "unexpected EOF" if "truncated" in str(exc) else str(exc)
            raise Internal(f"Error processing tar file(exit status 1): {reason}") from exc
        except DockyardError as exc:
            raise Internal(f"Error processing tar file(exit status 1): {exc}") from exc
        except OSError as exc:
            raise SystemCallError("extract", exc.errno or errno.EIO,
                                  f"{exc.filename or ''} under {self.dest}") from exc

    def entry(self, entry: Entry, reader: TarReader) -> None:
        name = posixpath.normpath("/" + entry.name).lstrip("/")
        if entry.name.startswith("..") or posixpath.normpath(entry.name).startswith("../"):
            raise Refused(f'"{entry.name}" is outside of "{self.dest}"')
        if not name or name == ".":
            return  # the destination itself (dockerd skips ".")
        parent, _, base = name.rpartition("/")
        parent_fd = self._parent(parent)
        try:
            self._check_links(entry, name)
            if not self._clear(parent_fd, base, entry, name):
                self._chmeta(parent_fd, base, entry)
                return
            self._create(parent_fd, base, entry, reader)
        finally:
            os.close(parent_fd)

    def _path(self, rel: str) -> str:
        return f"{self.dest.rstrip('/')}/{rel}" if rel else self.dest

    def _parent(self, rel: str) -> int:
        """The directory ``rel`` under the destination, made (with its parents) if missing."""
        try:
            return self.root.dir(self._path(rel))
        except NotFound:
            pass
        fd = self.root.dir(self.dest)
        done = ""
        for part in rel.split("/"):
            done = f"{done}/{part}" if done else part
            with contextlib.suppress(FileExistsError):
                os.mkdir(part, 0o777, dir_fd=fd)
            os.close(fd)
            fd = self.root.dir(self._path(done))
        return fd

    def _check_links(self, entry: Entry, name: str) -> None:
        if entry.type == SYM and not entry.linkname.startswith("/"):
            target = posixpath.normpath(posixpath.join(posixpath.dirname(name), entry.linkname))
            if target == ".." or target.startswith("../"):
                raise Refused(f'invalid symlink "{self._path(name)}" -> "{entry.linkname}"')
        if entry.type == LNK:
            target = posixpath.normpath(entry.linkname.lstrip("/"))
            if target == ".." or target.startswith("../"):
                raise Refused(f'invalid hardlink "{self._path(name)}" -> "{entry.linkname}"')

    def _clear(self, parent: int, base: str, entry: Entry, name: str) -> bool:
        """Remove what is at ``base`` unless the entry merges with it; False to merge."""
        try:
            st = os.stat(base, dir_fd=parent, follow_symlinks=False)
        except FileNotFoundError:
            return True
        is_dir = stat.S_ISDIR(st.st_mode)
        if self.no_overwrite and is_dir and entry.type != DIR:
            raise Refused(f'cannot overwrite directory "{self._path(name)}" with '
                          f'non-directory "{self.dest}"')
        if self.no_overwrite and not is_dir and entry.type == DIR:
            raise Refused(f'cannot overwrite non-directory "{self._path(name)}" with '
                          f'directory "{self.dest}"')
        if is_dir and entry.type == DIR:
            return False
        if is_dir:
            remove_tree(parent, base)
        else:
            os.unlink(base, dir_fd=parent)
        return True

    def _create(self, parent: int, base: str, entry: Entry, reader: TarReader) -> None:
        mode = entry.mode & 0o7777
        if entry.type == REG:
            fd = os.open(base, _CREATE, 0o600, dir_fd=parent)
            try:
                reader.copy_data(fd)
                os.fchown(fd, *self._owner(entry))
                os.fchmod(fd, mode)
                self._xattrs(fd, entry)
                os.utime(fd, ns=(entry.mtime_ns, entry.mtime_ns))
            finally:
                os.close(fd)
            return
        if entry.type == DIR:
            os.mkdir(base, 0o700, dir_fd=parent)
            self._chmeta(parent, base, entry)
        elif entry.type == SYM:
            os.symlink(entry.linkname, base, dir_fd=parent)
            os.chown(base, *self._owner(entry), dir_fd=parent, follow_symlinks=False)
            os.utime(base, ns=(entry.mtime_ns, entry.mtime_ns), dir_fd=parent,
                     follow_symlinks=False)
        elif entry.type == LNK:
            self._hardlink(parent, base, entry)
        elif entry.type in _DEVICES:
            os.mknod(base, mode | _DEVICES[entry.type],
                     os.makedev(entry.devmajor, entry.devminor), dir_fd=parent)
            os.chown(base, *self._owner(entry), dir_fd=parent, follow_symlinks=False)
            os.chmod(base, mode, dir_fd=parent, follow_symlinks=False)
            os.utime(base, ns=(entry.mtime_ns, entry.mtime_ns), dir_fd=parent,
                     follow_symlinks=False)

    def _chmeta(self, parent: int, base: str, entry: Entry) -> None:
        """Owner, mode and xattrs of a directory (times at the end, after its contents)."""
        fd = os.open(base, _OPEN_DIR, dir_fd=parent)
        try:
            os.fchown(fd, *self._owner(entry))
            os.fchmod(fd, entry.mode & 0o7777)
            self._xattrs(fd, entry)
        finally:
            os.close(fd)
        self.dirs.append(entry)

    def _hardlink(self, parent: int, base: str, entry: Entry) -> None:
        target = posixpath.normpath(entry.linkname.lstrip("/"))
        target_parent, _, target_base = target.rpartition("/")
        source = self.root.dir(self._path(target_parent))
        try:
            os.link(target_base, base, src_dir_fd=source, dst_dir_fd=parent,
                    follow_symlinks=False)
        finally:
            os.close(source)

    @staticmethod
    def _xattrs(fd: int, entry: Entry) -> None:
        for key, value in entry.xattrs.items():
            try:
                os.setxattr(fd, key, value)
            except OSError as exc:  # as moby: a file system without them is no error
                if exc.errno not in (errno.ENOTSUP, errno.EPERM):
                    raise
                log.debug("xattr %s not set: %s", key, exc)

    def _times_by_path(self, entry: Entry) -> None:
        name = posixpath.normpath("/" + entry.name).lstrip("/")
        try:
            fd = self.root.dir(self._path(name))
        except NotFound:
            return
        try:
            probe = os.open(".", _OPEN_DIR, dir_fd=fd)
        finally:
            os.close(fd)
        try:
            os.utime(probe, ns=(entry.mtime_ns, entry.mtime_ns))
        finally:
            os.close(probe)


def remove_tree(parent: int, name: str) -> None:
    """Remove the directory ``name`` in ``parent`` and its contents through fds only."""
    fd = os.open(name, _OPEN_DIR, dir_fd=parent)
    try:
        for child in os.listdir(fd):
            st = os.stat(child, dir_fd=fd, follow_symlinks=False)
            if stat.S_ISDIR(st.st_mode):
                remove_tree(fd, child)
            else:
                os.unlink(child, dir_fd=fd)
    finally:
        os.close(fd)
    os.rmdir(name, dir_fd=parent)
