"""Fixtures of the snapshotter conformance suite: each backend on a temporary root, a mounter that
unmounts everything it mounted (even when a test fails), and a comparable picture of a tree."""

from __future__ import annotations

import contextlib
import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from dockyard.errors import SystemCallError
from dockyard.mount import Mount, mount_all, unmount
from dockyard.snapshots.directory import DirectorySnapshotter
from dockyard.snapshots.native import NativeSnapshotter
from dockyard.snapshots.overlay import OverlaySnapshotter, supported
from dockyard.sys import Syscalls
from dockyard.sys.linux import LinuxSyscalls

BACKENDS = ["overlay", "native"]

Entry = tuple[object, ...]


def open_backend(backend: str, root: Path, syscalls: Syscalls) -> DirectorySnapshotter:
    if backend == "overlay":
        support = supported(root, syscalls)
        if not support:
            pytest.skip(f"overlayfs does not work here: {support.reason}")
        return OverlaySnapshotter(root, syscalls, support=support)
    return NativeSnapshotter(root, syscalls)


class Mounter:
    """Mounts snapshot mount lists on fresh directories and unmounts whatever is left at the end."""

    def __init__(self, base: Path, syscalls: Syscalls) -> None:
        self._base = base
        self._syscalls = syscalls
        self._mounted: list[Path] = []

    def mount(self, mounts: list[Mount]) -> Path:
        target = self._base / f"mnt{len(os.listdir(self._base))}"
        target.mkdir()
        mount_all(mounts, str(target), self._syscalls)
        self._mounted.append(target)
        return target

    def unmount(self, target: Path) -> None:
        self._mounted.remove(target)
        unmount(str(target), self._syscalls)

    def close(self) -> None:
        while self._mounted:
            target = self._mounted.pop()
            with contextlib.suppress(SystemCallError):  # already gone
                unmount(str(target), self._syscalls)


@pytest.fixture
def syscalls() -> LinuxSyscalls:
    return LinuxSyscalls()


@pytest.fixture
def mounter(tmp_path: Path, syscalls: LinuxSyscalls) -> Iterator[Mounter]:
    base = tmp_path / "mnt"
    base.mkdir()
    m = Mounter(base, syscalls)
    try:
        yield m
    finally:
        m.close()


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def snapshotter(
    backend: str, tmp_path: Path, syscalls: LinuxSyscalls
) -> Iterator[DirectorySnapshotter]:
    snap = open_backend(backend, tmp_path / "root", syscalls)
    try:
        yield snap
    finally:
        snap.close()


def tree(root: Path, *, owners: bool = False) -> dict[str, Entry]:
    """Every entry under ``root``: kind, mode and content (or target, or device number); with
    ``owners`` also uid, gid, mtime and xattrs."""
    found: dict[str, Entry] = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            path = Path(dirpath) / name
            st = os.lstat(path)
            entry = _entry(path, st)
            if owners:
                xattrs = {} if stat.S_ISLNK(st.st_mode) else {
                    key: os.getxattr(path, key) for key in sorted(os.listxattr(path))
                }
                entry += (st.st_uid, st.st_gid, st.st_mtime_ns, xattrs)
            found[str(path.relative_to(root))] = entry
    return found


def _entry(path: Path, st: os.stat_result) -> Entry:
    mode = stat.S_IMODE(st.st_mode)
    if stat.S_ISREG(st.st_mode):
        return ("file", mode, path.read_bytes())
    if stat.S_ISDIR(st.st_mode):
        return ("dir", mode)
    if stat.S_ISLNK(st.st_mode):
        return ("symlink", os.readlink(path))
    return ("special", stat.S_IFMT(st.st_mode), mode, st.st_rdev)


def write(root: Path, files: dict[str, str]) -> None:
    """Create files (and their directories) with the given text."""
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
        os.chmod(path, 0o644)
