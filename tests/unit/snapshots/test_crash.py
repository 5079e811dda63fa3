"""A snapshotter process killed at the worst instant of prepare, commit or remove leaves state a
new instance reads consistently: never a record without its directory."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from dockyard.snapshots import Kind
from dockyard.snapshots.native import NativeSnapshotter
from dockyard.sys.recording import RecordingSyscalls

CRASHER = """
import os, sys
from pathlib import Path
from dockyard.snapshots.native import NativeSnapshotter
from dockyard.sys.recording import RecordingSyscalls

class Syscalls(RecordingSyscalls):
    def syncfs(self, fd):
        super().syncfs(fd)
        os._exit(9)  # the layer is synced, its record not yet written

class Crashing(NativeSnapshotter):
    def _install(self, new, target):
        super()._install(new, target)
        os._exit(9)  # renamed into place, its transaction not yet committed

    def _delete(self, path):
        os._exit(9)  # the record is deleted, the directory not yet

root, verb, *args = sys.argv[1:]
getattr(Crashing(Path(root), Syscalls()), verb)(*args)
raise SystemExit("did not crash")
"""


def crash(root: Path, *argv: str) -> None:
    done = subprocess.run(
        [sys.executable, "-c", CRASHER, str(root), *argv], capture_output=True, check=False
    )
    assert (done.returncode, done.stderr) == (9, b"")


@pytest.fixture
def root(tmp_path: Path) -> Path:
    return tmp_path / "root"


def _dirs(root: Path) -> list[str]:
    return sorted(os.listdir(root / "snapshots"))


def _setup(root: Path) -> None:
    with NativeSnapshotter(root, RecordingSyscalls()) as snap:
        snap.prepare("a")
        (Path(snap.upper_dir("a")) / "file").write_text("data")


def test_crash_in_prepare_leaves_only_an_orphan(root: Path) -> None:
    NativeSnapshotter(root, RecordingSyscalls()).close()
    crash(root, "prepare", "a")
    with NativeSnapshotter(root, RecordingSyscalls()) as snap:
        assert (snap.walk(), _dirs(root)) == ([], ["1"])
        snap.prepare("b")  # takes the orphan's id, and the orphan's place
        assert os.listdir(snap.upper_dir("b")) == []
        snap.cleanup()
        assert _dirs(root) == ["1"]


def test_crash_after_the_sync_of_a_commit_leaves_it_active(root: Path) -> None:
    _setup(root)
    crash(root, "commit", "A", "a")
    with NativeSnapshotter(root, RecordingSyscalls()) as snap:
        assert [(i.name, i.kind) for i in snap.walk()] == [("a", Kind.ACTIVE)]
        assert (Path(snap.upper_dir("a")) / "file").read_text() == "data"
        snap.commit("A", "a")
        assert snap.stat("A").kind is Kind.COMMITTED


def test_crash_in_remove_leaves_a_directory_cleanup_deletes(root: Path) -> None:
    _setup(root)
    crash(root, "remove", "a")
    with NativeSnapshotter(root, RecordingSyscalls()) as snap:
        assert (snap.walk(), _dirs(root)) == ([], ["1"])
        snap.cleanup()
        assert _dirs(root) == []
