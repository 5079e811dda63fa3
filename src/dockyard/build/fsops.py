"""File operations inside a step's root filesystem, as the classic builder does them.

Paths inside an image are resolved like moby's ``FollowSymlinkInScope``: a symlink is followed
as if the root were ``/`` (an absolute target starts again at the root, ``..`` stops there), so
nothing is ever created or read outside the root. Copies follow moby's archiver: a file keeps
its mode and its mtime to the second; a directory's contents are copied into the destination
(which is created 0755 when missing); hard links inside a copied tree stay hard links; the
copy then belongs to the given owner (``--chown``, root by default) unless ownership is kept
(``COPY --from`` without ``--chown``). Missing parents are created 0755 and given to that owner
(``MkdirAllAndChownNew``).
"""

from __future__ import annotations

import errno
import os
import stat
from collections.abc import Callable
from dataclasses import dataclass

from dockyard.errors import InvalidArgument, NotFound

_MAX_LINKS = 255
_COPY_CHUNK = 1 << 30


@dataclass(frozen=True, slots=True)
class Owner:
    uid: int
    gid: int


ROOT = Owner(0, 0)


def scoped(root: str, path: str, *, follow_last: bool = True, loops_fail: bool = True) -> str:
    """``path`` (absolute or relative to the root) resolved inside ``root``; returns the
    relative result ("" for the root itself). Past 255 links InvalidArgument, or with
    ``loops_fail`` false the rest is taken as it is (moby's FollowSymlinkInScope for
    checksums, which never fails)."""
    done: list[str] = []
    todo = [p for p in reversed(path.split("/")) if p and p != "."]
    links = 0
    while todo:
        part = todo.pop()
        if part == "..":
            if done:
                done.pop()
            continue
        current = "/".join([*done, part])
        try:
            st = os.lstat(os.path.join(root, current))
        except (FileNotFoundError, NotADirectoryError):
            done.append(part)
            continue
        if not stat.S_ISLNK(st.st_mode) or (not todo and not follow_last) or \
                (not loops_fail and links >= _MAX_LINKS):
            done.append(part)
            continue
        links += 1
        if links > _MAX_LINKS:
            raise InvalidArgument(f"{path}: too many levels of symbolic links")
        target = os.readlink(os.path.join(root, current))
        if target.startswith("/"):
            done = []
        todo.extend(p for p in reversed(target.split("/")) if p and p != ".")
    return "/".join(done)


def host_path(root: str, rel: str) -> str:
    return os.path.join(root, rel) if rel else root


def is_dir(path: str) -> bool:
    try:
        return stat.S_ISDIR(os.stat(path).st_mode)
    except (FileNotFoundError, NotADirectoryError):
        return False


def mkdir_all(root: str, rel: str, owner: Owner | None) -> list[str]:
    """Create the directory ``rel`` (already resolved) and its missing parents, 0755, given to
    ``owner`` (kept as created, root's, when None); returns the ones created."""
    created: list[str] = []
    parts = [p for p in rel.split("/") if p]
    for depth in range(1, len(parts) + 1):
        current = "/".join(parts[:depth])
        path = os.path.join(root, current)
        try:
            mode = os.lstat(path).st_mode
        except FileNotFoundError:
            os.mkdir(path, 0o755)
            os.chmod(path, 0o755)
            if owner is not None:
                os.lchown(path, owner.uid, owner.gid)
            created.append(current)
            continue
        if not stat.S_ISDIR(mode):
            raise InvalidArgument(f"cannot create directory /{rel}: /{current} exists and is "
                                  "not a directory")
    return created


def _remove(path: str) -> None:
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        return
    if stat.S_ISDIR(st.st_mode):
        from dockyard.archive.target import remove_tree

        remove_tree(path)
    else:
        os.unlink(path)


