"""The target directory of an extraction, and the path checks that keep every write inside it.

An entry path is cleaned first (:func:`~dockyard.archive.paths.clean_path`); then every parent
component is checked with ``lstat`` before anything is created under it: a symlink there is a
breakout, whether an earlier entry of this layer planted it or an earlier layer did. Directories
found real (or created) are cached so that each is checked once; the cache entries under a path are
forgotten whenever that path is removed or replaced. The final component is never followed: files
are created with ``O_CREAT | O_EXCL | O_NOFOLLOW`` after whatever was there is removed, and
metadata calls use ``follow_symlinks=False``.

This is safe because the caller owns the target exclusively while a layer is applied (a snapshot
being prepared): no other process swaps a directory for a symlink between the check and the use.
"""

from __future__ import annotations

import logging
import os
import stat

from dockyard.archive.paths import join, parent_of
from dockyard.errors import Breakout, InvalidArgument

log = logging.getLogger(__name__)

_DIR_OPEN = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC


class Target:
    """The directory a layer is applied to, with its cache of checked directories and the set of
    paths written by this layer (and their parents)."""

    def __init__(self, root: str, layer: str) -> None:
        self.root = root.rstrip("/") or "/"
        self._prefix = self.root if self.root.endswith("/") else self.root + "/"
        self.layer = layer
        self._dirs: set[str] = {""}
        self.written: set[str] = {""}
        # Directories this extraction made (empty): what is in one, it made too, so the path is
        # in ``written`` or in ``made`` (what it made besides the entries: a whiteout's implicit
        # parents, overlay whiteout devices).
        self.fresh: set[str] = set()
        self.made: set[str] = set()
        self.removed = False  # whether anything was deleted from the target

    def path(self, rel: str) -> str:
        return self._prefix + rel if rel else self.root

    def mark_written(self, rel: str) -> None:
        written = self.written
        while rel not in written:
            written.add(rel)
            rel = parent_of(rel)

    def add_dir(self, rel: str) -> None:
        self._dirs.add(rel)

    @property
    def dirs(self) -> set[str]:
        """The directories checked or created so far (all of them, in a target that was empty)."""
        return self._dirs

    def ensure_dir(self, rel: str, entry: str, *, create: bool = True) -> None:
        """Makes sure ``rel`` is a real directory, every component checked; creates missing ones
        (mode 0755, as moby) unless ``create`` is false, when a missing one is an error."""
        if rel in self._dirs:
            return
        missing: list[str] = []
        while rel not in self._dirs:
            missing.append(rel)
            rel = parent_of(rel)
        for rel in reversed(missing):
            self._check_dir(rel, entry, create)
            self._dirs.add(rel)

    def _check_dir(self, rel: str, entry: str, create: bool) -> None:
        path = self.path(rel)
        try:
            mode = os.lstat(path).st_mode
        except FileNotFoundError:
            if not create:
                raise InvalidArgument(
                    f"layer {self.layer}: entry {entry!r} needs {rel!r}, which does not exist"
                ) from None
            os.mkdir(path, 0o755)
            os.chmod(path, 0o755)  # whatever the umask
            self.fresh.add(rel)
            self.made.add(rel)
            return
        if stat.S_ISLNK(mode):
            raise Breakout(
                f"layer {self.layer}: entry {entry!r} goes through the symlink {rel!r}"
            )
        if not stat.S_ISDIR(mode):
            raise InvalidArgument(
                f"layer {self.layer}: entry {entry!r} needs {rel!r} to be a directory"
            )

    def clear(self, rel: str) -> int:
        """Removes whatever is at ``rel`` (a directory with its contents); returns the ``st_mode``
        it had, or 0 if nothing was there."""
        path = self.path(rel)
        try:
            st = os.lstat(path)
        except FileNotFoundError:
            return 0
        self.removed = True
        if stat.S_ISDIR(st.st_mode):
            remove_tree(path)
            self.forget(rel)
        else:
            os.unlink(path)
        return st.st_mode

    def forget(self, rel: str) -> None:
        """Drops the cached directories at and under ``rel`` (it was removed)."""
        under = rel + "/"
        self._dirs = {d for d in self._dirs if d != rel and not d.startswith(under)}
        self.fresh = {d for d in self.fresh if d != rel and not d.startswith(under)}

    def clear_unwritten(self, rel: str) -> None:
        """Removes everything under the directory ``rel`` that this layer did not write (an
        opaque directory in a full copy of the parent tree). A path not written has no written
        descendant (:meth:`mark_written` adds the parents), so its whole subtree goes."""
        stack = [rel]
        while stack:
            current = stack.pop()
            with os.scandir(self.path(current)) as it:
                children = [(child.name, child.is_dir(follow_symlinks=False)) for child in it]
            for name, is_dir in children:
                child = join(current, name)
                if child in self.written:
                    if is_dir:
                        stack.append(child)
                elif is_dir:
                    self.removed = True
                    remove_tree(self.path(child))
                else:
                    self.removed = True
                    os.unlink(self.path(child))
        under = rel + "/" if rel else ""
        self._dirs = {d for d in self._dirs if not d.startswith(under) or d in self.written}
        self.fresh = {d for d in self.fresh if not d.startswith(under) or d in self.written}
        self._dirs.add(rel)


def remove_tree(top: str) -> None:
    """Removes the real directory ``top`` and its contents without following any symlink in it.
    Iterative (depth is bounded only by PATH_MAX, far past Python's recursion limit)."""
    stack: list[tuple[str, bool]] = [(top, False)]
    while stack:
        path, emptied = stack.pop()
        if emptied:
            os.rmdir(path)
            continue
        stack.append((path, True))
        with os.scandir(path) as it:
            for child in it:
                if child.is_dir(follow_symlinks=False):
                    stack.append((child.path, False))
                else:
                    os.unlink(child.path)


def open_dir(path: str) -> int:
    """An fd for the directory ``path``, refusing a symlink in the last component."""
    return os.open(path, _DIR_OPEN)
