"""Volumes on the real kernel: tmpfs and bind option volumes mounted by reference count, removal
that never reaches into a bound host directory, copy-up keeping owners, modes, device nodes and
privileged attributes."""

from __future__ import annotations

import errno
import os
import stat
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from dockyard.sys import real
from dockyard.volumes import VolumeStore
from dockyard.volumes.mountinfo import mounted_at_or_under

pytestmark = pytest.mark.root

CID1, CID2 = "1" * 63 + "a", "2" * 63 + "b"


@pytest.fixture
def store(tmp_path: Path) -> Iterator[VolumeStore]:
    try:
        yield VolumeStore(tmp_path / "volumes", real())
    finally:
        for point in mounted_at_or_under(tmp_path):
            subprocess.run(["umount", "-l", point], check=False)


def mounts_under(path: Path) -> list[str]:
    return mounted_at_or_under(path)


def test_tmpfs_volume_is_mounted_while_held(store: VolumeStore, tmp_path: Path) -> None:
    store.create("scratch", options={"type": "tmpfs", "device": "tmpfs",
                                     "o": "size=1m,uid=1000,mode=0750,noexec"})
    path = store.mount("scratch", CID1)
    info = path.stat()
    assert (info.st_uid, stat.S_IMODE(info.st_mode)) == (1000, 0o750)
    assert os.statvfs(path).f_blocks * os.statvfs(path).f_frsize == 1 << 20
    (path / "f").write_text("in memory")
    assert store.mount("scratch", CID2) == path
    store.unmount("scratch", CID1)
    assert (path / "f").read_text() == "in memory"
    store.unmount("scratch", CID2)
    assert mounts_under(tmp_path) == []
    assert os.listdir(path) == []
    store.remove("scratch")


def test_bind_volume_and_removal_leave_the_host_directory(store: VolumeStore,
                                                          tmp_path: Path) -> None:
    host = tmp_path / "host"
    host.mkdir()
    (host / "keep").write_text("host data")
    store.create("hostdir", options={"type": "none", "device": str(host), "o": "bind"})
    path = store.mount("hostdir", CID1)
    assert (path / "keep").read_text() == "host data"
    (path / "new").write_text("through the volume")
    store.use("hostdir", CID1)
    with pytest.raises(Exception, match="volume is in use"):
        store.remove("hostdir")
    store.release("hostdir", CID1)
    store.remove("hostdir")  # still mounted (CID1 never unmounted): unmounted first
    assert mounts_under(tmp_path) == []
    assert sorted(os.listdir(host)) == ["keep", "new"]
    assert os.listdir(tmp_path / "volumes") == []


def test_read_only_bind_volume(store: VolumeStore, tmp_path: Path) -> None:
    host = tmp_path / "host"
    host.mkdir()
    store.create("ro", options={"type": "none", "device": str(host), "o": "bind,ro"})
    path = store.mount("ro", CID1)
    with pytest.raises(OSError) as caught:
        (path / "x").write_text("no")
    assert caught.value.errno == errno.EROFS
    store.unmount("ro", CID1)
    assert mounts_under(tmp_path) == []


def test_mounts_are_reconciled_after_a_restart(store: VolumeStore, tmp_path: Path) -> None:
    store.create("tm", options={"type": "tmpfs", "device": "tmpfs"})
    path = store.mount("tm", CID1)
    again = VolumeStore(tmp_path / "volumes", real())
    again.reconcile(containers={CID1}, running={CID1})
    assert mounts_under(tmp_path) == [str(path)]
    again.reconcile(containers={CID1}, running=set())
    assert mounts_under(tmp_path) == []


def test_bad_mount_options_name_the_volume(store: VolumeStore, tmp_path: Path) -> None:
    store.create("bad", options={"type": "tmpfs", "device": "tmpfs", "o": "size=lots"})
    with pytest.raises(Exception, match=r"mount of volume bad \(tmpfs tmpfs on .*\): "
                                        "Invalid argument"):
        store.mount("bad", CID1)
    assert not (tmp_path / "volumes" / "bad" / "refs.json").exists()  # no holder recorded
    assert mounts_under(tmp_path) == []


def image_tree(src: Path) -> None:
    (src / "data").mkdir(parents=True)
    os.chown(src / "data", 999, 998)
    os.chmod(src / "data", 0o700)
    (src / "data" / "PG_VERSION").write_text("15\n")
    os.chown(src / "data" / "PG_VERSION", 999, 998)
    (src / "data" / "bin").write_bytes(b"\x7fELF")
    os.chmod(src / "data" / "bin", 0o4755)
    os.setxattr(src / "data" / "bin", "security.capability",
                bytes.fromhex("0100000200040000000000000000000000000000"))
    os.setxattr(src / "data" / "PG_VERSION", "trusted.mark", b"t")
    os.mknod(src / "data" / "null", stat.S_IFCHR | 0o666, os.makedev(1, 3))
    os.chown(src / "data" / "null", 5, 6)
    os.symlink("/etc/shadow", src / "data" / "shadow")
    os.lchown(src / "data" / "shadow", 7, 8)
    os.link(src / "data" / "PG_VERSION", src / "data" / "PG_VERSION.bak")


def describe(path: Path) -> dict[str, object]:
    seen: dict[str, object] = {}
    for entry in [path, *sorted(path.rglob("*"))]:
        info = entry.lstat()
        xattrs = {} if stat.S_ISLNK(info.st_mode) else {
            n: os.getxattr(entry, n) for n in os.listxattr(entry)}
        seen[str(entry.relative_to(path))] = (
            stat.S_IFMT(info.st_mode), stat.S_IMODE(info.st_mode), info.st_uid, info.st_gid,
            info.st_rdev, info.st_nlink, xattrs)
    return seen


def test_copy_up_keeps_owners_modes_nodes_and_attributes(store: VolumeStore,
                                                         tmp_path: Path) -> None:
    src = tmp_path / "rootfs" / "var" / "lib" / "postgresql"
    image_tree(src)
    volume = store.create("", reference=CID1)
    assert store.copy_up(volume.name, src / "data")
    assert describe(volume.mountpoint) == describe(src / "data")
    assert os.readlink(volume.mountpoint / "shadow") == "/etc/shadow"
    assert not store.copy_up(volume.name, src / "data")


def test_copy_up_into_a_bind_volume(store: VolumeStore, tmp_path: Path) -> None:
    src = tmp_path / "image"
    (src / "conf").mkdir(parents=True)
    (src / "conf" / "a").write_text("1")
    host = tmp_path / "host"
    host.mkdir()
    store.create("b1", options={"type": "none", "device": str(host), "o": "bind"})
    assert store.copy_up("b1", src)
    assert (host / "conf" / "a").read_text() == "1"
    assert mounts_under(tmp_path) == []
