"""The native snapshotter's copies and bind mounts, without mounting."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from dockyard.errors import SystemCallError
from dockyard.mount import Mount
from dockyard.snapshots.native import NativeSnapshotter, copy_tree
from dockyard.sys.recording import RecordingSyscalls


@pytest.fixture
def native(tmp_path: Path) -> Iterator[NativeSnapshotter]:
    snap = NativeSnapshotter(tmp_path / "root", RecordingSyscalls())
    try:
        yield snap
    finally:
        snap.close()


def _fs(snap: NativeSnapshotter, snapshot_id: int) -> str:
    return str(snap.root / "snapshots" / str(snapshot_id) / "fs")


def test_mounts_are_binds(native: NativeSnapshotter) -> None:
    assert native.prepare("a") == [Mount("bind", _fs(native, 1), ("rw", "rbind"))]
    assert native.view("v0") == [Mount("bind", _fs(native, 2), ("ro", "rbind"))]
    native.commit("A", "a")
    assert native.prepare("b", "A") == [Mount("bind", _fs(native, 3), ("rw", "rbind"))]
    assert native.view("v1", "A") == [Mount("bind", _fs(native, 1), ("ro", "rbind"))]
    native.commit("B", "b")
    assert native.view("v2", "B") == [Mount("bind", _fs(native, 3), ("ro", "rbind"))]
    assert native.mounts("v2") == native.view("v3", "B")
    assert native.whiteout_style == "copy"


def test_prepare_copies_the_parent_and_a_view_does_not(native: NativeSnapshotter) -> None:
    native.prepare("a")
    upper = Path(native.upper_dir("a"))
    (upper / "dir").mkdir()
    (upper / "dir" / "file").write_text("one")
    os.symlink("dir/file", upper / "link")
    os.chmod(upper, 0o750)
    native.commit("A", "a")
    native.prepare("b", "A")
    copy = Path(native.upper_dir("b"))
    assert (copy / "dir" / "file").read_text() == "one"
    assert os.readlink(copy / "link") == "dir/file"
    assert oct(os.stat(copy).st_mode & 0o7777) == "0o750"
    (copy / "dir" / "file").unlink()  # the copy is private
    assert (upper / "dir" / "file").read_text() == "one"
    native.view("v", "A")
    assert os.listdir(native.root / "snapshots" / "3" / "fs") == []


def test_copy_failure_names_both_paths(tmp_path: Path) -> None:
    with pytest.raises(SystemCallError, match="missing to") as caught:
        copy_tree(tmp_path / "missing", tmp_path / "target")
    assert str(tmp_path / "target") in str(caught.value)
