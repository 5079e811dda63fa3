"""Layers the size of a root filesystem (~127 MB, ~10k entries, files from 300 bytes to 3 MB,
like debian:bookworm-slim), plain and zstd, and the Debian slim tarball itself once bench/ has
built it: the tree applied (with the default file-creating workers) is the one GNU tar makes.

How fast such a layer applies is not asserted here: bench/'s import_slim row measures it beside
docker and podman."""

from __future__ import annotations

import io
import os
import random
import subprocess
import tarfile
from dataclasses import replace
from pathlib import Path

import pytest

from dockyard.archive.apply import apply_layer
from dockyard.archive.compression import compressor

from .conftest import tar_bytes, tree

pytestmark = [pytest.mark.root, pytest.mark.slow]

DEBIAN = Path("/var/cache/dockyard-bench/bookworm-slim.tar")  # bench/make-debian-slim.sh


def rootfs_like_tar() -> bytes:
    """800 directories, 9,000 files (mostly small, a few of megabytes), 400 symlinks, 127 MB."""
    rng = random.Random(7)
    blob = rng.randbytes(6 << 20)
    members: list[tuple[tarfile.TarInfo, bytes | None]] = []
    dirs = [f"usr/d{i // 40}/s{i}" for i in range(800)]
    for name in sorted({p for d in dirs for p in (d.rpartition("/")[0], d)} | {"usr"}):
        info = tarfile.TarInfo(name)
        info.type, info.mode = tarfile.DIRTYPE, 0o755
        members.append((info, None))
    for i in range(9000):
        size = rng.choice([300, 2000, 9000, 25000]) if i % 600 else 3_000_000
        start = rng.randrange(len(blob) - size)
        info = tarfile.TarInfo(f"{dirs[i % 800]}/f{i}")
        info.mode = 0o755 if i % 7 == 0 else 0o644
        members.append((info, blob[start : start + size]))
    for i in range(400):
        info = tarfile.TarInfo(f"{dirs[i]}/l{i}")
        info.type, info.linkname = tarfile.SYMTYPE, f"f{i}"
        members.append((info, None))
    return tar_bytes(members)


def directory_mtimes(tar: bytes) -> dict[str, int]:
    """Each directory entry's mtime in nanoseconds, by its path in the target."""
    with tarfile.open(fileobj=io.BytesIO(tar)) as archive:
        return {os.path.normpath(m.name): round(m.mtime * 10**9)
                for m in archive if m.isdir() and os.path.normpath(m.name) != "."}


def assert_applies_as_gnu_tar_does(tar: bytes, layer: bytes, base: Path) -> None:
    """``layer`` (``tar``, perhaps compressed) applied by dockyard gives GNU tar's tree, and every
    directory has its entry's mtime. (GNU tar sets a directory's mtime when the next entry lies
    outside it, so files that come later under it, as here, leave it at the time of extraction.)"""
    ours, gnu = base / "ours", base / "gnu"
    ours.mkdir()
    gnu.mkdir()
    apply_layer(io.BytesIO(layer), ours, whiteouts="overlay", name="large")
    subprocess.run(["tar", "-x", "-p", "--numeric-owner", "--xattrs", "--xattrs-include=*",
                    "-C", str(gnu)], input=tar, check=True, timeout=600)
    applied = tree(ours)
    untimed = [replace(r, mtime_ns=0) if r.type == "d" else r for r in applied]
    assert untimed == tree(gnu, dir_mtimes=False)
    assert {r.path: r.mtime_ns for r in applied if r.type == "d"} == directory_mtimes(tar)


@pytest.mark.parametrize("compression", ["none", "zstd"])
def test_rootfs_sized_layer_applies_as_gnu_tar_does(tmp_path: Path, compression: str) -> None:
    data = rootfs_like_tar()
    c = compressor(compression)  # type: ignore[arg-type]
    assert_applies_as_gnu_tar_does(data, c.compress(data) + c.flush(), tmp_path)


@pytest.mark.skipif(not DEBIAN.exists(), reason=f"{DEBIAN} not built (bench/make-debian-slim.sh)")
def test_debian_rootfs_applies_as_gnu_tar_does(tmp_path: Path) -> None:
    data = DEBIAN.read_bytes()
    assert_applies_as_gnu_tar_does(data, data, tmp_path)
