"""What both directory snapshotters share, without mounting: the tree, sync, removal, cleanup."""

from __future__ import annotations

import errno
import os
import time
from pathlib import Path

import pytest

from dockyard.errors import AlreadyExists, Conflict, Internal, NotFound
from dockyard.snapshots import Info, Kind, Snapshotter, Usage
from dockyard.snapshots.directory import DirectorySnapshotter, Writeback, disk_usage, spread
from dockyard.snapshots.native import NativeSnapshotter
from dockyard.sys import FS_TOPDIR_FL
from dockyard.sys.recording import RecordingSyscalls

from .conftest import make


def _dirs(snap: DirectorySnapshotter) -> list[str]:
    return sorted(os.listdir(snap.root / "snapshots"))


def test_both_backends_are_snapshotters(snapshotter: DirectorySnapshotter) -> None:
    typed: Snapshotter = snapshotter
    assert typed.whiteout_style in ("overlay", "copy")


def test_prepare_makes_one_directory_per_snapshot(snapshotter: DirectorySnapshotter) -> None:
    snapshotter.prepare("a")
    snapshotter.commit("A", "a")
    snapshotter.prepare("b", "A")
    snapshotter.view("v", "A")
    assert _dirs(snapshotter) == ["1", "2", "3"]
    fs = Path(snapshotter.upper_dir("b"))
    assert fs == snapshotter.root / "snapshots" / "2" / "fs"
    assert oct(os.stat(fs).st_mode & 0o7777) == "0o755"


def test_commit_syncs_once_and_caches_usage(
    snapshotter: DirectorySnapshotter, syscalls: RecordingSyscalls
) -> None:
    snapshotter.prepare("a")
    upper = Path(snapshotter.upper_dir("a"))
    (upper / "file").write_bytes(b"x" * 10000)
    os.link(upper / "file", upper / "link")
    expected = disk_usage(upper)
    before = len(syscalls.calls)
    snapshotter.commit("A", "a", labels={"l": "v"})
    assert [call.name for call in syscalls.calls[before:]] == ["syncfs"]
    assert expected.inodes == 2
    assert snapshotter.usage("A") == expected
    (upper / "more").write_bytes(b"y")  # a committed layer's usage is the cached one
    assert snapshotter.usage("A") == expected
    assert snapshotter.stat("A").labels == {"l": "v"}
    with pytest.raises(NotFound, match="'a'"):
        snapshotter.stat("a")


def test_commit_records_usage_counted_by_the_caller(snapshotter: DirectorySnapshotter) -> None:
    snapshotter.prepare("a")
    (Path(snapshotter.upper_dir("a")) / "f").write_bytes(b"z" * 5000)
    snapshotter.commit("A", "a", usage=Usage(size=12288, inodes=2))
    assert snapshotter.usage("A") == Usage(size=12288, inodes=2)


def test_usage_of_active_is_measured_and_view_has_none(snapshotter: DirectorySnapshotter) -> None:
    snapshotter.prepare("a")
    empty = snapshotter.usage("a")
    assert empty.inodes == 1
    (Path(snapshotter.upper_dir("a")) / "f").write_bytes(b"z" * 5000)
    grown = snapshotter.usage("a")
    assert (grown.inodes, grown.size - empty.size >= 5000) == (2, True)
    snapshotter.view("v")
    assert snapshotter.usage("v") == Usage()


def test_errors_name_the_key(snapshotter: DirectorySnapshotter) -> None:
    snapshotter.prepare("a")
    snapshotter.view("v")
    with pytest.raises(AlreadyExists, match="'a'"):
        snapshotter.prepare("a")
    with pytest.raises(AlreadyExists, match="'a'"):
        snapshotter.view("a")
    with pytest.raises(NotFound, match="'nope'"):
        snapshotter.mounts("nope")
    with pytest.raises(NotFound, match="'nope'"):
        snapshotter.usage("nope")
    with pytest.raises(Conflict, match="'v'"):
        snapshotter.commit("V", "v")
    with pytest.raises(Conflict, match="'v'"):
        snapshotter.upper_dir("v")
    snapshotter.commit("A", "a")
    with pytest.raises(Conflict, match="'A'"):
        snapshotter.mounts("A")
    with pytest.raises(AlreadyExists, match="'A'"):
        snapshotter.prepare("b")
        snapshotter.commit("A", "b")
    assert _dirs(snapshotter) == ["1", "2", "3"]


def test_remove_deletes_record_then_directory(snapshotter: DirectorySnapshotter) -> None:
    snapshotter.prepare("a")
    snapshotter.commit("A", "a")
    snapshotter.prepare("b", "A")
    with pytest.raises(Conflict, match="'A'"):
        snapshotter.remove("A")
    assert _dirs(snapshotter) == ["1", "2"]
    snapshotter.remove("b")
    snapshotter.remove("A")
    assert _dirs(snapshotter) == []
    assert snapshotter.walk() == []
    snapshotter.prepare("b")  # the key is free again; the id is new
    assert _dirs(snapshotter) == ["3"]


