"""Layer tars out of directories: an overlayfs upper directory, or the difference of two trees.

:func:`write_layer` reads an overlay upper directory (the changes of one snapshot): a 0:0
character device is a whiteout and becomes ``.wh.<name>``; a directory with
``trusted.overlay.opaque=y`` becomes the directory entry followed by ``<dir>/.wh..wh..opq``
(what moby's overlay whiteout converter writes). The upper directory must have been written with
``redirect_dir`` and ``metacopy`` off, so that it holds the whole of every changed file.

:func:`write_diff` compares two full trees (the copying snapshotter): an entry is written when it
is new, or when its type, mode, owner, mtime, size, link target, device number or xattrs changed;
a path gone from the upper tree becomes a whiteout. File contents are not compared (as moby's
``ChangesDirs``): a change that keeps size and mtime to the nanosecond goes unseen.

Both write deterministic tars (:mod:`dockyard.archive.tarwriter`): entries in path order with a
directory before its contents, hardlinks found by ``(st_dev, st_ino)`` and written as links to the
first path, xattrs as ``SCHILY.xattr.*`` except ``trusted.overlay.*`` and ``user.overlay.*``
(overlayfs's own) and
``security.selinux`` (the host's labels, which moby does not export either). Sockets are skipped,
as tar has no type for them. The root directory itself is not written.
"""

from __future__ import annotations

import errno
import logging
import os
import stat
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Literal

from dockyard.archive.compression import Compression
from dockyard.archive.paths import WHITEOUT_OPAQUE, WHITEOUT_PREFIX, join
from dockyard.archive.tarreader import BLK, CHR, DIR, FIFO, REG, SYM, Entry
from dockyard.archive.tarwriter import LayerInfo, TarWriter, Writable, hardlink
from dockyard.errors import InvalidArgument, SystemCallError

log = logging.getLogger(__name__)

OPAQUE_XATTR = "trusted.overlay.opaque"
_SKIPPED_XATTRS = ("trusted.overlay.", "user.overlay.", "security.selinux")
_TYPES = {stat.S_IFREG: REG, stat.S_IFDIR: DIR, stat.S_IFLNK: SYM, stat.S_IFCHR: CHR,
          stat.S_IFBLK: BLK, stat.S_IFIFO: FIFO}

# (relative path, absolute path, lstat) of one directory child
_Child = tuple[str, str, os.stat_result]


def write_layer(
    upper: Path, out: Writable, *, whiteouts: Literal["overlay"] = "overlay",
    compression: Compression = "none", level: int | None = None,
    skip: Callable[[str], bool] | None = None,
) -> LayerInfo:
    """The layer tar of the overlay upper directory ``upper``, written (compressed) to ``out``;
    ``level`` is the compression level (gzip 6 and zstd 3 when None); ``skip(rel)`` leaves
    out an entry (a directory with its contents), e.g. the mount points a runtime made."""
    if whiteouts != "overlay":
        raise InvalidArgument(f"unknown whiteout mode {whiteouts!r}: want overlay")
    root = os.fspath(upper)
    log.debug("write layer of %s (%s)", root, compression)
    emitter = _Emitter(TarWriter(out, compression, level))
    try:
        for rel, path, st in _walk(root, skip):
            if _is_whiteout(st):
                emitter.whiteout(rel, st.st_uid, st.st_gid, st.st_mtime_ns)
                continue
            xattrs = read_xattrs(path)
            emitter.entry(rel, path, st, xattrs)
            if stat.S_ISDIR(st.st_mode) and xattrs.get(OPAQUE_XATTR) == b"y":
                emitter.opaque(rel, st)
        return emitter.close()
    except OSError as exc:
        raise SystemCallError("write layer", exc.errno or errno.EIO,
                              f"of {root} at {exc.filename}") from exc


