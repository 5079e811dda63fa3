"""Writable root filesystems for build steps, and the layers they turn into.

A step that changes files (COPY, ADD, WORKDIR, RUN) prepares an active snapshot on its
parent's chain, labelled so that recovery removes it after a crash. COPY, ADD and WORKDIR
mount it under the builder's temp directory and write through the mount, so overlayfs does
the copy-ups and symlinks in the image resolve as in a container; RUN hands its mounts to the
executor. The step's changes then become a layer tar (the overlay upper dir, or the difference
with the parent tree for the native snapshotter), stored uncompressed in the content store,
and the snapshot is committed under the new chainID; a diff with no entry adds no layer.

With SOURCE_DATE_EPOCH, every changed entry newer than the epoch gets the epoch as its mtime
before the tar is written, so the layer's bytes do not depend on when the build ran::

    <tmp>/mnt-<n>/      a step's rootfs, mounted while the step writes to it
"""

from __future__ import annotations

import itertools
import logging
import os
import stat
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path

from dockyard.archive.diff import write_diff, write_layer
from dockyard.build.imageconfig import EMPTY_LAYER
from dockyard.content.store import ContentStore
from dockyard.errors import AlreadyExists, DockyardError, NotFound
from dockyard.images.assemble import LayerBlob
from dockyard.images.importer import LABEL_DIFF_SIZE
from dockyard.mount import Mount, mount_all, unmount
from dockyard.oci.digest import Digest
from dockyard.oci.identity import chain_ids
from dockyard.snapshots import Snapshotter
from dockyard.sys import Syscalls

log = logging.getLogger(__name__)

LABEL = "dockyard/extract"  # DataRoot.recover removes such snapshots when no lease holds them


@dataclass
class Scratch:
    """A step's writable snapshot: its key, its parent chain ("" for none), its mounts, and
    where it is mounted (None until :meth:`Layers.mounted`)."""

    key: str
    parent: str
    mounts: list[Mount]
    root: str | None = None


