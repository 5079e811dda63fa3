"""The conformance suite every snapshotter backend passes (after containerd's snapshots/testsuite):
real mounts of the returned mount lists, changes made through them, the trees seen afterwards."""

from __future__ import annotations

import errno
import os
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

from dockyard.errors import AlreadyExists, Conflict, InvalidArgument, NotFound
from dockyard.snapshots import Info, Kind
from dockyard.snapshots.directory import DirectorySnapshotter
from dockyard.sys.linux import LinuxSyscalls

from .conftest import Mounter, open_backend, tree, write

pytestmark = pytest.mark.root

Change = Callable[[Path], None]


def commit_layer(
    snap: DirectorySnapshotter, mounter: Mounter, name: str, parent: str, change: Change
) -> None:
    """Prepare on ``parent``, make ``change`` through a real mount, unmount, commit as ``name``."""
    key = f"{name}-active"
    target = mounter.mount(snap.prepare(key, parent))
    try:
        change(target)
    finally:
        mounter.unmount(target)
    snap.commit(name, key)


def view_tree(snap: DirectorySnapshotter, mounter: Mounter, parent: str) -> dict[str, object]:
    key = f"view-of-{parent}"
    target = mounter.mount(snap.view(key, parent))
    try:
        return dict(tree(target))
    finally:
        mounter.unmount(target)
        snap.remove(key)


def rm(*names: str) -> Change:
    def change(root: Path) -> None:
        for name in names:
            path = root / name
            if path.is_dir() and not path.is_symlink():
                shutil.rmtree(path)
            else:
                path.unlink()

    return change


def files(entries: dict[str, str]) -> Change:
    return lambda root: write(root, entries)


def both(*changes: Change) -> Change:
    def change(root: Path) -> None:
        for c in changes:
            c(root)

    return change


def test_basic_workflow(snapshotter: DirectorySnapshotter, mounter: Mounter) -> None:
    first = files({"foo": "foo\n", "a/b/c/keep": "c\n"})
    commit_layer(snapshotter, mounter, "committed", "", first)
    assert snapshotter.stat("committed").kind is Kind.COMMITTED

    target = mounter.mount(snapshotter.prepare("next", "committed"))
    assert tree(target) == {
        "foo": ("file", 0o644, b"foo\n"), "a": ("dir", 0o755), "a/b": ("dir", 0o755),
        "a/b/c": ("dir", 0o755), "a/b/c/keep": ("file", 0o644, b"c\n"),
    }
    both(files({"bar": "bar\n", "foo": "bar\n"}), rm("a/b"))(target)
    mounter.unmount(target)
    assert snapshotter.stat("next").parent == "committed"
    snapshotter.commit("committed-next", "next")

    assert view_tree(snapshotter, mounter, "committed-next") == {
        "foo": ("file", 0o644, b"bar\n"), "bar": ("file", 0o644, b"bar\n"), "a": ("dir", 0o755),
    }
    with pytest.raises(Conflict, match="remove"):
        snapshotter.remove("committed")
    snapshotter.remove("committed-next")
    snapshotter.remove("committed")
    assert snapshotter.walk() == []
    assert os.listdir(snapshotter.root / "snapshots") == []


def test_stat_and_walk(snapshotter: DirectorySnapshotter, mounter: Mounter) -> None:
    commit_layer(snapshotter, mounter, "A", "", files({"a": "a"}))
    commit_layer(snapshotter, mounter, "B", "A", files({"b": "b"}))
    snapshotter.prepare("active", "B", labels={"role": "container"})
    snapshotter.view("view", "A")
    snapshotter.prepare("bare")
    found = {info.name: info for info in snapshotter.walk()}
    assert [(i.name, i.kind, i.parent, i.labels) for i in found.values()] == [
        ("A", Kind.COMMITTED, "", {}),
        ("B", Kind.COMMITTED, "A", {}),
        ("active", Kind.ACTIVE, "B", {"role": "container"}),
        ("bare", Kind.ACTIVE, "", {}),
        ("view", Kind.VIEW, "A", {}),
    ]
    for name, info in found.items():
        assert snapshotter.stat(name) == info
        assert info.created == info.updated > 0
    assert snapshotter.stat(snapshotter.stat("B").parent).parent == ""


