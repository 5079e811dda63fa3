"""Applying a layer tar to a directory in one pass: decompress, hash, parse, extract.

The stream is read once. Its decompressed bytes are hashed as they pass (the diffID covers the
whole tar, end padding included), parsed by :class:`~dockyard.archive.tarreader.TarReader` and
written to the target by :class:`Applier`, which follows what moby and containerd do when they
apply an OCI layer (image-spec layer.md):

* an existing path is replaced by the new entry, except that a directory entry over a directory
  merges with it and updates its metadata;
* ownership (numeric uid/gid, only when running as root), then mode (chown clears set-id bits),
  then xattrs (chown clears ``security.capability``), then mtime; directory modes and mtimes are
  set at the end, after their children are written;
* whiteouts, two ways. ``overlay``: the target is an overlayfs upper directory without the lower
  content, so ``.wh.<name>`` becomes a 0:0 character device and ``.wh..wh..opq`` the xattr
  ``trusted.overlay.opaque=y``. ``copy``: the target is a full copy of the parent tree, so the
  whiteout removes ``<name>`` and opacity removes what this layer did not write in the directory.
  As the spec says, a whiteout hides only lower content: what this layer wrote stays;
* no entry creates, changes or removes anything outside the target (see
  :mod:`dockyard.archive.target`); an escape raises :class:`~dockyard.errors.Breakout`.

Where creating a file proves slow (the kernel scanning for a free inode, see
:mod:`dockyard.archive.workers`), regular files up to ``_MAX_QUEUED_FILE`` bytes are handed to a
few worker threads while this thread parses on; where it is fast, threads would only add their
overhead (10 % measured), so the files are written here until a window of ``_PROBE_FILES``
small files has more than half slower than ``_SLOW_CREATE_NS``. Every check stays on this thread,
and so do directories, links and nodes. This thread waits for the workers (``_settle``) before
anything that could meet their work: a path this layer wrote already (a replacement, a
whiteout, a link to it), a parent that is not a checked directory yet, and the deferred
directory metadata. A path it did not write has no pending work under it, and a file in a
directory this extraction made is new unless this layer wrote or made it (``Target.made``), so
neither needs a wait, nor a look.

Two counts come out of the same pass: dockerd's size of the layer (:mod:`dockyard.archive.size`)
and, with ``measure``, the bytes allocated and inodes of what the extraction created (each new
inode is stat'ed right after it is written, each directory at the end), so that a snapshotter
need not walk the tree again. That usage is None when the target was not empty at the start or
the layer removed something.

On any error the caller discards the target; nothing is rolled back here.
"""

from __future__ import annotations

import errno
import logging
import os
import stat
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Literal, Protocol

from dockyard.archive.compression import Compression, Readable, open_stream
from dockyard.archive.paths import (
    Whiteout,
    clean_path,
    is_aufs_metadata,
    parent_of,
    parse_whiteout,
)
from dockyard.archive.size import DiffSize
from dockyard.archive.target import Target, open_dir
from dockyard.archive.tarreader import BLK, CHR, DIR, FIFO, LNK, REG, SYM, Entry, TarReader
from dockyard.archive.workers import Workers
from dockyard.errors import Breakout, DockyardError, Internal, InvalidArgument, SystemCallError
from dockyard.oci.digest import Digest
from dockyard.snapshots import Usage

log = logging.getLogger(__name__)

WhiteoutMode = Literal["overlay", "copy"]
OPAQUE_XATTR = "trusted.overlay.opaque"
_OVERLAY_XATTRS = ("trusted.overlay.", "user.overlay.")  # overlayfs's own, never a layer's
_CREATE = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
_BEST_EFFORT_XATTR = (errno.EOPNOTSUPP, errno.EPERM)
_KEPT_XATTRS = (*_OVERLAY_XATTRS, "security.selinux")
THREADS = 2  # file-creating workers; two cores are enough to overlap parsing and the kernel
_BUDGET = 32 << 20  # bytes of file data queued for the workers at most
_MAX_QUEUED_FILE = 8 << 20  # bigger files are streamed to disk by this thread
_JOB_COST = 16 << 10  # what a queued file costs beyond its data (bounds the queue's length)
_PROBE_FILES = 64  # small files timed per window before the workers are called in
_PROBE_MAX_SIZE = 16 << 10  # files timed: up to this size, so that the data does not count
_SLOW_CREATE_NS = 60_000  # 5-15 us where inode allocation is cheap, 150-250 us where it scans