def test_cleanup_deletes_directories_without_records(snapshotter: DirectorySnapshotter) -> None:
    snapshotter.prepare("a")
    base = snapshotter.root / "snapshots"
    for orphan in ("99", "new-abc", "trash-7-0123abcd"):
        (base / orphan / "fs" / "deep").mkdir(parents=True)
    snapshotter.cleanup()
    assert _dirs(snapshotter) == ["1"]


def test_a_stale_directory_in_the_way_of_a_new_id_is_replaced(
    snapshotter: DirectorySnapshotter,
) -> None:
    # What a crash between the rename and the COMMIT of a prepare leaves behind.
    (snapshotter.root / "snapshots" / "1" / "fs").mkdir(parents=True)
    (snapshotter.root / "snapshots" / "1" / "fs" / "stale").write_text("old")
    snapshotter.prepare("a")
    assert os.listdir(snapshotter.upper_dir("a")) == []
    assert _dirs(snapshotter) == ["1"]


def test_labels_and_walk(snapshotter: DirectorySnapshotter) -> None:
    snapshotter.prepare("b", labels={"x": "1"})
    snapshotter.prepare("a")
    info = snapshotter.update_labels("b", {"x": None, "y": "2"})
    assert info.labels == {"y": "2"}
    assert [(i.name, i.kind, i.labels) for i in snapshotter.walk()] == [
        ("a", Kind.ACTIVE, {}),
        ("b", Kind.ACTIVE, {"y": "2"}),
    ]


def test_reopening_sees_the_same_state(
    tmp_path: Path, snapshotter: DirectorySnapshotter, syscalls: RecordingSyscalls
) -> None:
    snapshotter.prepare("a")
    snapshotter.commit("A", "a")
    snapshotter.view("v", "A")
    before = snapshotter.walk()
    mounts = snapshotter.mounts("v")
    backend = "overlay" if snapshotter.whiteout_style == "overlay" else "native"
    again = make(backend, snapshotter.root, syscalls)
    try:
        assert again.walk() == before
        assert again.mounts("v") == mounts
        assert again.stat("A") == Info(
            "A", Kind.COMMITTED, "", {}, before[0].created, before[0].updated
        )
    finally:
        again.close()


def test_cleanup_removes_stray_files_too(snapshotter: DirectorySnapshotter) -> None:
    (snapshotter.root / "snapshots" / "stray").write_text("x")
    os.symlink("/", snapshotter.root / "snapshots" / "link")
    snapshotter.cleanup()
    assert _dirs(snapshotter) == []


def test_use_after_close_is_an_internal_error(snapshotter: DirectorySnapshotter) -> None:
    snapshotter.close()
    with pytest.raises(Internal, match="metadata"):
        snapshotter.walk()


def test_snapshots_dir_is_marked_a_top_directory_once(tmp_path: Path) -> None:
    syscalls = RecordingSyscalls(inode_flags_result=0x800)  # FS_NOATIME_FL stays
    spread(tmp_path, syscalls)
    spread(tmp_path, syscalls)
    assert [(c.name, c.args[1:]) for c in syscalls.calls] == [
        ("inode_flags", ()), ("set_inode_flags", (0x800 | FS_TOPDIR_FL,)), ("inode_flags", ()),
    ]


def test_a_filesystem_without_inode_flags_is_fine(snapshotter: DirectorySnapshotter) -> None:
    syscalls = RecordingSyscalls(fail={"inode_flags": errno.ENOTTY})
    again = NativeSnapshotter(snapshotter.root / "other", syscalls)
    try:
        again.prepare("a")
        assert [c.name for c in syscalls.calls] == ["inode_flags"]
    finally:
        again.close()


def test_writeback_syncs_the_filesystem_until_the_filling_ends(tmp_path: Path) -> None:
    syscalls = RecordingSyscalls()
    with Writeback(syscalls, tmp_path, interval=0.005):
        time.sleep(0.1)
    calls = len(syscalls.calls)
    time.sleep(0.02)
    assert calls >= 2
    assert {c.name for c in syscalls.calls} == {"syncfs"} and len(syscalls.calls) == calls


def test_writeback_stops_quietly_on_a_failure_or_a_missing_dir(tmp_path: Path) -> None:
    syscalls = RecordingSyscalls(fail={"syncfs": errno.EIO})
    with Writeback(syscalls, tmp_path, interval=0.001):
        time.sleep(0.05)
    with Writeback(syscalls, tmp_path / "gone", interval=0.001):
        time.sleep(0.01)
    assert [c.name for c in syscalls.calls] == ["syncfs"]
