"""Inputs the rows feed to the engines: the cached Debian slim rootfs tar, tiny rootfs tars,
and a busybox rootfs tar.

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
BUSYBOX = Path("/bin/busybox")  # Debian's busybox-static
BUSYBOX_DIRS = {"bin": 0o755, "dev": 0o755, "etc": 0o755, "home": 0o755, "proc": 0o755,
                "root": 0o700, "sbin": 0o755, "sys": 0o755, "tmp": 0o1777, "usr": 0o755,
                "usr/bin": 0o755, "usr/local": 0o755, "usr/local/bin": 0o755,
                "usr/sbin": 0o755, "var": 0o755}  # fmt: skip
BUSYBOX_FILES = {
    "etc/passwd": b"root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/home:/bin/false\n",
    "etc/group": b"root:x:0:\nnobody:x:65534:\n",
}


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


def busybox_rootfs(path: Path, binary: Path = BUSYBOX) -> Path:
    """Write a busybox rootfs tar to `path` (as `dockyard bootstrap busybox` lays one out):
    the static binary at bin/busybox, a hard link to it wherever `busybox --list-full` puts an
    applet, root and nobody in etc/passwd and etc/group, and the usual empty directories."""
    try:
        data = binary.read_bytes()
        listing = subprocess.run([str(binary), "--list-full"], capture_output=True, text=True,
                                 check=True).stdout  # fmt: skip
    except (OSError, subprocess.CalledProcessError) as exc:
        raise RowFailed(f"cannot use {binary} (apt-get install busybox-static): {exc}") from exc
    links = sorted({ln.strip().strip("/") for ln in listing.splitlines()} - {"", "bin/busybox"})
    dirs = dict(BUSYBOX_DIRS)
    for link in links:
        parent = link.rpartition("/")[0]
        while parent and parent not in dirs:
            dirs[parent] = 0o755
            parent = parent.rpartition("/")[0]
    with tarfile.open(path, "w", format=tarfile.PAX_FORMAT) as tar:
        for name in sorted(dirs):
            tar.addfile(_member(name, dirs[name], tarfile.DIRTYPE))
        for name, content in {**BUSYBOX_FILES, "bin/busybox": data}.items():
            info = _member(name, 0o755 if name == "bin/busybox" else 0o644, tarfile.REGTYPE)
            info.size = len(content)
            tar.addfile(info, io.BytesIO(content))
        for link in links:
            info = _member(link, 0o755, tarfile.LNKTYPE)
            info.linkname = "bin/busybox"
            tar.addfile(info)
    return path


def _member(name: str, mode: int, kind: bytes) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type, info.mode, info.mtime = kind, mode, NONCE_MTIME
    return info
