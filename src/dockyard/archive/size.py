"""dockerd's size of a layer, counted from its tar entries as they pass.

dockerd 20.10's overlay2 driver reports a layer's size as moby ``pkg/directory.Size`` of its diff
directory: the sum of ``st_size`` over every entry that is not a directory, a hard-linked inode
counted once. Read from the tar, that is: a regular file counts its size, a symlink the length of
its target, a whiteout (a 0:0 device in the diff) and any other node nothing; a later entry at the
same path replaces the earlier one; a hard link to an entry of this tar shares its inode. The
image service shows it as the layer's (and image's) size.
"""

from __future__ import annotations

import posixpath

from dockyard.archive.paths import WHITEOUT_OPAQUE, WHITEOUT_PREFIX, join
from dockyard.archive.tarreader import DIR, LNK, REG, SYM, Entry


class DiffSize:
    """Feed every entry to :meth:`add`, in order; read :attr:`total` at the end."""

    def __init__(self) -> None:
        self._inode_of: dict[str, int] = {}  # path -> index into _sizes
        self._sizes: list[int] = []

    def add(self, path: str, entry: Entry) -> None:
        """``path`` is the entry's name cleaned (:func:`~dockyard.archive.paths.clean_path`)."""
        parent, _, base = path.rpartition("/")
        if entry.type == DIR or base == WHITEOUT_OPAQUE:
            self._inode_of.pop(path, None)
            return
        size = 0
        if base.startswith(WHITEOUT_PREFIX):
            path = join(parent, base[len(WHITEOUT_PREFIX) :])
        elif entry.type == LNK:
            inode = self._inode_of.get(_clean(entry.linkname))
            if inode is not None:
                self._inode_of[path] = inode
                return
        elif entry.type == REG:
            size = entry.size
        elif entry.type == SYM:
            size = len(entry.linkname.encode("utf-8", "surrogateescape"))
        self._inode_of[path] = len(self._sizes)
        self._sizes.append(size)

    @property
    def total(self) -> int:
        return sum(self._sizes[inode] for inode in set(self._inode_of.values()))


def _clean(name: str) -> str:
    return posixpath.normpath("/" + name).lstrip("/")
