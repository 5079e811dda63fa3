"""The overlay snapshotter's mount lists, options and probe, without mounting."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from dockyard.errors import InvalidArgument, Unsupported
from dockyard.mount import Mount
from dockyard.snapshots.overlay import (
    OverlaySnapshotter,
    OverlaySupport,
    kernel_options,
    supported,
)
from dockyard.sys import MNT_DETACH
from dockyard.sys.recording import Call, RecordingSyscalls


@pytest.fixture
def overlay(tmp_path: Path) -> Iterator[OverlaySnapshotter]:
    snap = OverlaySnapshotter(
        tmp_path / "root", RecordingSyscalls(), support=OverlaySupport(True, ("index=off",))
    )
    try:
        yield snap
    finally:
        snap.close()


def _fs(snap: OverlaySnapshotter, snapshot_id: int) -> str:
    return str(snap.root / "snapshots" / str(snapshot_id) / "fs")


def test_mounts_follow_containerd(overlay: OverlaySnapshotter) -> None:
    root = overlay.root / "snapshots"
    assert overlay.prepare("a") == [Mount("bind", _fs(overlay, 1), ("rw", "rbind"))]
    assert overlay.view("v0") == [Mount("bind", _fs(overlay, 2), ("ro", "rbind"))]
    overlay.commit("A", "a")
    assert overlay.view("v1", "A") == [Mount("bind", _fs(overlay, 1), ("ro", "rbind"))]
    assert overlay.prepare("b", "A") == [
        Mount("overlay", "overlay", (
            f"workdir={root}/4/work", f"upperdir={root}/4/fs", f"lowerdir={root}/1/fs",
            "index=off",
        ))
    ]
    overlay.commit("B", "b")
    assert overlay.view("v2", "B") == [
        Mount("overlay", "overlay", ("ro", f"lowerdir={root}/4/fs:{root}/1/fs", "index=off"))
    ]
    assert overlay.prepare("c", "B") == [
        Mount("overlay", "overlay", (
            f"workdir={root}/6/work", f"upperdir={root}/6/fs",
            f"lowerdir={root}/4/fs:{root}/1/fs", "index=off",
        ))
    ]
    assert overlay.mounts("c") == overlay.mounts("c")
    assert overlay.mounts("v2") == overlay.view("v3", "B")
    assert overlay.whiteout_style == "overlay"


def test_commit_drops_the_work_dir(overlay: OverlaySnapshotter) -> None:
    overlay.prepare("a")
    snapshot = overlay.root / "snapshots" / "1"
    assert sorted(os.listdir(snapshot)) == ["fs", "work"]
    assert oct(os.stat(snapshot / "work").st_mode & 0o777) == "0o711"
    (snapshot / "work" / "work").mkdir(mode=0)
    overlay.commit("A", "a")
    assert os.listdir(snapshot) == ["fs"]
    overlay.view("v", "A")
    assert os.listdir(overlay.root / "snapshots" / "2") == ["fs"]


def test_the_upper_dir_keeps_the_parents_root_mode(overlay: OverlaySnapshotter) -> None:
    overlay.prepare("a")
    os.chmod(overlay.upper_dir("a"), 0o700)
    overlay.commit("A", "a")
    overlay.prepare("b", "A")
    assert oct(os.stat(overlay.upper_dir("b")).st_mode & 0o7777) == "0o700"


def test_a_chain_too_deep_for_one_mount_page_is_refused(overlay: OverlaySnapshotter) -> None:
    parent, depth = "", 0
    while True:
        before = sorted(os.listdir(overlay.root / "snapshots"))
        try:
            overlay.prepare(f"l{depth}-a", parent)
        except Unsupported as exc:
            error = str(exc)
            break
        overlay.commit(f"l{depth}", f"l{depth}-a")
        parent, depth = f"l{depth}", depth + 1
    per_layer = len(_fs(overlay, depth)) + 1
    estimate = (4095 - len("index=off") - 2 * per_layer) // per_layer + 1
    assert abs(depth - estimate) <= 1  # ids below 10 are a byte shorter
    assert f"'l{depth}-a': {depth} layers need" in error
    assert sorted(os.listdir(overlay.root / "snapshots")) == before
    assert len(overlay.walk()) == depth


def test_a_root_overlay_cannot_quote_is_refused(tmp_path: Path) -> None:
    with pytest.raises(InvalidArgument, match="a,b"):
        OverlaySnapshotter(tmp_path / "a,b", RecordingSyscalls(), support=OverlaySupport(True))
    assert supported(tmp_path / "a:b", RecordingSyscalls()) == OverlaySupport(
        False, reason=f"overlay root {tmp_path}/a:b holds one of , : \\"
    )


def test_an_unsupported_root_raises(tmp_path: Path) -> None:
    with pytest.raises(Unsupported, match="no d_type"):
        OverlaySnapshotter(
            tmp_path, RecordingSyscalls(), support=OverlaySupport(False, reason="no d_type")
        )


def test_kernel_options_turn_off_features_enabled_by_default(tmp_path: Path) -> None:
    assert kernel_options(tmp_path / "missing") == ()
    for name, value in (("index", "Y"), ("redirect_dir", "N"), ("metacopy", "Y"), ("xino", "Y")):
        (tmp_path / name).write_text(value + "\n")
    assert kernel_options(tmp_path) == ("index=off", "metacopy=off")


def test_probe_mounts_once_and_cleans_up(tmp_path: Path) -> None:
    # The fake mounts nothing, so the probe's delete through the overlay fails: not supported.
    syscalls = RecordingSyscalls()
    (tmp_path / "root" / "overlay-probe-stale").mkdir(parents=True)
    answer = supported(tmp_path / "root", syscalls, tmp_path / "params")
    assert (answer.ok, "gone" in answer.reason) == (False, True)
    [mount, umount] = syscalls.calls
    probe = Path(umount.args[0]).parent
    assert mount == Call("mount", ("overlay", f"{probe}/merged", "overlay", 0, (
        f"lowerdir={probe}/lower,upperdir={probe}/upper,workdir={probe}/work"
    )))
    assert umount == Call("umount", (f"{probe}/merged", MNT_DETACH))
    assert os.listdir(tmp_path / "root") == []


def test_a_failing_mount_is_the_reason(tmp_path: Path) -> None:
    answer = supported(tmp_path, RecordingSyscalls(fail={"mount": 19}))
    assert answer == OverlaySupport(False, (), answer.reason)
    assert "No such device" in answer.reason
