"""Copies out of a container's root: the stat of a path (``X-Docker-Container-Path-Stat``),
the tar of a path (``GET /containers/{id}/archive``) and of the whole root (``export``).

The tree is walked through directory fds only (:mod:`dockyard.containers.inroot`): a child is
opened with ``O_NOFOLLOW`` relative to its parent's fd and checked to be the inode its lstat
saw, so a symlink swapped in meanwhile is never followed; a file that changes type or goes
away while it is read is skipped, one that shrinks is padded (the tar stays well formed).
Kernel file systems (a running container's /proc, /sys) are written as their directory entry
without content.

Entries are named as dockerd's ``TarResourceRebaseOpts`` names them: the last component of
the requested path (``f``, ``d/``, ``./`` for ``/d/.``, ``/`` for the root), then each
descendant under it; modes carry their file type bits as Go's tar headers do; hardlinks
within the copy are written as links to the first path; ``security.capability`` goes along as
a pax xattr, as moby's ``ReadSecurityXattrToTarHeader`` does.
"""

from __future__ import annotations

import base64
import json
import os
import stat
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import BinaryIO

from dockyard.archive.tarreader import BLK, BLOCK, CHR, DIR, FIFO, LNK, REG, SYM, Entry
from dockyard.archive.tarwriter import encode_header
from dockyard.containers.inroot import Root, Target, base_name, clean

_TYPES = {stat.S_IFREG: REG, stat.S_IFDIR: DIR, stat.S_IFLNK: SYM, stat.S_IFCHR: CHR,
          stat.S_IFBLK: BLK, stat.S_IFIFO: FIFO}
_CHUNK = 1 << 20
_OPEN_DIR = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
_OPEN_FILE = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC
_XATTRS = ("security.capability",)

# Go's os.FileMode bits
_GO_DIR, _GO_SYMLINK, _GO_DEVICE, _GO_PIPE, _GO_SOCKET = 1 << 31, 1 << 27, 1 << 26, 1 << 25, \
    1 << 24
_GO_SETUID, _GO_SETGID, _GO_CHARDEV, _GO_STICKY = 1 << 23, 1 << 22, 1 << 21, 1 << 20


def go_file_mode(mode: int) -> int:
    """An ``st_mode`` as Go's ``os.FileMode`` (what the stat header's ``mode`` holds)."""
    out = mode & 0o777
    kind = stat.S_IFMT(mode)
    out |= {stat.S_IFDIR: _GO_DIR, stat.S_IFLNK: _GO_SYMLINK, stat.S_IFBLK: _GO_DEVICE,
            stat.S_IFCHR: _GO_DEVICE | _GO_CHARDEV, stat.S_IFIFO: _GO_PIPE,
            stat.S_IFSOCK: _GO_SOCKET}.get(kind, 0)
    if mode & stat.S_ISUID:
        out |= _GO_SETUID
    if mode & stat.S_ISGID:
        out |= _GO_SETGID
    if mode & stat.S_ISVTX:
        out |= _GO_STICKY
    return out


def rfc3339_nano(ns: int) -> str:
    seconds, nanos = divmod(ns, 10**9)
    text = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(seconds))
    if nanos:
        text += "." + f"{nanos:09d}".rstrip("0")
    return text + "Z"


@dataclass(frozen=True, slots=True)
class PathStat:
    """dockerd's ``ContainerPathStat``."""

    name: str
    size: int
    mode: int
    mtime: str
    link_target: str

    def to_json(self) -> dict[str, object]:
        return {"name": self.name, "size": self.size, "mode": self.mode, "mtime": self.mtime,
                "linkTarget": self.link_target}

    def header(self) -> str:
        """The ``X-Docker-Container-Path-Stat`` value: base64 of the JSON."""
        data = json.dumps(self.to_json(), separators=(",", ":"), ensure_ascii=False).encode()
        return base64.b64encode(data).decode()


def path_stat(root: Root, path: str, target: Target) -> PathStat:
    st = target.st
    link = root.link_target(path) if stat.S_ISLNK(st.st_mode) else ""
    return PathStat(base_name(clean(path)), st.st_size, go_file_mode(st.st_mode),
                    rfc3339_nano(st.st_mtime_ns), link)


class TarOut:
    """Writes tar entries to a blocking stream (Go's format: ustar, pax where needed, two
    zero blocks at the end)."""

    def __init__(self, out: BinaryIO) -> None:
        self.out = out
        self._links: dict[tuple[int, int], str] = {}

    def add(self, name: str, st: os.stat_result, *, link: str = "",
            data_fd: int | None = None, xattrs: dict[str, bytes] | None = None) -> None:
        kind = _TYPES.get(stat.S_IFMT(st.st_mode))
        if kind is None:
            return  # sockets: tar has no type for them
        size = st.st_size if kind == REG else 0
        if kind == REG and st.st_nlink > 1:
            first = self._links.setdefault((st.st_dev, st.st_ino), name)
            if first != name:
                kind, link, size, data_fd = LNK, first, 0, None
        rdev = st.st_rdev if kind in (CHR, BLK) else 0
        entry = Entry(name + "/" if kind == DIR and not name.endswith("/") else name, kind,
                      st.st_mode & 0o7777 | stat.S_IFMT(st.st_mode), st.st_uid, st.st_gid, size,
                      st.st_mtime_ns, link, os.major(rdev), os.minor(rdev), xattrs or {})
        self.out.write(encode_header(entry))
        if kind == REG and size:
            self._copy(data_fd, size)

    def _copy(self, fd: int | None, size: int) -> None:
        left = size
        while fd is not None and left:
            data = os.read(fd, min(left, _CHUNK))
            if not data:
                break
            self.out.write(data)
            left -= len(data)
        if left:  # it shrank (or went away) while being read: keep the tar well formed
            self.out.write(bytes(left))
        self.out.write(bytes(-size % BLOCK))

    def close(self) -> None:
        self.out.write(bytes(2 * BLOCK))


