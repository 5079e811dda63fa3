"""The unpack budget: a rootfs-sized layer (~127 MB, ~10k entries, like debian:bookworm-slim)
must apply in well under 2 s (docker takes about 7 s for the Debian tarball)."""

from __future__ import annotations

import io
import os
import random
import tarfile
import time
from pathlib import Path

import pytest

from dockyard.archive.apply import apply_layer
from dockyard.archive.compression import compressor

from .conftest import tar_bytes

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
    total = 0
    for i in range(9000):
        size = rng.choice([300, 2000, 9000, 25000]) if i % 600 else 3_000_000
        start = rng.randrange(len(blob) - size)
        info = tarfile.TarInfo(f"{dirs[i % 800]}/f{i}")
        info.mode = 0o755 if i % 7 == 0 else 0o644
        members.append((info, blob[start : start + size]))
        total += size
    for i in range(400):
        info = tarfile.TarInfo(f"{dirs[i]}/l{i}")
        info.type, info.linkname = tarfile.SYMTYPE, f"f{i}"
        members.append((info, None))
    return tar_bytes(members)


def timed_apply(data: bytes, target: Path) -> float:
    start = time.perf_counter()
    apply_layer(io.BytesIO(data), target, whiteouts="overlay", name="speed")
    return time.perf_counter() - start


@pytest.mark.parametrize("compression", ["none", "zstd"])
def test_rootfs_sized_layer_applies_within_budget(tmp_path: Path, compression: str) -> None:
    data = rootfs_like_tar()
    c = compressor(compression)  # type: ignore[arg-type]
    blob = c.compress(data) + c.flush()
    os.sync()  # no earlier test's writeback in the measurement
    elapsed = timed_apply(blob, tmp_path)
    print(f"{len(data) / 1e6:.0f} MB {compression}: {elapsed:.2f} s")
    assert elapsed < (2.0 if compression == "none" else 3.0)


@pytest.mark.skipif(not DEBIAN.exists(), reason=f"{DEBIAN} not built (bench/make-debian-slim.sh)")
def test_debian_rootfs_applies_within_budget(tmp_path: Path) -> None:
    data = DEBIAN.read_bytes()
    os.sync()
    elapsed = timed_apply(data, tmp_path)
    print(f"debian slim {len(data) / 1e6:.0f} MB: {elapsed:.2f} s")
    assert elapsed < 2.0
