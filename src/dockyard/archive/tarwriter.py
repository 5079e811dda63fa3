"""A deterministic streaming tar writer that digests what it writes, before and after compression.

Entries are ustar headers, preceded by a pax extended header (POSIX pax, "x" typeflag) only when
a field does not fit ustar: a long or non-ASCII name or link target, a large number, xattrs
(``SCHILY.xattr.<name>``, as Go and GNU tar write them). Owners are numeric with empty user and
group names; pax records come sorted by key; mtimes are whole seconds (as moby writes them), so
the same tree always gives the same bytes. The archive ends with two zero blocks, as Go's writer
ends it (no padding to a 10 KiB record).
"""

from __future__ import annotations

import hashlib
import os
import struct
from dataclasses import dataclass
from typing import Protocol

from dockyard.archive.compression import Compression, compressor
from dockyard.archive.tarreader import BLOCK, LNK, REG, Entry
from dockyard.errors import DataCorrupt
from dockyard.oci.digest import Digest

_FLUSH = 1 << 20
_USTAR = struct.Struct("100s8s8s8s12s12s8s1s100s8s32s32s8s8s155s12x")
_PAX_NAME = b"././@PaxHeader"
_DIGITS = {"mode": 7, "uid": 7, "gid": 7, "size": 11, "mtime": 11, "dev": 7}


class Writable(Protocol):
    def write(self, data: bytes, /) -> int | None: ...


@dataclass(frozen=True, slots=True)
class LayerInfo:
    """``diff_id`` digests the tar, ``digest`` and ``size`` the bytes written (compressed)."""

    diff_id: Digest
    digest: Digest
    size: int


def _octal(value: int, digits: int) -> bytes:
    return b"%0*o\0" % (digits, value)


def _fits(value: int, digits: int) -> bool:
    return 0 <= value < 1 << (3 * digits)


def pax_record(key: str, value: bytes) -> bytes:
    """One ``"%d %s=%s\\n"`` record; the length counts its own digits."""
    body = b" " + key.encode("utf-8", "surrogateescape") + b"=" + value + b"\n"
    length = len(body) + len(str(len(body)))
    if len(str(length)) != len(str(len(body))):
        length = len(body) + len(str(length))
    return str(length).encode("ascii") + body


def _pax_records(entry: Entry, name: bytes, link: bytes) -> dict[str, bytes]:
    records: dict[str, bytes] = {}
    if len(name) > 100 or not name.isascii():
        records["path"] = name
    if len(link) > 100 or not link.isascii():
        records["linkpath"] = link
    for key, value in (("uid", entry.uid), ("gid", entry.gid), ("size", entry.size)):
        if not _fits(value, _DIGITS[key]):
            records[key] = str(value).encode("ascii")
    if not _fits(entry.mtime_ns // 1_000_000_000, _DIGITS["mtime"]):
        records["mtime"] = str(entry.mtime_ns // 1_000_000_000).encode("ascii")
    for attr, data in entry.xattrs.items():
        records["SCHILY.xattr." + attr] = data
    return records


def _ustar(name: bytes, typeflag: bytes, entry: Entry, size: int, link: bytes) -> bytes:
    def num(value: int, key: str) -> bytes:
        return _octal(value, _DIGITS[key]) if _fits(value, _DIGITS[key]) else _octal(0, 1)

    header = bytearray(_USTAR.pack(
        name[:100], num(entry.mode, "mode"), num(entry.uid, "uid"), num(entry.gid, "gid"),
        num(size, "size"), num(entry.mtime_ns // 1_000_000_000, "mtime"), b" " * 8, typeflag,
        link[:100], b"ustar\x0000", b"", b"", num(entry.devmajor, "dev"),
        num(entry.devminor, "dev"), b"",
    ))
    header[148:156] = b"%06o\0 " % sum(header)
    return bytes(header)


def encode_header(entry: Entry) -> bytes:
    """The header block(s) of ``entry``: a pax header first when ustar cannot hold it."""
    name = entry.name.encode("utf-8", "surrogateescape")
    link = entry.linkname.encode("utf-8", "surrogateescape")
    records = _pax_records(entry, name, link)
    header = _ustar(name, entry.type.encode("ascii"), entry, entry.size, link)
    if not records:
        return header
    data = b"".join(pax_record(key, records[key]) for key in sorted(records))
    pax = Entry(_PAX_NAME.decode(), "x", 0o644, 0, 0, len(data), entry.mtime_ns)
    pax_header = _ustar(_PAX_NAME, b"x", pax, len(data), b"")
    return pax_header + data + bytes(-len(data) % BLOCK) + header


class TarWriter:
    """Writes entries to ``out`` through a compressor; :meth:`close` ends the archive and
    returns the digests."""

    def __init__(self, out: Writable, compression: Compression = "none",
                 level: int | None = None) -> None:
        self._out = out
        self._compressor = compressor(compression, level)
        self._tar_hash = hashlib.sha256()
        self._blob_hash = hashlib.sha256()
        self._size = 0
        self._buf = bytearray()

    def add(self, entry: Entry, source: str | None = None) -> None:
        """Writes ``entry``; a regular file's ``entry.size`` bytes are read from ``source``."""
        self._emit(encode_header(entry))
        if entry.type == REG and entry.size:
            if source is None:
                raise ValueError(f"no data source for {entry.name!r}")
            self._copy(source, entry.size, entry.name)
            self._emit(bytes(-entry.size % BLOCK))

    def _copy(self, source: str, size: int, name: str) -> None:
        fd = os.open(source, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
        try:
            while size:
                data = os.read(fd, min(size, _FLUSH))
                if not data:
                    raise DataCorrupt(f"layer entry {name!r}: {source} shrank while being read")
                self._emit(data)
                size -= len(data)
        finally:
            os.close(fd)

    def _emit(self, data: bytes) -> None:
        self._tar_hash.update(data)
        self._buf += data
        if len(self._buf) >= _FLUSH:
            self._flush()

    def _flush(self) -> None:
        self._write(self._compressor.compress(bytes(self._buf)))
        self._buf.clear()

    def _write(self, data: bytes) -> None:
        if not data:
            return
        self._blob_hash.update(data)
        self._size += len(data)
        written = self._out.write(data)
        while written is not None and written < len(data):  # a raw file may write short
            data = data[written:]
            written = self._out.write(data)

    def close(self) -> LayerInfo:
        self._emit(bytes(2 * BLOCK))
        self._flush()
        self._write(self._compressor.flush())
        return LayerInfo(
            Digest.from_hasher(self._tar_hash), Digest.from_hasher(self._blob_hash), self._size
        )


def hardlink(entry: Entry, target: str) -> Entry:
    """``entry`` as a hardlink to the already written path ``target``."""
    return Entry(entry.name, LNK, entry.mode, entry.uid, entry.gid, 0, entry.mtime_ns, target,
                 0, 0, entry.xattrs)