class EntryData(Protocol):
    """Where a regular file's data comes from (:class:`TarReader`)."""

    def copy_data(self, fd: int) -> None: ...

    def take_data(self) -> list[memoryview]: ...


@dataclass(frozen=True, slots=True)
class ApplyResult:
    """``diff_id`` digests the uncompressed tar, ``size`` counts its bytes, ``diff_size`` is
    dockerd's size of the layer; ``usage`` is what the extraction allocated (see the module
    docstring), or None."""

    diff_id: Digest
    size: int
    compression: Compression
    diff_size: int = 0
    usage: Usage | None = None


def apply_layer(
    stream: Readable,
    target: Path,
    *,
    whiteouts: WhiteoutMode,
    name: str = "layer",
    stream_digest: Callable[[], Digest] | None = None,
    measure: bool = False,
    threads: int = THREADS,
) -> ApplyResult:
    """Extracts the layer tar read from ``stream`` (plain, gzip or zstd) into ``target``.

    ``stream_digest``, if given, returns the sha256 digest of every byte read from ``stream``
    (a :class:`~dockyard.content.tee.TeeReader` into a content writer computes it anyway). The
    stream is read to its end, so for an uncompressed layer that is the diffID, and the bytes are
    not hashed a second time here. ``measure`` counts the usage (see the module docstring).
    ``threads`` create the regular files where creating them here proves slow (0: never).
    """
    if whiteouts not in ("overlay", "copy"):
        raise InvalidArgument(f"layer {name}: unknown whiteout mode {whiteouts!r}")
    log.debug("apply layer %s to %s (%s whiteouts)", name, target, whiteouts)
    workers = Workers(threads, _BUDGET, f"extract {name}") if threads > 0 else None
    applier = Applier(Target(os.fspath(target), name), whiteouts, measure=measure,
                      workers=workers, on_demand=True)
    try:
        source = open_stream(stream, name)
        hashed = stream_digest if source.compression == "none" else None
        reader = TarReader(source, name, hashing=hashed is None)
        while (entry := reader.next()) is not None:
            applier.apply(entry, reader)
        applier.finish()
    except OSError as exc:
        raise SystemCallError(
            "read", exc.errno or errno.EIO, f"layer {name} from its stream"
        ) from exc
    finally:
        if workers is not None:
            workers.close()  # nothing writes into the target after this returns
    diff_id = reader.digest if hashed is None else hashed()
    if diff_id.algorithm != "sha256":
        raise Internal(f"layer {name}: the stream's digest {diff_id} is not a sha256 diffID")
    return ApplyResult(diff_id, reader.size, source.compression, applier.diff_size.total,
                       applier.usage())


