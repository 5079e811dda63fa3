"""Importing rootfs tars into a real data root, on both snapshotters (root: overlay, mknod)."""

from __future__ import annotations

import gzip
import hashlib
import io
import os
import signal
import subprocess
import sys
import tarfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from dockyard.errors import Breakout, DataCorrupt
from dockyard.mount import mount_all, unmount
from dockyard.oci.config import ImageConfig
from dockyard.oci.digest import Digest
from dockyard.oci.manifest import Manifest
from dockyard.services.image_catalog import SIZE_LABEL, diff_size
from dockyard.snapshots.directory import disk_usage
from dockyard.store import DataRoot, open_snapshotter
from dockyard.sys import real
from dockyard.sys.linux import LinuxSyscalls

pytestmark = pytest.mark.root


def _file(tar: tarfile.TarFile, name: str, data: bytes, mode: int = 0o644) -> None:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    info.mode = mode
    info.mtime = 1_700_000_000
    tar.addfile(info, io.BytesIO(data))


def rootfs_tar(extra: bytes = b"", files: int = 20, size: int = 1000) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for name in ("bin", "etc"):
            info = tarfile.TarInfo(name)
            info.type = tarfile.DIRTYPE
            info.mode = 0o755
            tar.addfile(info)
        _file(tar, "etc/passwd", b"root:x:0:0:root:/root:/bin/sh\n")
        _file(tar, "etc/extra", extra)
        for i in range(files):
            _file(tar, f"bin/f{i}", os.urandom(size) if size else b"", 0o755)
        link = tarfile.TarInfo("bin/sh")
        link.type = tarfile.SYMTYPE
        link.linkname = "f0"
        tar.addfile(link)
    return buf.getvalue()


