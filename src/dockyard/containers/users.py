"""``Config.User`` resolved against the image's /etc/passwd and /etc/group, as runc's
libcontainer ``GetExecUser`` does it: ``name``, ``uid``, ``name:group``, ``uid:gid``.

The files are read through the container's mounted root filesystem, which the image controls:
every path component is opened with O_NOFOLLOW and symlinks are resolved inside the root
(:func:`open_in_root`), so a link cannot make the daemon read a host file.
"""

from __future__ import annotations

import errno
import os
import stat
from collections.abc import Sequence
from dataclasses import dataclass

from dockyard.errors import InvalidArgument

MAX_LINKS = 40


@dataclass(frozen=True, slots=True)
class ExecUser:
    uid: int
    gid: int
    additional_gids: tuple[int, ...]
    home: str = "/"


def open_in_root(root: str, path: str) -> int | None:
    """An fd (O_RDONLY) on ``path`` resolved inside ``root``; None if it does not exist."""
    root_fd = os.open(root, os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        resolved: list[str] = []
        stack = list(reversed(_parts(path)))
        links = 0
        while stack:
            part = stack.pop()
            if part == "..":  # bounded by the root, as in a chroot
                if resolved:
                    resolved.pop()
                continue
            fd = _open_chain(root_fd, [*resolved, part])
            if fd is None:
                return None
            try:
                if stat.S_ISLNK(os.fstat(fd).st_mode):
                    target = os.readlink("", dir_fd=fd)
                    links += 1
                    if links > MAX_LINKS:
                        raise InvalidArgument(f"too many levels of symbolic links: {path}")
                    if target.startswith("/"):
                        resolved = []
                    stack.extend(reversed(_parts(target)))
                    continue
            finally:
                os.close(fd)
            resolved.append(part)
        final = _open_chain(root_fd, resolved)
        if final is None:
            return None
        try:
            return os.open(f"/proc/self/fd/{final}", os.O_RDONLY | os.O_CLOEXEC)
        except OSError as exc:
            if exc.errno in (errno.ENOENT, errno.EISDIR, errno.ENOTDIR):
                return None
            raise
        finally:
            os.close(final)
    finally:
        os.close(root_fd)


def _parts(path: str) -> list[str]:
    return [p for p in path.split("/") if p and p != "."]


def _open_chain(root_fd: int, parts: list[str]) -> int | None:
    """An O_PATH fd on ``parts`` below the root, following no symlink on the way."""
    current = os.dup(root_fd)
    try:
        for part in parts:
            try:
                child = os.open(part, os.O_PATH | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=current)
            except (FileNotFoundError, NotADirectoryError):
                return None
            os.close(current)
            current = child
        result, current = current, -1
        return result
    finally:
        if current >= 0:
            os.close(current)


def _read(root: str, path: str) -> list[list[str]]:
    fd = open_in_root(root, path)
    if fd is None:
        return []
    with os.fdopen(fd, "rb") as handle:
        text = handle.read(1 << 20).decode(errors="replace")
    return [line.split(":") for line in text.splitlines() if line and not line.startswith("#")]


def resolve(root: str, user: str, group_add: Sequence[str] = ()) -> ExecUser:
    """The uid, gid and supplementary gids for ``user`` (empty: root) in ``root``."""
    name, _, group = (user or "0").partition(":")
    passwd = _read(root, "/etc/passwd")
    entry = next((e for e in passwd if len(e) >= 4 and (e[0] == name or e[2] == name)), None)
    if entry is not None:
        uid, gid, home, login = int(entry[2]), int(entry[3]), _field(entry, 5, "/"), entry[0]
    elif name.isdigit():
        uid, gid, home, login = int(name), 0, "/", ""
    else:
        raise InvalidArgument(f"unable to find user {name}: no matching entries in passwd file")
    groups = _read(root, "/etc/group") if group or login or group_add else []
    if group:
        gid = _group_id(groups, group)
    extra = [gid]
    if login and not group:
        extra += [int(g[2]) for g in groups if len(g) >= 4 and login in g[3].split(",")
                  and g[2].isdigit()]
    extra += [_group_id(groups, g) for g in group_add]
    return ExecUser(uid, gid, tuple(dict.fromkeys(extra)), home)


def _field(entry: list[str], index: int, default: str) -> str:
    return entry[index] if len(entry) > index and entry[index] else default


def _group_id(groups: list[list[str]], group: str) -> int:
    found = next((g for g in groups if len(g) >= 3 and (g[0] == group or g[2] == group)), None)
    if found is not None and found[2].isdigit():
        return int(found[2])
    if group.isdigit():
        return int(group)
    raise InvalidArgument(f"unable to find group {group}: no matching entries in group file")