class Applier:
    """Writes entries into a :class:`Target`, one at a time, then :meth:`finish`."""

    def __init__(self, target: Target, whiteouts: WhiteoutMode, *, measure: bool = False,
                 workers: Workers | None = None, on_demand: bool = False) -> None:
        """``workers`` create regular files; with ``on_demand``, only once creating them here
        proves slow."""
        self.target = target
        self.overlay = whiteouts == "overlay"
        self.as_root = os.geteuid() == 0
        self.diff_size = DiffSize()
        self._workers = workers
        self._parallel = workers is not None and not on_demand
        self._window = [0, 0]  # files timed, slow ones among them
        empty = not os.listdir(target.root)
        if empty:
            target.fresh.add("")
        # Bytes allocated and inodes created; counted only in a target that starts empty.
        self._tally: list[int] | None = [0, 0] if measure and empty else None
        self._tally_lock = threading.Lock()  # the workers count too
        self._deferred: dict[str, Entry] = {}  # directory modes and mtimes, set last
        self._create: dict[str, Callable[[str, Entry, EntryData], None]] = {
            REG: self._file, DIR: self._dir, SYM: self._symlink, LNK: self._hardlink,
            CHR: self._node, BLK: self._node, FIFO: self._node,
        }

    def apply(self, entry: Entry, data: EntryData) -> None:
        with self._errors(entry):
            self._apply(entry, data)

    @contextmanager
    def _errors(self, entry: Entry) -> Iterator[None]:
        """Foreign errors become the taxonomy's, naming the layer and the entry."""
        try:
            yield
        except DockyardError:
            raise
        except OSError as exc:
            where = f" at {exc.filename}" if exc.filename else ""
            raise SystemCallError(
                "extract", exc.errno or errno.EIO,
                f"layer {self.target.layer} entry {entry.name!r}{where}",
            ) from exc
        except (ValueError, OverflowError) as exc:  # a NUL in a name, a uid past 2**32...
            raise InvalidArgument(
                f"layer {self.target.layer}: entry {entry.name!r} is invalid: {exc}"
            ) from exc

    def _apply(self, entry: Entry, data: EntryData) -> None:
        rel = clean_path(entry.name, self.target.layer)
        self.diff_size.add(rel, entry)
        if is_aufs_metadata(rel):
            log.debug("layer %s: skip aufs metadata %r", self.target.layer, entry.name)
            return
        whiteout = parse_whiteout(rel, self.target.layer)
        if whiteout is not None:
            self._settle()  # it looks at and removes paths
            self._whiteout(whiteout, entry)
            return
        if not rel:
            self._root(entry)
            return
        parent = parent_of(rel)
        if parent not in self.target.dirs or (entry.type != REG and rel in self.target.written):
            self._settle()  # a parent may be a queued file; so may what this entry replaces
        self.target.ensure_dir(parent, entry.name)
        self._create[entry.type](rel, entry, data)
        self.target.mark_written(rel)

    def _settle(self) -> None:
        """Waits until the workers have created every file queued so far."""
        if self._workers is not None and self._workers.busy:
            self._workers.drain()

    def finish(self) -> None:
        """Sets the deferred directory modes and mtimes; counts the directories."""
        self._settle()
        for rel, entry in self._deferred.items():
            try:
                fd = open_dir(self.target.path(rel))
                try:
                    os.fchmod(fd, entry.mode)
                    os.utime(fd, ns=(entry.mtime_ns, entry.mtime_ns))
                    self._count(fd)
                finally:
                    os.close(fd)
            except OSError as exc:
                where = f"layer {self.target.layer} directory {rel or '.'!r}"
                raise SystemCallError("extract", exc.errno or errno.EIO, where) from exc
        if self._tally is not None:
            for rel in self.target.dirs.difference(self._deferred):
                self._count(self.target.path(rel))
        self._deferred.clear()

    def usage(self) -> Usage | None:
        """What the extraction allocated (after :meth:`finish`), if it was counted."""
        if self._tally is None or self.target.removed:
            return None
        return Usage(size=self._tally[0], inodes=self._tally[1])

    def _count(self, where: int | str) -> None:
        """Adds a new inode (an fd, or a path that is not followed) to the tally."""
        if self._tally is not None:
            st = os.fstat(where) if isinstance(where, int) else os.lstat(where)
            with self._tally_lock:
                self._tally[0] += st.st_blocks * 512
                self._tally[1] += 1

    # -- entries ---------------------------------------------------------------------------

    def _file(self, rel: str, entry: Entry, data: EntryData) -> None:
        target = self.target
        if rel in target.written or rel in target.made or parent_of(rel) not in target.fresh:
            self._replace(rel)  # whatever is there (settled first if this layer wrote it)
        path = self.target.path(rel)
        if self._workers is None or not self._parallel or entry.size > _MAX_QUEUED_FILE:
            start = time.perf_counter_ns()
            self._write_file(path, entry, data.copy_data)
            if self._workers is not None and entry.size <= _PROBE_MAX_SIZE:
                self._observe(time.perf_counter_ns() - start)
            return
        fill = partial(_write_views, data.take_data())
        self._workers.submit(entry.size + _JOB_COST, partial(self._job, path, entry, fill))

    def _observe(self, elapsed_ns: int) -> None:
        """Calls the workers in when most files of a window were slow to create."""
        window = self._window
        window[0] += 1
        window[1] += elapsed_ns > _SLOW_CREATE_NS
        if window[0] == _PROBE_FILES:
            if window[1] * 2 > _PROBE_FILES and not self._parallel:
                log.debug("layer %s: creating files is slow here; using worker threads",
                          self.target.layer)
                self._parallel = True
            window[0] = window[1] = 0

    def _job(self, path: str, entry: Entry, fill: Callable[[int], None]) -> None:
        with self._errors(entry):
            self._write_file(path, entry, fill)

    def _write_file(self, path: str, entry: Entry, fill: Callable[[int], None]) -> None:
        """Creates the file ``path`` (nothing may be there), fills it, sets its metadata."""
        fd = os.open(path, _CREATE, 0o600)
        try:
            fill(fd)
            if self.as_root:
                os.fchown(fd, entry.uid, entry.gid)
            os.fchmod(fd, entry.mode)
            self._xattrs(fd, entry)
            os.utime(fd, ns=(entry.mtime_ns, entry.mtime_ns))
            self._count(fd)
        finally:
            os.close(fd)

    def _dir(self, rel: str, entry: Entry, data: EntryData) -> None:
        path = self.target.path(rel)
        try:
            os.mkdir(path, 0o700)
            self.target.fresh.add(rel)
        except FileExistsError:
            old = os.lstat(path)
            if stat.S_ISDIR(old.st_mode):
                self._drop_xattrs(path, entry)
            else:
                self._replace(rel)
                os.mkdir(path, 0o700)
                self.target.fresh.add(rel)
                if self.overlay and stat.S_ISCHR(old.st_mode) and old.st_rdev == 0:
                    # It replaces this layer's whiteout: lower content must stay hidden.
                    os.setxattr(path, OPAQUE_XATTR, b"y", follow_symlinks=False)
        self.target.add_dir(rel)
        self._dir_meta(rel, entry)

    def _drop_xattrs(self, path: str, entry: Entry) -> None:
        """A directory entry over a directory brings its whole metadata, as it would on
        overlayfs: xattrs it does not list go (but overlayfs's own and the host's label stay)."""
        for key in os.listxattr(path, follow_symlinks=False):
            if key not in entry.xattrs and not key.startswith(_KEPT_XATTRS):
                os.removexattr(path, key, follow_symlinks=False)

    def _root(self, entry: Entry) -> None:
        if entry.type != DIR:
            raise InvalidArgument(
                f"layer {self.target.layer}: entry {entry.name!r} would replace the target "
                "directory with a non-directory"
            )
        self._drop_xattrs(self.target.root, entry)
        self._dir_meta("", entry)

    def _dir_meta(self, rel: str, entry: Entry) -> None:
        path = self.target.path(rel)
        if self.as_root:
            os.chown(path, entry.uid, entry.gid, follow_symlinks=False)
        self._xattrs(path, entry)
        self._deferred[rel] = entry

    def _symlink(self, rel: str, entry: Entry, data: EntryData) -> None:
        path = self.target.path(rel)
        try:
            os.symlink(entry.linkname, path)
        except FileExistsError:
            self._replace(rel)
            os.symlink(entry.linkname, path)
        self._path_meta(path, entry, chmod=False)
        self._count(path)

    def _hardlink(self, rel: str, entry: Entry, data: EntryData) -> None:
        self._settle()  # the source may be a queued file
        layer = self.target.layer
        try:
            source = clean_path(entry.linkname, layer)
        except Breakout:
            raise Breakout(f"layer {layer}: hardlink {entry.name!r} to {entry.linkname!r} points "
                           "outside the target") from None
        if source == rel:
            log.debug("layer %s: hardlink %r to itself ignored", layer, entry.name)
            return
        self.target.ensure_dir(source.rpartition("/")[0], entry.name, create=False)
        source_path, path = self.target.path(source), self.target.path(rel)
        try:
            source_mode = os.lstat(source_path).st_mode
        except FileNotFoundError:
            raise InvalidArgument(
                f"layer {layer}: hardlink {entry.name!r} to {entry.linkname!r}, which does not "
                "exist"
            ) from None
        if not source or stat.S_ISDIR(source_mode):
            raise InvalidArgument(f"layer {layer}: hardlink {entry.name!r} to a directory")
        try:
            os.link(source_path, path, follow_symlinks=False)
        except FileExistsError:
            self._replace(rel)
            os.link(source_path, path, follow_symlinks=False)
        # As containerd: the header's metadata applies to the (shared) inode, never through a
        # symlink.
        self._path_meta(path, entry, chmod=not stat.S_ISLNK(source_mode))

    def _node(self, rel: str, entry: Entry, data: EntryData) -> None:
        path = self.target.path(rel)
        try:
            self._make_node(path, entry)
        except FileExistsError:
            self._replace(rel)
            self._make_node(path, entry)
        self._path_meta(path, entry, chmod=True)
        self._count(path)

    @staticmethod
    def _make_node(path: str, entry: Entry) -> None:
        if entry.type == FIFO:
            os.mkfifo(path, 0o600)
        else:
            kind = stat.S_IFCHR if entry.type == CHR else stat.S_IFBLK
            os.mknod(path, kind | 0o600, os.makedev(entry.devmajor, entry.devminor))

    def _replace(self, rel: str) -> None:
        """Removes what is at ``rel`` so that a new entry can take its place."""
        if rel in self.target.written:
            self._settle()  # a queued file there, or under it
        if stat.S_ISDIR(self.target.clear(rel)):
            self._forget_deferred(rel)

    def _forget_deferred(self, rel: str) -> None:
        under = rel + "/"
        for key in [k for k in self._deferred if k == rel or k.startswith(under)]:
            del self._deferred[key]

    def _path_meta(self, path: str, entry: Entry, *, chmod: bool) -> None:
        if self.as_root:
            os.chown(path, entry.uid, entry.gid, follow_symlinks=False)
        if chmod:
            os.chmod(path, entry.mode)  # never a symlink: the caller checked
        self._xattrs(path, entry)
        os.utime(path, ns=(entry.mtime_ns, entry.mtime_ns), follow_symlinks=False)

    def _xattrs(self, where: int | str, entry: Entry) -> None:
        for key, value in entry.xattrs.items():
            if key.startswith(_OVERLAY_XATTRS):
                log.debug("layer %s: %r: skip xattr %s", self.target.layer, entry.name, key)
                continue
            try:
                if isinstance(where, int):
                    os.setxattr(where, key, value)
                else:
                    os.setxattr(where, key, value, follow_symlinks=False)
            except OSError as exc:
                if exc.errno not in _BEST_EFFORT_XATTR:
                    raise
                log.warning("layer %s: %r: xattr %s not set: %s", self.target.layer,
                            entry.name, key, exc.strerror)

    # -- whiteouts -------------------------------------------------------------------------

    def _whiteout(self, whiteout: Whiteout, entry: Entry) -> None:
        target = self.target
        if whiteout.kind == "skip":
            log.debug("layer %s: skip aufs metadata %r", target.layer, entry.name)
            return
        if whiteout.kind == "opaque":
            target.ensure_dir(whiteout.path, entry.name)
            self._opaque(whiteout.path)
            return
        rel = whiteout.path
        target.ensure_dir(rel.rpartition("/")[0], entry.name)
        if rel in target.written:
            # The spec: a whiteout hides lower content only. What this layer wrote stays, but a
            # directory it wrote must not show the lower directory's content any more.
            if stat.S_ISDIR(os.lstat(target.path(rel)).st_mode):
                self._opaque(rel)
            return
        if self.overlay:
            self._whiteout_device(rel, entry)
        else:
            self._replace(rel)

    def _opaque(self, rel: str) -> None:
        if self.overlay:
            os.setxattr(self.target.path(rel), OPAQUE_XATTR, b"y", follow_symlinks=False)
        else:
            self.target.clear_unwritten(rel)  # keeps every directory with deferred metadata

    def _whiteout_device(self, rel: str, entry: Entry) -> None:
        path = self.target.path(rel)
        try:
            os.mknod(path, stat.S_IFCHR, os.makedev(0, 0))
        except FileExistsError:
            self._replace(rel)
            os.mknod(path, stat.S_IFCHR, os.makedev(0, 0))
        self.target.made.add(rel)
        if self.as_root:
            os.chown(path, entry.uid, entry.gid, follow_symlinks=False)
        os.utime(path, ns=(entry.mtime_ns, entry.mtime_ns), follow_symlinks=False)
        self._count(path)


def _write_views(views: list[memoryview], fd: int) -> None:
    for view in views:
        rest = view
        while rest:
            rest = rest[os.write(fd, rest) :]
