"""Both directory snapshotters on a temporary root with a recording syscall fake (no mounts)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from dockyard.snapshots.directory import DirectorySnapshotter
from dockyard.snapshots.native import NativeSnapshotter
from dockyard.snapshots.overlay import OverlaySnapshotter, OverlaySupport
from dockyard.sys.recording import RecordingSyscalls


def make(backend: str, root: Path, syscalls: RecordingSyscalls) -> DirectorySnapshotter:
    if backend == "overlay":
        return OverlaySnapshotter(root, syscalls, support=OverlaySupport(True))
    return NativeSnapshotter(root, syscalls)


@pytest.fixture
def syscalls() -> RecordingSyscalls:
    return RecordingSyscalls()


@pytest.fixture(params=["overlay", "native"])
def snapshotter(
    request: pytest.FixtureRequest, tmp_path: Path, syscalls: RecordingSyscalls
) -> Iterator[DirectorySnapshotter]:
    snap = make(request.param, tmp_path / "root", syscalls)
    try:
        yield snap
    finally:
        snap.close()
