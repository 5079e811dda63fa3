"""The tar side of ``cp``: a local source packed under the name the copy gives it, and a
container's tar extracted at the destination with its top entry renamed.

Extraction keeps modes and times but not owners (moby's CopyTo untars with NoLchown), and
refuses a member whose name would leave the destination directory.
"""

from __future__ import annotations

import os
import tarfile
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from typing import IO, Any, cast

from dockyard.cli.session import StatusError

SPOOL = 8 << 20  # bytes kept in memory before the packed source goes to a temp file


class ResponseReader:
    """A file-like ``read(n)`` over a response's chunks; ``count`` is the bytes read."""

    def __init__(self, response: Any) -> None:
        self._chunks = response.chunks()
        self._pending = b""
        self.count = 0

    def read(self, size: int = -1) -> bytes:
        while size < 0 or len(self._pending) < size:
            chunk = next(self._chunks, None)
            if chunk is None:
                break
            self._pending += chunk
        data = self._pending if size < 0 else self._pending[:size]
        self._pending = self._pending[len(data):]
        self.count += len(data)
        return data


class _NoChown(tarfile.TarFile):
    def chown(self, tarinfo: tarfile.TarInfo, targetpath: str,  # type: ignore[override]
              numeric_owner: bool) -> None:
        pass  # moby's CopyTo: NoLchown


def _inside(member: tarfile.TarInfo, path: str) -> tarfile.TarInfo:
    parts = member.name.split("/")
    if member.name.startswith("/") or ".." in parts:
        raise StatusError(f"invalid copy source content: {member.name!r} leaves {path}")
    return member


def extract(reader: ResponseReader, target: str, rename: tuple[str, str] | None) -> int:
    """Extract the tar from ``reader`` into ``target``; returns the bytes read."""
    with _NoChown.open(mode="r|", fileobj=cast(IO[bytes], reader)) as tar:
        for member in tar:
            if rename is not None:
                old = "" if rename[0] == "/" else rename[0]
                member.name = member.name.replace(old, rename[1], 1)
                if member.islnk():
                    member.linkname = member.linkname.replace(old, rename[1], 1)
            tar.extract(_inside(member, target), target,
                        filter=lambda m, _p: m)  # names were checked by _inside
    return reader.count


def source_info(path: str, follow: bool) -> tuple[str, bool, str]:
    """CopyInfoSourcePath: the resolved path, whether it is a directory, the rebase name."""
    if follow:
        resolved = os.path.realpath(path)
        if os.path.basename(path) == "." and os.path.basename(resolved) != ".":
            resolved += "/."
        if path.endswith("/") and not resolved.endswith("/"):
            resolved += "/"
        rebase = os.path.basename(path) if os.path.basename(path) != \
            os.path.basename(resolved) else ""
    else:
        head, base = os.path.split(path)
        resolved = os.path.realpath(head or ".") + "/" + base
        rebase = ""
        if path.endswith("/") and os.path.basename(path) != os.path.basename(resolved):
            rebase = os.path.basename(path)
    try:
        return resolved, os.path.isdir(resolved) and not os.path.islink(
            resolved.rstrip("/") or "/"), rebase
    finally:
        if not os.path.lexists(resolved):
            raise StatusError(f"lstat {resolved}: no such file or directory")


@contextmanager
def pack(path: str, top: str) -> Iterator[tuple[IO[bytes], int]]:
    """A tar of ``path`` whose top entry is named ``top``, and its size."""
    spool: IO[bytes] = tempfile.SpooledTemporaryFile(SPOOL)  # noqa: SIM115 - closed below
    try:
        with tarfile.open(fileobj=spool, mode="w", format=tarfile.PAX_FORMAT) as tar:
            tar.add(path.rstrip("/") or "/", arcname=top, recursive=True)
        size = spool.tell()
        spool.seek(0)
        yield spool, size
    finally:
        spool.close()