def write_diff(
    lower: Path, upper: Path, out: Writable, *, compression: Compression = "none",
    level: int | None = None,
) -> LayerInfo:
    """The layer tar that turns the tree ``lower`` into the tree ``upper``."""
    log.debug("write diff of %s against %s (%s)", upper, lower, compression)
    emitter = _Emitter(TarWriter(out, compression, level))
    try:
        upper_root = os.fspath(upper)
        stack = [iter(_merged(os.fspath(lower), upper_root, "", os.lstat(upper_root)))]
        while stack:
            for rel, lower_child, upper_child, parent in stack[-1]:
                below = _diff_one(emitter, rel, lower_child, upper_child, parent)
                if below is not None:
                    stack.append(below)
                    break
            else:
                stack.pop()
        return emitter.close()
    except OSError as exc:
        raise SystemCallError("write diff", exc.errno or errno.EIO,
                              f"of {upper} against {lower} at {exc.filename}") from exc


_Merged = Iterator[tuple[str, "_Child | None", "_Child | None", os.stat_result]]


def _diff_one(emitter: _Emitter, rel: str, lower: _Child | None, upper: _Child | None,
              parent: os.stat_result) -> _Merged | None:
    """Writes what changed at ``rel``; returns the children to compare next, if any."""
    if upper is None:
        emitter.whiteout(rel, 0, 0, parent.st_mtime_ns)
        return None
    _, path, st = upper
    xattrs = read_xattrs(path)
    if lower is None or _changed(lower, upper, xattrs):
        emitter.entry(rel, path, st, xattrs)
    elif stat.S_ISDIR(st.st_mode):
        emitter.defer_dir(rel, path, st, xattrs)
    if not stat.S_ISDIR(st.st_mode):
        return None
    lower_dir = lower[1] if lower is not None and stat.S_ISDIR(lower[2].st_mode) else None
    return _merged(lower_dir, path, rel, st)


def _changed(lower: _Child, upper: _Child, upper_xattrs: dict[str, bytes]) -> bool:
    old, new = lower[2], upper[2]
    if (old.st_mode, old.st_uid, old.st_gid, old.st_mtime_ns) != (
        new.st_mode, new.st_uid, new.st_gid, new.st_mtime_ns
    ):
        return True
    if not stat.S_ISDIR(new.st_mode) and old.st_size != new.st_size:
        return True
    if (stat.S_ISCHR(new.st_mode) or stat.S_ISBLK(new.st_mode)) and old.st_rdev != new.st_rdev:
        return True
    if stat.S_ISLNK(new.st_mode) and os.readlink(lower[1]) != os.readlink(upper[1]):
        return True
    return _filtered(read_xattrs(lower[1])) != _filtered(upper_xattrs)


def _merged(lower_dir: str | None, upper_dir: str, rel: str,
            upper_st: os.stat_result) -> _Merged:
    """The children of both directories by path; a side without the path gives None."""
    upper_children = {child[0]: child for child in _children(upper_dir, rel)}
    lower_children = {} if lower_dir is None else {
        child[0]: child for child in _children(lower_dir, rel)
    }
    def emitted_name(child: str) -> str:  # a deleted path is written as its whiteout
        return child if child in upper_children else _whiteout_name(child)

    for child in sorted(upper_children.keys() | lower_children.keys(), key=emitted_name):
        yield child, lower_children.get(child), upper_children.get(child), upper_st


def _children(directory: str, rel: str, *, whiteouts: bool = False) -> list[_Child]:
    """The children of ``directory``, sorted by the names they are written under (with
    ``whiteouts``, a 0:0 character device is written as ``.wh.<name>``)."""
    with os.scandir(directory) as it:
        children = [(join(rel, e.name), e.path, e.stat(follow_symlinks=False)) for e in it]
    if whiteouts:
        children.sort(key=lambda c: _whiteout_name(c[0]) if _is_whiteout(c[2]) else c[0])
    else:
        children.sort(key=lambda c: c[0])
    return children


def _is_whiteout(st: os.stat_result) -> bool:
    return stat.S_ISCHR(st.st_mode) and st.st_rdev == 0


def _whiteout_name(rel: str) -> str:
    parent, _, name = rel.rpartition("/")
    return join(parent, WHITEOUT_PREFIX + name)