def write_path(root: Root, path: str, target: Target, out: BinaryIO) -> None:
    """The tar of ``path`` (resolved as :meth:`Root.target` does) to ``out``."""
    tar = TarOut(out)
    top = base_name(clean(path))
    if target.name:
        _write_child(root, tar, target.dir_fd, target.name, target.st, shown=top)
    else:
        fd = os.open(".", _OPEN_DIR, dir_fd=target.dir_fd)
        try:
            _write_tree(root, tar, fd, top, os.fstat(fd))
        finally:
            os.close(fd)
    tar.close()


def write_root(root: Root, out: BinaryIO, skip: Callable[[str], bool] | None = None) -> None:
    """The whole root as ``docker export`` writes it: entries relative to the root, without
    the root itself; ``skip(rel)`` leaves an entry (and what is under it) out."""
    tar = TarOut(out)
    fd = os.open(".", _OPEN_DIR, dir_fd=root.fd)
    try:
        _walk(root, tar, fd, "", skip)
    finally:
        os.close(fd)
    tar.close()


def _write_child(root: Root, tar: TarOut, parent: int, name: str, st: os.stat_result, *,
                 shown: str) -> None:
    if stat.S_ISDIR(st.st_mode):
        try:
            fd = os.open(name, _OPEN_DIR, dir_fd=parent)
        except OSError:
            return  # replaced or removed meanwhile
        try:
            opened = os.fstat(fd)
            if (opened.st_dev, opened.st_ino) == (st.st_dev, st.st_ino):
                _write_tree(root, tar, fd, shown, opened)
        finally:
            os.close(fd)
    elif stat.S_ISREG(st.st_mode):
        _write_file(tar, parent, name, st, shown)
    elif stat.S_ISLNK(st.st_mode):
        try:
            link = os.readlink(name, dir_fd=parent)
        except OSError:
            return
        tar.add(shown, st, link=link)
    else:
        tar.add(shown, st)


def _write_file(tar: TarOut, parent: int, name: str, st: os.stat_result, shown: str) -> None:
    try:
        fd = os.open(name, _OPEN_FILE, dir_fd=parent)
    except OSError:
        return
    try:
        opened = os.fstat(fd)
        if (opened.st_dev, opened.st_ino) != (st.st_dev, st.st_ino) or \
                not stat.S_ISREG(opened.st_mode):
            return
        tar.add(shown, opened, data_fd=fd, xattrs=_xattrs(fd))
    finally:
        os.close(fd)


def _xattrs(fd: int) -> dict[str, bytes]:
    found = {}
    for name in _XATTRS:
        try:
            found[name] = os.getxattr(fd, name)
        except OSError:
            continue
    return found


def _write_tree(root: Root, tar: TarOut, fd: int, shown: str, st: os.stat_result) -> None:
    tar.add(shown if shown.endswith("/") else shown + "/", st)
    if root.is_pseudo(st):
        return
    prefix = "/" if shown == "/" else shown.rstrip("/") + "/"
    _walk(root, tar, fd, prefix, None)


def _walk(root: Root, tar: TarOut, top: int, prefix: str,
          skip: Callable[[str], bool] | None) -> None:
    """Everything under the directory ``top`` in lexical order, each directory before its
    contents; names are ``prefix`` + the path under ``top``."""
    stack: list[tuple[int, str, list[str]]] = [(top, "", _names(top))]
    try:
        while stack:
            fd, rel, names = stack[-1]
            if not names:
                stack.pop()
                if fd != top:
                    os.close(fd)
                continue
            name = names.pop()
            child = f"{rel}{name}"
            if skip is not None and skip(child):
                continue
            try:
                st = os.stat(name, dir_fd=fd, follow_symlinks=False)
            except OSError:
                continue
            if not stat.S_ISDIR(st.st_mode):
                _write_child(root, tar, fd, name, st, shown=prefix + child)
                continue
            sub = _open_dir(fd, name, st)
            if sub is None:
                continue
            tar.add(prefix + child + "/", st)
            if root.is_pseudo(st):
                os.close(sub)
                continue
            stack.append((sub, child + "/", _names(sub)))
    finally:
        for fd, _, _ in stack:
            if fd != top:
                os.close(fd)


def _open_dir(parent: int, name: str, st: os.stat_result) -> int | None:
    try:
        fd = os.open(name, _OPEN_DIR, dir_fd=parent)
    except OSError:
        return None
    opened = os.fstat(fd)
    if (opened.st_dev, opened.st_ino) != (st.st_dev, st.st_ino):
        os.close(fd)
        return None
    return fd


def _names(fd: int) -> list[str]:
    """The names in the directory ``fd``, reversed (popped from the end: lexical order)."""
    try:
        names = os.listdir(fd)
    except OSError:
        return []
    names.sort(key=lambda n: n.encode("utf-8", "surrogateescape"), reverse=True)
    return names
