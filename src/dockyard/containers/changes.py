"""What a container changed in its root filesystem (``docker diff``), and which entries of its
writable layer are the engine's, not the container's.

Overlay (dockerd's ``OverlayChanges``): the upper directory is walked in lexical order (dockerd
walks in the file system's order); a 0:0 character device is a deleted path (Kind 2); any
other entry, an opaque directory included (dockerd 20.10 shows a directory removed and made
again as modified), is modified (Kind 0) if a lower layer has the path, else added (Kind 1); a
directory that a lower layer has with the same size, mode and mtime is no change. An added or
deleted path whose parent was not recorded brings its parent in as modified. The copying
snapshotter keeps whole trees: there the container's tree is compared with its image's (new:
added; different type, mode, owner, size, mtime or link: modified; gone: deleted).

dockerd keeps what it makes for a container (mount points for /proc, /sys, /dev, the files
bind-mounted over /etc/hosts, /etc/hostname and /etc/resolv.conf, /.dockerenv, /etc/mtab) in
an "init" layer under the container's, so neither ``docker diff`` nor ``docker commit`` sees
them. dockyard has no init layer: the runtime makes those mount points in the container's
writable layer, and :func:`engine_paths` names them (with the directories that hold nothing
else) so that changes and commits leave them out.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

MODIFIED, ADDED, DELETED = 0, 1, 2
INIT_TREES = ("dev", "proc", "sys")
INIT_FILES = (".dockerenv", "etc/hostname", "etc/hosts", "etc/mtab", "etc/resolv.conf")


@dataclass(frozen=True, slots=True)
class Change:
    path: str   # "/etc/passwd"
    kind: int   # MODIFIED, ADDED, DELETED

    def to_json(self) -> dict[str, object]:
        return {"Path": self.path, "Kind": self.kind}


def _children(directory: str) -> list[os.DirEntry[str]]:
    with os.scandir(directory) as it:
        return sorted(it, key=lambda e: e.name.encode("utf-8", "surrogateescape"))


def _walk(root: str, rel: str = "") -> Iterator[tuple[str, os.stat_result, str]]:
    """(relative path, lstat, absolute path) of everything under ``root``, lexical order,
    each directory before its contents."""
    stack = [iter(_children(os.path.join(root, rel) if rel else root))]
    prefix = [rel]
    while stack:
        for entry in stack[-1]:
            child = f"{prefix[-1]}/{entry.name}" if prefix[-1] else entry.name
            st = entry.stat(follow_symlinks=False)
            yield child, st, entry.path
            if stat.S_ISDIR(st.st_mode):
                stack.append(iter(_children(entry.path)))
                prefix.append(child)
                break
        else:
            stack.pop()
            prefix.pop()


def _lstat(layers: Sequence[str], rel: str) -> os.stat_result | None:
    for layer in layers:
        try:
            return os.lstat(os.path.join(layer, rel))
        except (FileNotFoundError, NotADirectoryError):
            continue
    return None


def _is_whiteout(st: os.stat_result) -> bool:
    return stat.S_ISCHR(st.st_mode) and st.st_rdev == 0


def engine_paths(upper: str, lowers: Sequence[str]) -> frozenset[str]:
    """The entries of the writable layer ``upper`` that stand for dockerd's init layer:
    INIT_TREES and INIT_FILES when they are no whiteout, and the directories above them that
    hold nothing else and that the image has with the same mode and owner (or not at all)."""
    found: set[str] = set()
    for rel in (*INIT_TREES, *INIT_FILES):
        try:
            st = os.lstat(os.path.join(upper, rel))
        except (FileNotFoundError, NotADirectoryError):
            continue
        if not _is_whiteout(st):
            found.add(rel)
    for directory in sorted({r.rpartition("/")[0] for r in found if "/" in r}, reverse=True):
        path = os.path.join(upper, directory)
        try:
            names = os.listdir(path)
            st = os.lstat(path)
        except OSError:
            continue
        if any(f"{directory}/{n}" not in found for n in names):
            continue
        below = _lstat(lowers, directory)
        if below is None or (below.st_mode, below.st_uid, below.st_gid) == \
                (st.st_mode, st.st_uid, st.st_gid):
            found.add(directory)
    return frozenset(found)


def skipped(rel: str, engine: frozenset[str]) -> bool:
    if rel in engine:
        return True
    top = rel.split("/", 1)[0]
    return top in INIT_TREES and top in engine


def overlay_changes(upper: str, lowers: Sequence[str]) -> list[Change]:
    """dockerd's ``OverlayChanges`` of an upper directory over ``lowers`` (top first)."""
    engine = engine_paths(upper, lowers)
    made_in = {r.rpartition("/")[0] for r in engine}
    changes: list[Change] = []
    changed_dirs: set[str] = set()
    for rel, st, _ in _walk(upper):
        if skipped(rel, engine):
            continue
        kind = ADDED
        if _is_whiteout(st):
            kind = DELETED
        else:
            below = _lstat(lowers, rel)
            if below is not None:
                if stat.S_ISDIR(below.st_mode) and stat.S_ISDIR(st.st_mode) and \
                        _same_dir(below, st, ignore_mtime=rel in made_in):
                    continue
                kind = MODIFIED
        if stat.S_ISDIR(st.st_mode):
            changed_dirs.add(rel)
        parent = rel.rpartition("/")[0]
        if kind != MODIFIED and parent and parent not in changed_dirs:
            changes.append(Change("/" + parent, MODIFIED))
            changed_dirs.add(parent)
        changes.append(Change("/" + rel, kind))
    return changes


def _same_dir(lower: os.stat_result, upper: os.stat_result, *, ignore_mtime: bool) -> bool:
    return lower.st_size == upper.st_size and lower.st_mode == upper.st_mode and \
        (ignore_mtime or lower.st_mtime_ns // 1000 == upper.st_mtime_ns // 1000)


def tree_changes(tree: str, image: str) -> list[Change]:
    """Changes of the full tree ``tree`` against the image's tree ``image`` (the copying
    snapshotter), in dockerd's order for its ``ChangesDirs``: by path."""
    engine = engine_paths(tree, [image])
    changes: list[Change] = []
    for rel, st, _ in _walk(tree):
        if skipped(rel, engine):
            continue
        before = _lstat([image], rel)
        if before is None:
            changes.append(Change("/" + rel, ADDED))
        elif _differs(before, st, os.path.join(image, rel), os.path.join(tree, rel)):
            changes.append(Change("/" + rel, MODIFIED))
    for rel, _, _ in _walk(image):
        if not skipped(rel, engine) and _lstat([tree], rel) is None and \
                _lstat([tree], rel.rpartition("/")[0] or ".") is not None:
            changes.append(Change("/" + rel, DELETED))
    changes.sort(key=lambda c: c.path)
    return changes


def _differs(old: os.stat_result, new: os.stat_result, old_path: str, new_path: str) -> bool:
    if stat.S_ISDIR(old.st_mode) and stat.S_ISDIR(new.st_mode):
        return (old.st_mode, old.st_uid, old.st_gid) != (new.st_mode, new.st_uid, new.st_gid)
    if (old.st_mode, old.st_uid, old.st_gid, old.st_size, old.st_mtime_ns, old.st_rdev) != \
            (new.st_mode, new.st_uid, new.st_gid, new.st_size, new.st_mtime_ns, new.st_rdev):
        return True
    return stat.S_ISLNK(new.st_mode) and os.readlink(old_path) != os.readlink(new_path)