def test_one_key_one_snapshot(snapshotter: DirectorySnapshotter) -> None:
    snapshotter.prepare("base")
    snapshotter.commit("A", "base")
    snapshotter.prepare("layer", "A")
    with pytest.raises(AlreadyExists):
        snapshotter.view("layer", "A")
    with pytest.raises(AlreadyExists):
        snapshotter.prepare("layer", "A")
    snapshotter.view("v", "A")
    with pytest.raises(AlreadyExists):
        snapshotter.view("v", "A")
    with pytest.raises(NotFound, match="'ghost'"):
        snapshotter.prepare("x", "ghost")
    with pytest.raises(InvalidArgument, match="'layer'"):
        snapshotter.prepare("x", "layer")
    with pytest.raises(NotFound, match="'ghost'"):
        snapshotter.stat("ghost")
    with pytest.raises(NotFound, match="'ghost'"):
        snapshotter.mounts("ghost")


def test_only_active_snapshots_commit(snapshotter: DirectorySnapshotter) -> None:
    snapshotter.prepare("a")
    snapshotter.commit("A", "a")
    snapshotter.view("v", "A")
    with pytest.raises(Conflict, match="'v'"):
        snapshotter.commit("V", "v")
    with pytest.raises(Conflict, match="'A'"):
        snapshotter.commit("A2", "A")
    snapshotter.prepare("b")
    with pytest.raises(AlreadyExists, match="'A'"):
        snapshotter.commit("A", "b")
    assert snapshotter.stat("b").kind is Kind.ACTIVE


def test_remove_semantics(snapshotter: DirectorySnapshotter) -> None:
    snapshotter.prepare("base")
    snapshotter.commit("committed-base", "base")
    snapshotter.prepare("intermediate", "committed-base")
    snapshotter.commit("committed-inter", "intermediate")
    snapshotter.prepare("top", "committed-inter")
    with pytest.raises(Conflict, match=r"'committed-inter'.*top"):
        snapshotter.remove("committed-inter")
    snapshotter.remove("top")
    snapshotter.remove("committed-inter")
    # Keys and names come free again (containerd's checkRemove).
    snapshotter.prepare("reuse", "committed-base")
    snapshotter.remove("reuse")
    snapshotter.view("reuse", "committed-base")
    snapshotter.remove("reuse")
    snapshotter.prepare("reuse")
    snapshotter.remove("committed-base")
    snapshotter.commit("committed-base", "reuse")
    assert [i.name for i in snapshotter.walk()] == ["committed-base"]
    assert len(os.listdir(snapshotter.root / "snapshots")) == 1
    with pytest.raises(NotFound, match="'top'"):
        snapshotter.remove("top")


def test_deleted_files_stay_deleted_in_children(
    snapshotter: DirectorySnapshotter, mounter: Mounter
) -> None:
    commit_layer(snapshotter, mounter, "l1", "", files({"foo": "foo\n", "foobar": "foobar\n"}))
    commit_layer(snapshotter, mounter, "l2", "l1", rm("foobar"))
    commit_layer(snapshotter, mounter, "l3", "l2", lambda root: None)
    expected = {"foo": ("file", 0o644, b"foo\n")}
    assert view_tree(snapshotter, mounter, "l2") == expected
    assert view_tree(snapshotter, mounter, "l3") == expected


def test_directory_removed_and_recreated(
    snapshotter: DirectorySnapshotter, mounter: Mounter
) -> None:
    commit_layer(snapshotter, mounter, "l1", "", files({"lib/old": "o", "lib/sub/deep": "d"}))
    commit_layer(snapshotter, mounter, "l2", "l1", both(rm("lib"), files({"lib/new": "n"})))
    commit_layer(snapshotter, mounter, "l3", "l2", rm("lib"))
    assert view_tree(snapshotter, mounter, "l2") == {
        "lib": ("dir", 0o755), "lib/new": ("file", 0o644, b"n"),
    }
    assert view_tree(snapshotter, mounter, "l3") == {}


