"""Inputs the rows feed to the engines: the cached Debian slim rootfs tar and tiny rootfs tars.

/var/cache/dockyard-bench/bookworm-slim.tar   built once by bench/make-debian-slim.sh
"""

from __future__ import annotations

import hashlib
import io
import subprocess
import tarfile
from pathlib import Path

from bench.rows import Context, RowFailed

SLIM_TAR = "bookworm-slim.tar"
NONCE_MEMBER = "./dockyard-bench-nonce"
NONCE_MTIME = 1747699200  # the SOURCE_DATE_EPOCH of the base tar
TINY_PAYLOAD = 2048  # bytes of distinct content in each tiny rootfs
BUILD_TIMEOUT_S = 1800.0


def debian_slim(ctx: Context) -> Path:
    """The cached Debian bookworm slim rootfs tar, built first if it is missing."""
    path = ctx.cache / SLIM_TAR
    if path.exists():
        return path
    print(f"bench: building {path} (once; downloads packages)", flush=True)
    script = ctx.repo / "bench" / "make-debian-slim.sh"
    try:
        proc = subprocess.run(
            ["bash", str(script), str(path)],
            env=dict(ctx.env),
            check=False,
            timeout=BUILD_TIMEOUT_S,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise RowFailed(f"make-debian-slim.sh {path}: {exc}") from exc
    if proc.returncode != 0 or not path.exists():
        raise RowFailed(f"make-debian-slim.sh {path} exited {proc.returncode}")
    return path


def append_nonce(tar_path: Path, nonce: str) -> None:
    """Append one regular file holding `nonce` to an uncompressed tar, in place."""
    data = f"{nonce}\n".encode()
    info = tarfile.TarInfo(NONCE_MEMBER)
    info.size = len(data)
    info.mode = 0o644
    info.mtime = NONCE_MTIME
    with tarfile.open(tar_path, "a", format=tarfile.USTAR_FORMAT) as tar:
        tar.addfile(info, io.BytesIO(data))


def tiny_rootfs(index: int) -> bytes:
    """A rootfs tar of a few KB (/etc/hostname, /etc/bench-id with 2 KB unique to `index`,
    an empty /tmp); every index gives a different layer, the same index the same bytes."""
    seed = f"dockyard-bench tiny rootfs {index}".encode()
    payload = b""
    while len(payload) < TINY_PAYLOAD:
        payload += hashlib.sha256(seed + len(payload).to_bytes(4, "big")).hexdigest().encode()
    files = {
        "etc/hostname": b"dockyard-bench\n",
        "etc/bench-id": f"{index}\n".encode() + payload[:TINY_PAYLOAD] + b"\n",
    }
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w", format=tarfile.USTAR_FORMAT) as tar:
        for name in ("etc", "tmp"):
            info = tarfile.TarInfo(name)
            info.type = tarfile.DIRTYPE
            info.mode = 0o1777 if name == "tmp" else 0o755
            info.mtime = NONCE_MTIME
            tar.addfile(info)
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            info.mode = 0o644
            info.mtime = NONCE_MTIME
            tar.addfile(info, io.BytesIO(data))
    return out.getvalue()