def _walk(root: str, skip: Callable[[str], bool] | None = None) -> Iterator[_Child]:
    """Everything under ``root`` in written order, each directory before its contents."""
    stack = [iter(_children(root, "", whiteouts=True))]
    while stack:
        for child in stack[-1]:
            if skip is not None and skip(child[0]):
                continue
            yield child
            if stat.S_ISDIR(child[2].st_mode):
                stack.append(iter(_children(child[1], child[0], whiteouts=True)))
                break
        else:
            stack.pop()


def read_xattrs(path: str) -> dict[str, bytes]:
    """All xattrs of ``path`` itself (never through a symlink), by name."""
    try:
        names = os.listxattr(path, follow_symlinks=False)
    except OSError as exc:
        if exc.errno == errno.EOPNOTSUPP:
            return {}
        raise
    values: dict[str, bytes] = {}
    for name in sorted(names):
        try:
            values[name] = os.getxattr(path, name, follow_symlinks=False)
        except OSError as exc:
            if exc.errno != errno.ENODATA:  # removed in between
                raise
    return values


def _filtered(xattrs: dict[str, bytes]) -> dict[str, bytes]:
    return {k: v for k, v in xattrs.items() if not k.startswith(_SKIPPED_XATTRS)}


class _Emitter:
    """Turns directory entries into tar entries; remembers inodes for hardlinks, and unchanged
    directories so that they are written before a change inside them (as containerd does, so
    that the directory's mtime, changed by the change, is set back)."""

    def __init__(self, writer: TarWriter) -> None:
        self._writer = writer
        self._links: dict[tuple[int, int], str] = {}
        self._pending: dict[str, tuple[str, os.stat_result, dict[str, bytes]]] = {}

    def defer_dir(self, rel: str, path: str, st: os.stat_result,
                  xattrs: dict[str, bytes]) -> None:
        self._pending[rel] = (path, st, xattrs)

    def _parents(self, rel: str) -> None:
        if not self._pending:
            return
        parts = rel.split("/")
        for depth in range(1, len(parts)):
            parent = "/".join(parts[:depth])
            found = self._pending.pop(parent, None)
            if found is not None:
                self._add(parent, *found)

    def entry(self, rel: str, path: str, st: os.stat_result, xattrs: dict[str, bytes]) -> None:
        self._parents(rel)
        self._add(rel, path, st, xattrs)

    def _add(self, rel: str, path: str, st: os.stat_result, xattrs: dict[str, bytes]) -> None:
        kind = _TYPES.get(stat.S_IFMT(st.st_mode))
        if kind is None:
            log.debug("skip %s: tar has no type for it", path)
            return
        entry = Entry(
            rel + "/" if kind == DIR else rel, kind, stat.S_IMODE(st.st_mode), st.st_uid,
            st.st_gid, st.st_size if kind == REG else 0, st.st_mtime_ns,
            os.readlink(path) if kind == SYM else "",
            os.major(st.st_rdev) if kind in (CHR, BLK) else 0,
            os.minor(st.st_rdev) if kind in (CHR, BLK) else 0,
            _filtered(xattrs),
        )
        if kind != DIR and st.st_nlink > 1:
            first = self._links.setdefault((st.st_dev, st.st_ino), rel)
            if first != rel:
                self._writer.add(hardlink(entry, first))
                return
        self._writer.add(entry, path if kind == REG else None)

    def whiteout(self, rel: str, uid: int, gid: int, mtime_ns: int) -> None:
        self._parents(rel)
        self._writer.add(Entry(_whiteout_name(rel), REG, 0o600, uid, gid, 0, mtime_ns))

    def opaque(self, rel: str, st: os.stat_result) -> None:
        self._writer.add(Entry(join(rel, WHITEOUT_OPAQUE), REG, st.st_mode & 0o777, st.st_uid,
                               st.st_gid, 0, st.st_mtime_ns))

    def close(self) -> LayerInfo:
        return self._writer.close()