def test_file_moved_from_a_lower_layer(
    snapshotter: DirectorySnapshotter, mounter: Mounter
) -> None:
    def move(root: Path) -> None:
        write(root, {"dir3/f1": "Hello"})
        shutil.rmtree(root / "dir1")
        os.link(root / "dir2" / "f2", root / "dir3" / "f2")
        (root / "dir2" / "f2").unlink()

    commit_layer(snapshotter, mounter, "l1", "", files({"dir1/f1": "Hello", "dir2/f2": "..."}))
    commit_layer(snapshotter, mounter, "l2", "l1", move)
    assert view_tree(snapshotter, mounter, "l2") == {
        "dir2": ("dir", 0o755), "dir3": ("dir", 0o755),
        "dir3/f1": ("file", 0o644, b"Hello"), "dir3/f2": ("file", 0o644, b"..."),
    }


def test_active_sees_lower_files_and_hides_deleted_ones(
    snapshotter: DirectorySnapshotter, mounter: Mounter
) -> None:
    commit_layer(snapshotter, mounter, "l1", "", files({"etc/passwd": "root", "bin/sh": "sh"}))
    commit_layer(snapshotter, mounter, "l2", "l1", files({"etc/hosts": "localhost"}))
    target = mounter.mount(snapshotter.prepare("container", "l2"))
    assert (target / "etc" / "passwd").read_text() == "root"
    assert (target / "etc" / "hosts").read_text() == "localhost"
    (target / "etc" / "passwd").unlink()
    shutil.rmtree(target / "bin")
    (target / "etc" / "hosts").write_text("changed")
    assert tree(target) == {"etc": ("dir", 0o755), "etc/hosts": ("file", 0o644, b"changed")}
    mounter.unmount(target)
    again = mounter.mount(snapshotter.mounts("container"))
    assert tree(again) == {"etc": ("dir", 0o755), "etc/hosts": ("file", 0o644, b"changed")}
    # The committed layers below are untouched.
    assert view_tree(snapshotter, mounter, "l2") == {
        "etc": ("dir", 0o755), "bin": ("dir", 0o755), "bin/sh": ("file", 0o644, b"sh"),
        "etc/passwd": ("file", 0o644, b"root"), "etc/hosts": ("file", 0o644, b"localhost"),
    }


@pytest.mark.parametrize("depth", [0, 1, 2])
def test_views_are_read_only(
    snapshotter: DirectorySnapshotter, mounter: Mounter, depth: int
) -> None:
    parent = ""
    for i in range(depth):
        commit_layer(snapshotter, mounter, f"l{i}", parent, files({f"f{i}": "x"}))
        parent = f"l{i}"
    target = mounter.mount(snapshotter.view("view", parent))
    with pytest.raises(OSError) as caught:
        (target / "testfile").write_text("content")
    assert caught.value.errno == errno.EROFS
    if depth:
        with pytest.raises(OSError) as caught:
            (target / "f0").unlink()
        assert caught.value.errno == errno.EROFS


def test_mounted_active_root_is_0755(snapshotter: DirectorySnapshotter, mounter: Mounter) -> None:
    target = mounter.mount(snapshotter.prepare("a"))
    assert oct(os.stat(target).st_mode & 0o7777) == "0o755"


