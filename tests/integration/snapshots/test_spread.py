"""The snapshots directory as a top directory for ext4's allocator, with the real ioctls."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from dockyard.errors import SystemCallError
from dockyard.snapshots.native import NativeSnapshotter
from dockyard.sys import FS_TOPDIR_FL
from dockyard.sys.linux import LinuxSyscalls

pytestmark = pytest.mark.root


def _flags(path: Path, syscalls: LinuxSyscalls) -> int:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        return syscalls.inode_flags(fd)
    finally:
        os.close(fd)


def test_snapshots_dir_gets_the_topdir_flag(tmp_path: Path, syscalls: LinuxSyscalls) -> None:
    try:
        _flags(tmp_path, syscalls)
    except SystemCallError as exc:
        pytest.skip(f"no inode flags here: {exc}")
    with NativeSnapshotter(tmp_path / "root", syscalls) as snap:
        snap.prepare("a")
        after = _flags(tmp_path / "root" / "snapshots", syscalls)
    if not after & FS_TOPDIR_FL:
        pytest.skip("this filesystem does not keep FS_TOPDIR_FL")
    assert (bool(_flags(tmp_path / "root", syscalls) & FS_TOPDIR_FL),
            bool(_flags(tmp_path / "root" / "snapshots" / "1", syscalls) & FS_TOPDIR_FL)) == (
        False, False)  # only snapshots/ itself: the flag is not inherited