@pytest.fixture(params=["overlayfs", "native"])
def root(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[DataRoot]:
    data_root = DataRoot(tmp_path / "root", real(), snapshotter=request.param)
    try:
        yield data_root
    finally:
        data_root.close()


def _image(root: DataRoot, name: str) -> tuple[Manifest, ImageConfig]:
    manifest = Manifest.from_json(root.content.read_bytes(root.images.get(name).target.digest))
    return manifest, ImageConfig.from_json(root.content.read_bytes(manifest.config.digest))


def _nothing_left(root: DataRoot) -> None:
    assert root.images.records() == []
    assert root.snapshotter.walk() == []
    assert list(root.content.walk()) == []
    assert root.content.ingests() == []
    assert root.leases.leases() == []


def _read_through_view(root: DataRoot, name: str, tmp_path: Path) -> tuple[bytes, str]:
    target = tmp_path / "view"
    target.mkdir()
    mounts = root.snapshotter.view("check", name)
    mount_all(mounts, str(target), real())
    try:
        return (target / "etc/passwd").read_bytes(), os.readlink(target / "bin/sh")
    finally:
        unmount(str(target), real())
        root.snapshotter.remove("check")


def test_import_plain_tar(root: DataRoot, tmp_path: Path) -> None:
    data = rootfs_tar()
    result = root.import_rootfs(io.BytesIO(data), "busybox")
    assert result.name == "docker.io/library/busybox:latest"
    manifest, config = _image(root, result.name)
    tar_digest = Digest("sha256", hashlib.sha256(data).hexdigest())
    assert config.diff_ids == (tar_digest,)
    assert [layer.digest for layer in manifest.layers] == [tar_digest]
    assert manifest.config.digest == result.image_id
    assert config.history[0].comment == "Imported from -"
    [info] = root.snapshotter.walk()
    assert info.name == str(tar_digest)
    assert _read_through_view(root, info.name, tmp_path) == (
        b"root:x:0:0:root:/root:/bin/sh\n", "f0"
    )
    assert root.leases.leases() == []
    # Counted during the extraction: the same as walking the tree, and dockerd's layer size.
    [snapshot_dir] = os.listdir(root.snapshotter.root / "snapshots")  # type: ignore[attr-defined]
    fs = root.snapshotter.root / "snapshots" / snapshot_dir / "fs"  # type: ignore[attr-defined]
    assert root.snapshotter.usage(info.name) == disk_usage(fs)
    assert root.content.info(tar_digest).labels == {SIZE_LABEL: str(diff_size(io.BytesIO(data)))}


def test_import_gzip_keeps_compressed_blob(root: DataRoot) -> None:
    data = rootfs_tar()
    packed = gzip.compress(data)
    result = root.import_rootfs(io.BytesIO(packed), "x/y:1")
    manifest, config = _image(root, "docker.io/x/y:1")
    assert config.diff_ids == (Digest.of(data),)
    assert manifest.layers[0].digest == Digest.of(packed)
    assert manifest.layers[0].media_type == "application/vnd.docker.image.rootfs.diff.tar.gzip"
    assert result.layer.compression == "gzip"
    assert root.content.info(Digest.of(packed)).labels == {
        SIZE_LABEL: str(diff_size(io.BytesIO(data))), "dockyard/uncompressed-size": str(len(data)),
        "containerd.io/uncompressed": str(Digest.of(data)),
    }


def test_same_layer_is_stored_once(root: DataRoot) -> None:
    data = rootfs_tar()
    root.import_rootfs(io.BytesIO(data), "a")
    root.import_rootfs(io.BytesIO(data), "b")
    assert len(root.images.records()) == 2
    assert [i.name for i in root.snapshotter.walk()] == [str(Digest.of(data))]


def test_untagged_import_is_dangling(root: DataRoot) -> None:
    result = root.import_rootfs(io.BytesIO(rootfs_tar()), None)
    assert result.name.startswith("moby-dangling@sha256:")


def test_truncated_tar_leaves_nothing(root: DataRoot) -> None:
    data = rootfs_tar(size=5000)
    with pytest.raises(DataCorrupt, match="busybox"):
        root.import_rootfs(io.BytesIO(data[: len(data) // 2]), "busybox")
    _nothing_left(root)


def test_truncated_gzip_leaves_nothing(root: DataRoot) -> None:
    packed = gzip.compress(rootfs_tar(size=5000))
    with pytest.raises(DataCorrupt):
        root.import_rootfs(io.BytesIO(packed[:-100]), "busybox")
    _nothing_left(root)


def test_escaping_tar_is_refused_and_leaves_nothing(root: DataRoot, tmp_path: Path) -> None:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        link = tarfile.TarInfo("escape")
        link.type = tarfile.SYMTYPE
        link.linkname = str(tmp_path)
        tar.addfile(link)
        _file(tar, "escape/planted", b"gotcha")
    with pytest.raises(Breakout):
        root.import_rootfs(io.BytesIO(buf.getvalue()), "evil")
    assert not (tmp_path / "planted").exists()
    _nothing_left(root)


def test_gc_keeps_shared_and_removes_unreferenced(root: DataRoot) -> None:
    base = rootfs_tar(b"a")
    other = rootfs_tar(b"b")
    root.import_rootfs(io.BytesIO(base), "a")
    root.import_rootfs(io.BytesIO(base), "b")
    root.import_rootfs(io.BytesIO(other), "c")
    before = {i.digest for i in root.content.walk()}
    a = root.images.get("docker.io/library/a:latest").target.digest
    a_config = _image(root, "docker.io/library/a:latest")[0].config.digest
    root.images.delete("docker.io/library/a:latest")
    assert set(root.gc().blobs) == {a, a_config}
    before -= {a, a_config}
    root.images.delete("docker.io/library/c:latest")
    report = root.gc()
    assert report.snapshots == (str(Digest.of(other)),)
    after = {i.digest for i in root.content.walk()}
    assert before - after == set(report.blobs)
    assert Digest.of(other) in report.blobs
    assert Digest.of(base) in after
    root.images.delete("docker.io/library/b:latest")
    root.gc()
    _nothing_left(root)


def test_lease_protects_content_until_it_expires(tmp_path: Path) -> None:
    now = [1_000_000.0]
    data_root = DataRoot(tmp_path / "r", real(), snapshotter="native", clock=lambda: now[0])
    try:
        blob = data_root.content.put_bytes(b"in flight")
        lease = data_root.leases.create(expires_at=now[0] + 60)
        from dockyard.content.leases import Resource

        data_root.leases.add_resource(lease.id, Resource("content", str(blob)))
        assert data_root.gc().blobs == ()
        now[0] += 61
        report = data_root.gc()
        assert report.blobs == (blob,)
        assert report.leases == (lease.id,)
    finally:
        data_root.close()


KILL_SCRIPT = """
import sys
from pathlib import Path
from dockyard.store import main
sys.exit(main(["--root", sys.argv[1], "--snapshotter", sys.argv[2], "import", sys.argv[3], "big"]))
"""


@pytest.mark.slow
@pytest.mark.parametrize("snapshotter", ["overlayfs", "native"])
def test_sigkill_during_import_leaves_a_consistent_store(tmp_path: Path, snapshotter: str) -> None:
    big = tmp_path / "big.tar"
    big.write_bytes(rootfs_tar(files=400, size=100_000))
    data_root = tmp_path / "root"
    outcomes = set()
    for delay in (0.15, 0.3, 0.45, 0.6, 0.9, 1.5):
        child = subprocess.Popen(
            [sys.executable, "-c", KILL_SCRIPT, str(data_root), snapshotter, str(big)],
            stdout=subprocess.DEVNULL,
        )
        time.sleep(delay)
        child.send_signal(signal.SIGKILL)
        child.wait()
        store = DataRoot(data_root, real(), snapshotter=snapshotter)
        try:
            store.recover()
            names = [r.name for r in store.images.records()]
            outcomes.add(bool(names))
            for info in store.content.walk():
                store.content.verify(info.digest)
            assert [i for i in store.snapshotter.walk() if i.kind.value != "committed"] == []
            if names:
                _, config = _image(store, "docker.io/library/big:latest")
                assert config.diff_ids == (Digest.of(big.read_bytes()),)
                assert [i.name for i in store.snapshotter.walk()] == [str(config.diff_ids[0])]
                store.images.delete("docker.io/library/big:latest")
            # Whatever the kill left, the same import now succeeds.
            with open(big, "rb") as stream:
                store.import_rootfs(stream, "big")
            store.images.delete("docker.io/library/big:latest")
            store.gc()
        finally:
            store.close()
    assert False in outcomes


class _CountingSyscalls(LinuxSyscalls):
    def __init__(self) -> None:
        self.mounts = 0

    def mount(self, source: str, target: str, fstype: str, flags: int = 0,
              data: str = "") -> None:
        self.mounts += 1
        super().mount(source, target, fstype, flags, data)


def test_auto_probes_overlay_once(tmp_path: Path) -> None:
    syscalls = _CountingSyscalls()
    name, snapshotter = open_snapshotter(tmp_path, "auto", syscalls)
    try:
        assert (name, syscalls.mounts) == ("overlayfs", 1)
    finally:
        snapshotter.close()