def test_owners_modes_and_times_pass_to_children(
    snapshotter: DirectorySnapshotter, mounter: Mounter
) -> None:
    def populate(root: Path) -> None:
        write(root, {"dir/file": "data", "other": "x"})
        os.chown(root / "dir" / "file", 1000, 1001)
        os.chmod(root / "dir" / "file", 0o4750)
        os.chown(root / "dir", 33, 33)
        os.setxattr(root / "dir" / "file", "user.note", b"hello")
        os.setxattr(root / "dir" / "file", "trusted.note", b"secret")
        os.link(root / "other", root / "hardlink")
        os.symlink("dir/file", root / "symlink")
        os.mknod(root / "null", 0o20666, os.makedev(1, 3))
        os.mkfifo(root / "fifo", 0o600)
        os.utime(root / "other", ns=(10**18, 10**18))
        os.utime(root / "dir", ns=(10**18, 10**18))

    commit_layer(snapshotter, mounter, "l1", "", populate)
    target = mounter.mount(snapshotter.view("v1", "l1"))
    expected = tree(target, owners=True)
    mounter.unmount(target)
    target = mounter.mount(snapshotter.prepare("child", "l1"))
    assert tree(target, owners=True) == expected
    assert expected["dir"][-4:-1] == (33, 33, 10**18)
    assert os.stat(target / "other").st_ino == os.stat(target / "hardlink").st_ino
    (target / "dir" / "file").chmod(0o600)
    os.chown(target / "dir" / "file", 5, 5)
    mounter.unmount(target)
    snapshotter.commit("l2", "child")
    target = mounter.mount(snapshotter.view("v2", "l2"))
    st = os.stat(target / "dir" / "file")
    assert (st.st_uid, st.st_gid, st.st_mode & 0o7777) == (5, 5, 0o600)
    assert os.getxattr(target / "dir" / "file", "user.note") == b"hello"


def test_twenty_layer_chain(
    snapshotter: DirectorySnapshotter, mounter: Mounter, tmp_path: Path
) -> None:
    """containerd's 128-layer test, shortened: each layer compared with a flat copy."""
    flat = tmp_path / "flat"
    flat.mkdir()
    os.chmod(flat, 0o755)
    changes: list[Change] = [files({"bottom": "way at the bottom\n", "overwriteme": "FIRST!\n",
                                    "addhere/.keep": "", "onlyme/bottom": "bye!\n"})]
    for i in range(1, 20):
        changes.append(both(
            files({"overwriteme": f"{i} WAS HERE!\n", f"addhere/file-{i}": "same\n"}),
            rm("onlyme"),
            files({f"onlyme/file-{i}": "only me!\n"}),
        ))
    parent = ""
    for i, change in enumerate(changes):
        target = mounter.mount(snapshotter.prepare(f"prepare-{i}", parent))
        try:
            assert tree(target) == tree(flat), f"layer {i} before its change"
            change(flat)
            change(target)
            assert tree(target) == tree(flat), f"layer {i} after its change"
        finally:
            mounter.unmount(target)
        snapshotter.commit(f"layer-{i}", f"prepare-{i}")
        parent = f"layer-{i}"
    assert view_tree(snapshotter, mounter, parent) == tree(flat)
    assert snapshotter.stat(parent).parent == "layer-18"


def test_usage(snapshotter: DirectorySnapshotter, mounter: Mounter) -> None:
    snapshotter.prepare("a")
    empty = snapshotter.usage("a")
    target = mounter.mount(snapshotter.mounts("a"))
    (target / "big").write_bytes(b"\1" * (1 << 20))
    os.link(target / "big", target / "same")
    (target / "small").write_bytes(b"s")
    mounter.unmount(target)
    active = snapshotter.usage("a")
    assert active.inodes == empty.inodes + 2
    assert (1 << 20) <= active.size - empty.size < (1 << 20) + 64 * 1024
    snapshotter.commit("A", "a")
    assert snapshotter.usage("A") == active
    # A child's own directory holds only its changes (overlay) or a full copy (native).
    target = mounter.mount(snapshotter.prepare("b", "A"))
    (target / "small").write_bytes(b"t")
    mounter.unmount(target)
    child = snapshotter.usage("b")
    if snapshotter.whiteout_style == "overlay":
        assert child.inodes == empty.inodes + 1
    else:
        assert child == active


