"""What only the overlay snapshotter does on a real kernel: the probe, kernel-made whiteouts,
layers applied straight into the upper dir, and the one-page limit of mount options."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from dockyard.errors import SystemCallError, Unsupported
from dockyard.snapshots.overlay import MAX_OPTIONS_BYTES, OverlaySnapshotter, supported
from dockyard.sys.linux import LinuxSyscalls

from .conftest import Mounter, tree, write

pytestmark = pytest.mark.root


@pytest.fixture
def overlay(tmp_path: Path, syscalls: LinuxSyscalls) -> Iterator[OverlaySnapshotter]:
    support = supported(tmp_path / "root", syscalls)
    if not support:
        pytest.skip(f"overlayfs does not work here: {support.reason}")
    snap = OverlaySnapshotter(tmp_path / "root", syscalls, support=support)
    try:
        yield snap
    finally:
        snap.close()


def _mountinfo() -> str:
    return Path("/proc/self/mountinfo").read_text()


def test_the_probe_works_here_and_leaves_nothing(tmp_path: Path, syscalls: LinuxSyscalls) -> None:
    answer = supported(tmp_path, syscalls)
    assert (answer.ok, answer.reason) == (True, "")
    assert os.listdir(tmp_path) == []
    assert str(tmp_path) not in _mountinfo()


def test_deletes_through_the_mount_leave_kernel_whiteouts(
    overlay: OverlaySnapshotter, mounter: Mounter
) -> None:
    target = mounter.mount(overlay.prepare("l1-a"))
    write(target, {"gone": "x", "dir/old": "o"})
    mounter.unmount(target)
    overlay.commit("l1", "l1-a")
    target = mounter.mount(overlay.prepare("l2-a", "l1"))
    upper = Path(overlay.upper_dir("l2-a"))
    (target / "gone").unlink()
    for path in (target / "dir" / "old", target / "dir"):
        path.rmdir() if path.is_dir() else path.unlink()
    write(target, {"dir/new": "n"})
    mounter.unmount(target)
    overlay.commit("l2", "l2-a")
    whiteout = os.lstat(upper / "gone")
    assert (stat.S_ISCHR(whiteout.st_mode), whiteout.st_rdev) == (True, 0)
    assert os.getxattr(upper / "dir", "trusted.overlay.opaque") == b"y"
    assert os.listdir(upper.parent) == ["fs"]  # the work dir is gone


def test_a_layer_applied_into_the_upper_dir_without_mounting(
    overlay: OverlaySnapshotter, mounter: Mounter
) -> None:
    target = mounter.mount(overlay.prepare("l1-a"))
    write(target, {"etc/passwd": "root", "etc/group": "g", "var/lib/x": "x", "var/log/y": "y"})
    mounter.unmount(target)
    overlay.commit("l1", "l1-a")
    overlay.prepare("apply", "l1")
    upper = Path(overlay.upper_dir("apply"))
    # What an image layer with ./etc/.wh.group and ./var/lib/.wh..wh..opq becomes.
    os.mkdir(upper / "etc", 0o755)
    os.mknod(upper / "etc" / "group", stat.S_IFCHR, 0)
    write(upper, {"var/lib/fresh": "f"})
    os.chmod(upper / "var", 0o755)
    os.chmod(upper / "var" / "lib", 0o755)
    os.setxattr(upper / "var" / "lib", "trusted.overlay.opaque", b"y")
    overlay.commit("l2", "apply")
    target = mounter.mount(overlay.view("v", "l2"))
    assert tree(target) == {
        "etc": ("dir", 0o755), "etc/passwd": ("file", 0o644, b"root"),
        "var": ("dir", 0o755), "var/log": ("dir", 0o755), "var/log/y": ("file", 0o644, b"y"),
        "var/lib": ("dir", 0o755), "var/lib/fresh": ("file", 0o644, b"f"),
    }


def test_the_deepest_chain_that_fits_one_page_mounts(
    overlay: OverlaySnapshotter, mounter: Mounter
) -> None:
    parent, depth = "", 0
    while True:
        try:
            target = mounter.mount(overlay.prepare(f"l{depth}-a", parent))
        except Unsupported:
            break
        write(target, {f"layer-{depth}": str(depth)})
        mounter.unmount(target)
        overlay.commit(f"l{depth}", f"l{depth}-a")
        parent, depth = f"l{depth}", depth + 1
    assert depth > 20
    target = mounter.mount(overlay.view("top", parent))
    assert len(os.listdir(target)) == depth


def test_mount_takes_exactly_4095_bytes_of_options(
    tmp_path: Path, syscalls: LinuxSyscalls
) -> None:
    """MAX_OPTIONS_BYTES is the kernel's: a page less its NUL (fs/namespace.c, path_mount)."""
    lower, upper, work, merged = (tmp_path / n for n in ("lower", "upper", "work", "merged"))
    for path in (lower, upper, work, merged):
        path.mkdir()
    (lower / "present").write_text("yes")

    def data(size: int) -> str:
        # "/." components pad the lowerdir path without changing where it leads.
        head = f"upperdir={upper},workdir={work},lowerdir={tmp_path}"
        pad = size - len(head) - len("/lower")
        return head + "/." * (pad // 2) + "/" * (pad % 2) + "/lower"

    assert len(data(MAX_OPTIONS_BYTES)) == MAX_OPTIONS_BYTES
    syscalls.mount("overlay", str(merged), "overlay", 0, data(MAX_OPTIONS_BYTES))
    try:
        assert (merged / "present").read_text() == "yes"
    finally:
        syscalls.umount(str(merged))
    with pytest.raises(SystemCallError):
        syscalls.mount("overlay", str(merged), "overlay", 0, data(MAX_OPTIONS_BYTES + 1))
        syscalls.umount(str(merged))
