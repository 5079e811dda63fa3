"""Fixtures for layer tests: tar builders, whole-tree snapshots and a sentinel outside the target.

Malicious tars are built from hand-made TarInfo objects; trees are compared as whole values: one
row per path with type, mode, owner, size, mtime, link target, xattrs, device number, content hash
and hardlink group.
"""

from __future__ import annotations

import hashlib
import io
import os
import stat
import tarfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

MTIME = 1_700_000_000

Member = tuple[tarfile.TarInfo, bytes | None]


def member(name: str, kind: bytes = tarfile.REGTYPE, **attrs: object) -> tarfile.TarInfo:
    """A TarInfo with fixed defaults (mode 0644, root-owned, a fixed mtime)."""
    info = tarfile.TarInfo(name)
    info.type = kind
    info.mtime = MTIME
    info.mode = 0o755 if kind == tarfile.DIRTYPE else 0o644
    for key, value in attrs.items():
        setattr(info, key, value)
    return info


def f(name: str, data: bytes = b"", **attrs: object) -> Member:
    return member(name, **attrs), data


def d(name: str, **attrs: object) -> Member:
    return member(name, tarfile.DIRTYPE, **attrs), None


def sym(name: str, target: str, **attrs: object) -> Member:
    return member(name, tarfile.SYMTYPE, linkname=target, **attrs), None


def hard(name: str, target: str, **attrs: object) -> Member:
    return member(name, tarfile.LNKTYPE, linkname=target, **attrs), None


def tar_bytes(members: list[Member], fmt: int = tarfile.PAX_FORMAT) -> bytes:
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w", format=fmt) as tar:
        for info, data in members:
            if data is not None:
                info.size = len(data)
            tar.addfile(info, io.BytesIO(data) if data is not None else None)
    return out.getvalue()


@dataclass(frozen=True, slots=True)
class Row:
    """What a tree comparison looks at for one path."""

    path: str
    type: str
    mode: int
    uid: int
    gid: int
    size: int
    mtime_ns: int
    link: str
    xattrs: tuple[tuple[str, bytes], ...]
    rdev: tuple[int, int]
    content: str
    hardlink_of: str


def _xattrs(path: str) -> tuple[tuple[str, bytes], ...]:
    names = sorted(os.listxattr(path, follow_symlinks=False))
    return tuple((n, os.getxattr(path, n, follow_symlinks=False)) for n in names
                 if n != "security.selinux")


def _paths(root: str) -> Iterator[str]:
    found = [os.path.join(parent, name)
             for parent, dirs, files in os.walk(root) for name in dirs + files]
    return iter(sorted(found, key=lambda path: path.split("/")))


def tree(root: Path, *, mtimes: bool = True, dir_mtimes: bool = True,
         links: bool = True) -> list[Row]:
    """The rows of every path under ``root`` (not ``root`` itself), in path order."""
    rows: list[Row] = []
    first: dict[tuple[int, int], str] = {}
    for path in _paths(str(root)):
        st = os.lstat(path)
        rel = os.path.relpath(path, root)
        kind = stat.filemode(st.st_mode)[0]
        content = ""
        if stat.S_ISREG(st.st_mode):
            content = hashlib.sha256(Path(path).read_bytes()).hexdigest()[:16]
        group = ""
        if links and not stat.S_ISDIR(st.st_mode) and st.st_nlink > 1:
            group = first.setdefault((st.st_dev, st.st_ino), rel)
        rows.append(Row(
            rel, kind, stat.S_IMODE(st.st_mode), st.st_uid, st.st_gid,
            0 if stat.S_ISDIR(st.st_mode) else st.st_size,
            st.st_mtime_ns if mtimes and (dir_mtimes or not stat.S_ISDIR(st.st_mode)) else 0,
            os.readlink(path) if stat.S_ISLNK(st.st_mode) else "", _xattrs(path),
            (os.major(st.st_rdev), os.minor(st.st_rdev)), content, group,
        ))
    return rows


@dataclass
class Scene:
    """A target directory with a sentinel directory beside it, two levels inside ``guard``."""

    guard: Path
    target: Path
    outside: Path
    before: list[Row]

    def assert_outside_unchanged(self) -> None:
        """Nothing beside the target (or above it, up to ``guard``) changed."""
        assert self._outside() == self.before
        assert sorted(os.listdir(self.target.parent)) == ["outside", "target"]

    def _outside(self) -> list[Row]:
        top = os.path.relpath(self.target, self.guard)
        return [r for r in tree(self.guard) if not _under(r.path, top)]


def _under(path: str, top: str) -> bool:
    return path == top or path.startswith(top + "/")


def make_scene(guard: Path) -> Scene:
    """guard/g/target beside guard/g/outside/{secret, dir/keep}."""
    target = guard / "g" / "target"
    outside = guard / "g" / "outside"
    target.mkdir(parents=True)
    outside.mkdir()
    (outside / "secret").write_bytes(b"do not touch")
    (outside / "secret").chmod(0o600)
    (outside / "dir").mkdir()
    (outside / "dir" / "keep").write_bytes(b"keep me")
    os.utime(outside / "secret", (1, 1))
    os.utime(outside / "dir", (2, 2))
    scene = Scene(guard, target, outside, [])
    scene.before = scene._outside()
    return scene


@pytest.fixture
def scene(tmp_path: Path) -> Scene:
    return make_scene(tmp_path)


@pytest.fixture
def apply_tar() -> Callable[..., object]:
    """Applies members (or raw tar bytes) to a target: ``apply_tar(target, members, **kw)``."""
    from dockyard.archive.apply import apply_layer

    def run(target: Path, members: list[Member] | bytes, *, whiteouts: str = "overlay",
            name: str = "test") -> object:
        data = members if isinstance(members, bytes) else tar_bytes(members)
        return apply_layer(io.BytesIO(data), target, whiteouts=whiteouts,  # type: ignore[arg-type]
                           name=name)

    return run
