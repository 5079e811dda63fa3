"""The native snapshotter (containerd's native plugin): every active snapshot is a full copy of
its parent, so it works on any filesystem, at the cost of the copy (cheap with reflinks on btrfs
and xfs).

On disk (drawn in full in :mod:`dockyard.snapshots.directory`)::

    <root>/metadata.db
    <root>/snapshots/<id>/fs       the whole tree: the parent's copy plus this layer's changes

A layer is applied by changing the tree for real (``whiteout_style`` "copy": a deletion deletes);
its diff is found by comparing the tree with its parent's. Mounts are bind mounts: rw of its own
fs for an active snapshot; ro of the parent's fs for a view (a committed tree never changes, so a
view needs no copy) or of its own empty fs for a view without a parent.

The copy is GNU ``cp -a --reflink=auto``: it keeps owners, modes, times, xattrs (trusted.* too,
as root), hard links within the tree, devices, fifos and symlinks, and clones extents where the
filesystem can.
"""

from __future__ import annotations

import errno
import logging
import os
import subprocess
from pathlib import Path

from dockyard.errors import SystemCallError, Unsupported
from dockyard.mount import Mount
from dockyard.snapshots import Kind, WhiteoutStyle
from dockyard.snapshots.directory import DirectorySnapshotter
from dockyard.snapshots.metadata import Record

log = logging.getLogger(__name__)


def copy_tree(source: Path, target: Path) -> None:
    """Copy the tree ``source`` to the new path ``target``, keeping everything a layer holds."""
    argv = ["cp", "-a", "--reflink=auto", "-T", "--", str(source), str(target)]
    log.debug("running %s", argv)
    try:
        done = subprocess.run(argv, capture_output=True, check=False)
    except FileNotFoundError as exc:
        raise Unsupported("the native snapshotter needs GNU cp, which is not on PATH") from exc
    if done.returncode != 0:
        detail = done.stderr.decode(errors="replace").strip()
        raise SystemCallError("cp -a", errno.EIO, f"{source} to {target} ({detail})")


class NativeSnapshotter(DirectorySnapshotter):
    """Snapshots as full directory copies under ``root``."""

    @property
    def whiteout_style(self) -> WhiteoutStyle:
        return "copy"

    def _populate(self, kind: Kind, new: Path, parent_fs: Path | None) -> None:
        fs = new / "fs"
        if kind is Kind.ACTIVE and parent_fs is not None:
            copy_tree(parent_fs, fs)
        else:
            fs.mkdir()
            os.chmod(fs, 0o755)

    def _seal(self, snapshot_dir: Path) -> None:
        """Nothing to drop: the copy is the layer."""

    def _mounts(self, record: Record) -> list[Mount]:
        if record.info.kind is Kind.ACTIVE:
            return [Mount("bind", str(self.fs_dir(record.id)), ("rw", "rbind"))]
        source = self.fs_dir(record.parent_ids[0] if record.parent_ids else record.id)
        return [Mount("bind", str(source), ("ro", "rbind"))]