class Layers:
    """Snapshots and layer blobs for the builder of one data root."""

    def __init__(self, content: ContentStore, snapshotter: Snapshotter, snapshotter_name: str,
                 syscalls: Syscalls, tmp: Path) -> None:
        self.content = content
        self.snapshotter = snapshotter
        self.overlay = snapshotter.whiteout_style == "overlay"
        self.syscalls = syscalls
        self.tmp = tmp
        self._counter = itertools.count()
        self._lock = threading.Lock()
        self.snapshot_kind = f"snapshots/{snapshotter_name}"

    def _name(self, prefix: str) -> str:
        with self._lock:
            return f"{prefix}-{os.getpid()}-{uuid.uuid4().hex[:12]}-{next(self._counter)}"

    @contextmanager
    def scratch(self, parent: str, what: str) -> Iterator[Scratch]:
        """An active snapshot on ``parent`` for one step; removed on the way out unless
        :meth:`commit` made it a layer."""
        key = self._name("build")
        mounts = self.snapshotter.prepare(key, parent, labels={LABEL: f"build {what}"[:200]})
        scratch = Scratch(key, parent, mounts)
        try:
            yield scratch
        finally:
            with suppress(NotFound):
                self.snapshotter.remove(key)

    @contextmanager
    def mounted(self, scratch: Scratch) -> Iterator[str]:
        """``scratch`` mounted read-write; the path of its root."""
        with self._mount(scratch.mounts) as root:
            scratch.root = root
            try:
                yield root
            finally:
                scratch.root = None

    @contextmanager
    def view(self, chain: str) -> Iterator[str]:
        """The filesystem of the committed ``chain`` ("" for an empty one), mounted read-only."""
        key = self._name("build-view")
        mounts = self.snapshotter.view(key, chain, labels={LABEL: "build view"})
        try:
            with self._mount(mounts, readonly=True) as root:
                yield root
        finally:
            with suppress(NotFound):
                self.snapshotter.remove(key)

    @contextmanager
    def _mount(self, mounts: list[Mount], readonly: bool = False) -> Iterator[str]:
        target = self.tmp / self._name("mnt")
        target.mkdir(parents=True)
        try:
            if readonly:
                mounts = [Mount(m.type, m.source, (*m.options, "ro")) for m in mounts]
            mount_all(mounts, str(target), self.syscalls)
            try:
                yield str(target)
            finally:
                unmount(str(target), self.syscalls)
        finally:
            with suppress(OSError):
                target.rmdir()

    def remove_leftovers(self) -> None:
        """Remove the snapshots of builds a crash interrupted (once nothing has them mounted),
        children first."""
        infos = [i for i in self.snapshotter.walk()
                 if i.labels.get(LABEL, "").startswith("build")]
        for info in sorted(infos, key=lambda i: i.name.count("-"), reverse=True):
            try:
                self.snapshotter.remove(info.name)
                log.info("removed snapshot %s of an interrupted build", info.name)
            except DockyardError as exc:
                log.warning("cannot remove snapshot %s of an interrupted build: %s",
                            info.name, exc)

    def commit(self, scratch: Scratch, diff_ids: tuple[Digest, ...],
               epoch: int | None) -> LayerBlob | None:
        """Turn the step's changes into a layer on ``diff_ids`` (the parent's layers): the blob
        and the committed snapshot; None when nothing changed."""
        upper = self.snapshotter.upper_dir(scratch.key)
        if epoch is not None:
            self._clamp(upper, scratch.parent, epoch)
        blob = self._write(scratch, upper)
        if blob.diff_id == EMPTY_LAYER:
            return None
        chain = chain_ids((*diff_ids, blob.diff_id))[-1]
        try:
            self.snapshotter.commit(str(chain), scratch.key)
        except AlreadyExists:
            log.debug("layer %s exists already; sharing it", chain)
        return blob

    def _write(self, scratch: Scratch, upper: str) -> LayerBlob:
        ref = self._name("build-layer")
        with self.content.writer(ref) as writer:
            try:
                if self.overlay:
                    info = write_layer(Path(upper), writer)
                else:
                    with self._lower(scratch.parent) as lower:
                        info = write_diff(Path(lower), Path(upper), writer)
                digest = writer.commit(labels={LABEL_DIFF_SIZE: str(_diff_size(upper))}
                                       if self.overlay else None)
            except BaseException:
                with suppress(DockyardError):
                    self.content.abort(ref)
                raise
        return LayerBlob(digest, info.size, "none", info.diff_id)

    @contextmanager
    def _lower(self, parent: str) -> Iterator[str]:
        """The parent's tree, for the native snapshotter's diff."""
        if not parent:
            empty = self.tmp / self._name("empty")
            empty.mkdir(parents=True)
            try:
                yield str(empty)
            finally:
                empty.rmdir()
            return
        key = self._name("build-lower")
        mounts = self.snapshotter.view(key, parent, labels={LABEL: "build lower"})
        try:
            yield mounts[0].source
        finally:
            with suppress(NotFound):
                self.snapshotter.remove(key)

    def _clamp(self, upper: str, parent: str, epoch: int) -> None:
        """Set the mtime of every changed entry newer than ``epoch`` to ``epoch``."""
        limit = epoch * 1_000_000_000
        if self.overlay:
            _clamp_tree(upper, limit, None)
            return
        with self._lower(parent) as lower:
            _clamp_tree(upper, limit, lower)


def _clamp_tree(top: str, limit: int, lower: str | None) -> None:
    """Clamp mtimes under ``top``; with ``lower`` (a full parent tree), only entries that
    differ from the parent's, so unchanged files do not join the diff."""
    for directory, dirs, files in os.walk(top):
        for name in [*dirs, *files]:
            path = os.path.join(directory, name)
            st = os.lstat(path)
            if st.st_mtime_ns <= limit:
                continue
            if lower is not None and _same(st, os.path.join(lower, os.path.relpath(path, top))):
                continue
            os.utime(path, ns=(limit, limit), follow_symlinks=False)


def _same(st: os.stat_result, lower_path: str) -> bool:
    try:
        old = os.lstat(lower_path)
    except (FileNotFoundError, NotADirectoryError):
        return False
    return (old.st_mode, old.st_uid, old.st_gid, old.st_mtime_ns) == (
        st.st_mode, st.st_uid, st.st_gid, st.st_mtime_ns
    ) and (stat.S_ISDIR(st.st_mode) or old.st_size == st.st_size)


def _diff_size(upper: str) -> int:
    """dockerd's size of a layer (``pkg/directory.Size`` of its diff dir): file sizes, a
    hard-linked inode once, symlinks by their target's length, directories and whiteouts 0."""
    seen: set[tuple[int, int]] = set()
    total = 0
    for directory, dirs, files in os.walk(upper):
        for name in [*dirs, *files]:
            st = os.lstat(os.path.join(directory, name))
            if stat.S_ISCHR(st.st_mode) or stat.S_ISDIR(st.st_mode):
                continue
            if st.st_nlink > 1:
                key = (st.st_dev, st.st_ino)
                if key in seen:
                    continue
                seen.add(key)
            total += st.st_size
    return total