def test_reopening_sees_the_same_state(
    backend: str, snapshotter: DirectorySnapshotter, mounter: Mounter, syscalls: LinuxSyscalls
) -> None:
    commit_layer(snapshotter, mounter, "l1", "", files({"a": "1"}))
    snapshotter.prepare("work", "l1", labels={"k": "v"})
    target = mounter.mount(snapshotter.mounts("work"))
    write(target, {"b": "2"})
    mounter.unmount(target)
    before = snapshotter.walk()
    snapshotter.close()
    again = open_backend(backend, snapshotter.root, syscalls)
    try:
        assert again.walk() == before
        assert again.stat("work") == Info(
            "work", Kind.ACTIVE, "l1", {"k": "v"}, before[1].created, before[1].updated
        )
        target = mounter.mount(again.mounts("work"))
        assert tree(target) == {"a": ("file", 0o644, b"1"), "b": ("file", 0o644, b"2")}
        mounter.unmount(target)
        again.commit("l2", "work")
        assert [i.kind for i in again.walk()] == [Kind.COMMITTED, Kind.COMMITTED]
    finally:
        again.close()


def test_cleanup_removes_orphaned_directories(
    snapshotter: DirectorySnapshotter, mounter: Mounter
) -> None:
    commit_layer(snapshotter, mounter, "l1", "", files({"a": "1"}))
    snapshotter.prepare("live", "l1")
    dirs = snapshotter.root / "snapshots"
    kept = sorted(os.listdir(dirs))
    for orphan in ("77", "new-crashed", "trash-3-deadbeef"):
        write(dirs / orphan / "fs", {"x/y": "z"})
    os.mknod(dirs / "77" / "fs" / "whiteout", 0o20000, 0)
    snapshotter.cleanup()
    assert sorted(os.listdir(dirs)) == kept
    assert view_tree(snapshotter, mounter, "l1") == {"a": ("file", 0o644, b"1")}


def test_a_shared_layer_is_stored_once(
    snapshotter: DirectorySnapshotter, mounter: Mounter
) -> None:
    commit_layer(snapshotter, mounter, "base", "", files({"shared": "base"}))
    commit_layer(snapshotter, mounter, "app1", "base", files({"one": "1"}))
    commit_layer(snapshotter, mounter, "app2", "base", files({"two": "2"}))
    assert len(os.listdir(snapshotter.root / "snapshots")) == 3
    first = mounter.mount(snapshotter.prepare("c1", "app1"))
    second = mounter.mount(snapshotter.prepare("c2", "app2"))
    assert sorted(os.listdir(first)) == ["one", "shared"]
    assert sorted(os.listdir(second)) == ["shared", "two"]
    (first / "shared").write_text("changed by c1")
    assert (second / "shared").read_text() == "base"
    if snapshotter.whiteout_style == "overlay":
        base_fs = str(snapshotter.root / "snapshots" / "1" / "fs")
        for key in ("c1", "c2"):
            [mount] = snapshotter.mounts(key)
            lower = next(o for o in mount.options if o.startswith("lowerdir="))
            assert lower.split(":")[-1] == base_fs


def test_a_failed_deletion_is_finished_by_cleanup(
    snapshotter: DirectorySnapshotter, mounter: Mounter
) -> None:
    target = mounter.mount(snapshotter.prepare("a"))
    write(target, {"stuck": "immutable"})
    mounter.unmount(target)
    stuck = Path(snapshotter.upper_dir("a")) / "stuck"
    if subprocess.run(["chattr", "+i", str(stuck)], check=False).returncode != 0:
        pytest.skip("no immutable attribute on this filesystem")
    try:
        snapshotter.remove("a")  # the record goes; the directory cannot
        assert snapshotter.walk() == []
        [trash] = os.listdir(snapshotter.root / "snapshots")
        assert trash.startswith("trash-1-")
    finally:
        for path in (snapshotter.root / "snapshots").rglob("stuck"):
            subprocess.run(["chattr", "-i", str(path)], check=True)
    snapshotter.cleanup()
    assert os.listdir(snapshotter.root / "snapshots") == []
