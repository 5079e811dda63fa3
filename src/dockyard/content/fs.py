"""Filesystem primitives shared by the content and lease stores.

Every replacement is a temp file written beside its destination and renamed over it (rename(2) is
atomic within one filesystem), so a reader sees the old or the new file, never a mix. A crash
leaves at most a stray ``.tmp-<random>`` entry, which the owning store's ``recover()`` removes.
Nothing here syncs unless asked: durability is one sync per transaction, chosen by the caller.
"""

from __future__ import annotations

import errno
import fcntl
import os
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from dockyard.errors import NotFound, SystemCallError

TEMP_PREFIX = ".tmp-"

#: Copy and hash size: large enough that per-call overhead vanishes against sha256 and write(2).
CHUNK_SIZE = 1 << 20


def temp_path(directory: Path) -> Path:
    """A fresh, unused-looking temp name in ``directory`` (created with O_EXCL by the caller)."""
    return directory / f"{TEMP_PREFIX}{secrets.token_hex(8)}"


def write_atomic(path: Path, data: bytes, mode: int = 0o644, sync: bool = False) -> None:
    """Replace ``path`` with ``data`` through a temp file beside it; fsync first if ``sync``."""
    tmp = temp_path(path.parent)
    with os_errors("write", tmp):
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600)
        try:
            with open(fd, "wb", closefd=True) as file:
                file.write(data)
                file.flush()
                os.fchmod(file.fileno(), mode)
                if sync:
                    os.fsync(file.fileno())
            os.rename(tmp, path)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise


@contextmanager
def os_errors(call: str, path: Path | str) -> Iterator[None]:
    """Turn an OSError into the taxonomy: ENOENT is NotFound, the rest SystemCallError."""
    try:
        yield
    except FileNotFoundError as exc:
        raise NotFound(f"{call} {path}: no such file or directory") from exc
    except OSError as exc:
        raise SystemCallError(call, exc.errno or errno.EIO, str(path)) from exc


@contextmanager
def locked(directory: Path) -> Iterator[None]:
    """Hold an exclusive flock on ``directory/.lock`` (released by the kernel if we die)."""
    lock = directory / ".lock"
    with os_errors("lock", lock):
        fd = os.open(lock, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)