def _times(st: os.stat_result) -> tuple[int, int]:
    whole = (st.st_mtime_ns // 1_000_000_000) * 1_000_000_000
    return whole, whole


def copy_data(source_fd: int, dest_fd: int, size: int) -> None:
    """Copy ``size`` bytes between two files (in the kernel where it can)."""
    left = size
    try:
        while left > 0:
            done = os.copy_file_range(source_fd, dest_fd, min(left, _COPY_CHUNK))
            if done == 0:
                break
            left -= done
    except OSError as exc:
        if exc.errno not in (errno.EXDEV, errno.ENOSYS, errno.EOPNOTSUPP, errno.EINVAL):
            raise
    while left > 0:
        data = os.read(source_fd, min(left, 1 << 20))
        if not data:
            break
        view = memoryview(data)
        while view:
            view = view[os.write(dest_fd, view):]
        left -= len(data)


def copy_file(source: str, dest: str, owner: Owner | None, mode: int | None = None) -> None:
    """Replace whatever is at ``dest`` with a copy of the file ``source`` (its mode or
    ``mode``, its mtime to the second; ``owner``'s, or the source's when None)."""
    st = os.stat(source)
    _remove(dest)
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
    source_fd = os.open(source, os.O_RDONLY | os.O_CLOEXEC)
    try:
        dest_fd = os.open(dest, flags, 0o600)
        try:
            copy_data(source_fd, dest_fd, st.st_size)
            uid, gid = (st.st_uid, st.st_gid) if owner is None else (owner.uid, owner.gid)
            os.fchown(dest_fd, uid, gid)
            os.fchmod(dest_fd, stat.S_IMODE(st.st_mode) if mode is None else mode)
        finally:
            os.close(dest_fd)
    finally:
        os.close(source_fd)
    os.utime(dest, ns=_times(st), follow_symlinks=False)


class TreeCopy:
    """Copies the contents of a directory into another, as moby's ``CopyWithTar`` does."""

    def __init__(self, owner: Owner | None, mode: int | None = None,
                 keep: Callable[[str], bool] | None = None) -> None:
        self.owner = owner
        self.mode = mode
        self.keep = keep
        self._links: dict[tuple[int, int], str] = {}
        self._dirs: list[tuple[str, os.stat_result]] = []

    def copy(self, source: str, dest: str) -> None:
        self._tree(source, dest, "")
        for path, st in reversed(self._dirs):
            os.chmod(path, stat.S_IMODE(st.st_mode) if self.mode is None else self.mode)
            os.utime(path, ns=_times(st), follow_symlinks=False)

    def _tree(self, source: str, dest: str, rel: str) -> None:
        with os.scandir(source) as it:
            entries = sorted(it, key=lambda e: e.name)
        for entry in entries:
            child_rel = f"{rel}/{entry.name}" if rel else entry.name
            if self.keep is not None and not self.keep(child_rel):
                continue
            target = os.path.join(dest, entry.name)
            st = entry.stat(follow_symlinks=False)
            if stat.S_ISDIR(st.st_mode):
                self._dir(target, st)
                self._tree(entry.path, target, child_rel)
            else:
                self._other(entry.path, target, st)

    def _dir(self, target: str, st: os.stat_result) -> None:
        try:
            existing = os.lstat(target).st_mode
        except FileNotFoundError:
            existing = 0
        if existing and not stat.S_ISDIR(existing):
            _remove(target)
            existing = 0
        if not existing:
            os.mkdir(target, 0o700)
        self._own(target, st)
        self._dirs.append((target, st))

    def _other(self, source: str, target: str, st: os.stat_result) -> None:
        key = (st.st_dev, st.st_ino)
        if st.st_nlink > 1 and key in self._links:
            _remove(target)
            os.link(self._links[key], target, follow_symlinks=False)
            return
        if stat.S_ISREG(st.st_mode):
            copy_file(source, target, self.owner, self.mode)
        elif stat.S_ISLNK(st.st_mode):
            _remove(target)
            os.symlink(os.readlink(source), target)
            self._own(target, st)
            os.utime(target, ns=_times(st), follow_symlinks=False)
        elif stat.S_ISCHR(st.st_mode) or stat.S_ISBLK(st.st_mode) or stat.S_ISFIFO(st.st_mode):
            _remove(target)
            os.mknod(target, st.st_mode, st.st_rdev)
            self._own(target, st)
            os.utime(target, ns=_times(st), follow_symlinks=False)
        else:
            return  # sockets: tar has no type for them
        if st.st_nlink > 1:
            self._links[key] = target

    def _own(self, path: str, st: os.stat_result) -> None:
        owner = self.owner or Owner(st.st_uid, st.st_gid)
        os.lchown(path, owner.uid, owner.gid)


# -- users and groups -------------------------------------------------------------------------


def _lookup(root: str, name: str, database: str) -> int:
    try:
        return int(name, 10)
    except ValueError:
        pass
    path = host_path(root, scoped(root, f"/etc/{database}"))
    try:
        with open(path, encoding="utf-8", errors="replace") as lines:
            for line in lines:
                fields = line.rstrip("\n").split(":")
                if len(fields) >= 3 and fields[0] == name:
                    return int(fields[2])
    except (FileNotFoundError, NotADirectoryError, ValueError):
        pass
    kind = "user" if database == "passwd" else "group"
    raise NotFound(f"no such {kind}: {name}")


def parse_chown(root: str, spec: str) -> Owner:
    """The owner ``--chown=user[:group]`` names, names looked up in the image's /etc/passwd and
    /etc/group (a user alone names the group too, as dockerd reads it)."""
    parts = spec.split(":")
    if len(parts) > 2:
        raise InvalidArgument(f"invalid chown string format: {spec}")
    user, group = (parts[0], parts[0]) if len(parts) == 1 else (parts[0], parts[1])
    try:
        uid = _lookup(root, user, "passwd")
    except NotFound as exc:
        raise InvalidArgument("unable to convert uid/gid chown string to host mapping: "
                              f"can't find uid for user {user}: {exc}") from None
    try:
        gid = _lookup(root, group, "group")
    except NotFound as exc:
        raise InvalidArgument("unable to convert uid/gid chown string to host mapping: "
                              f"can't find gid for group {group}: {exc}") from None
    return Owner(uid, gid)


def parse_chmod(spec: str) -> int:
    """``--chmod=0755`` (octal; BuildKit's flag, which dockerd 20.10 refuses)."""
    try:
        mode = int(spec, 8)
    except ValueError:
        raise InvalidArgument(f"invalid chmod parameter {spec!r}: want an octal mode such as "
                              "0755") from None
    if not 0 <= mode <= 0o7777:
        raise InvalidArgument(f"invalid chmod parameter {spec!r}: out of range")
    return mode
