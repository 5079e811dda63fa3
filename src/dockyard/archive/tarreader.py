"""A streaming tar reader that hashes every byte it reads (the layer's diffID).

It reads the formats layers come in: ustar, POSIX pax (local ``x`` headers: path, linkpath, size,
uid, gid, mtime, ``SCHILY.xattr.*``; global ``g`` headers are ignored, as moby and containerd do)
and GNU long names (``L``, ``K``). Sparse files and multi-volume archives are refused.

As Go's archive/tar, which wrote most layers in the wild, it reads no data after entries of
header-only types (links, directories, devices, fifos) whatever their size field says.

The reader pulls decompressed chunks from a :class:`~dockyard.archive.compression.ChunkSource`
and hashes each chunk as it arrives, so the digest covers the whole stream: every header, all
data, and whatever follows the end-of-archive marker (which is read to the end, as containerd
does). A stream that ends before the marker is truncated: :class:`~dockyard.errors.DataCorrupt`.
A caller that hashes the same bytes already (an uncompressed layer read through a content writer)
passes ``hashing=False``.
"""

from __future__ import annotations

import hashlib
import os
import struct
from dataclasses import dataclass, field

from dockyard.archive.compression import ChunkSource
from dockyard.errors import DataCorrupt, Internal, Unsupported
from dockyard.oci.digest import Digest

BLOCK = 512
ZERO_BLOCK = bytes(BLOCK)

# Normalized entry types (the ustar typeflag of the canonical form).
REG, LNK, SYM, CHR, BLK, DIR, FIFO = "0", "1", "2", "3", "4", "5", "6"
_TYPES = {"0": REG, "\0": REG, "7": REG, "1": LNK, "2": SYM, "3": CHR, "4": BLK, "5": DIR,
          "6": FIFO}
_HEADER_ONLY = frozenset((LNK, SYM, CHR, BLK, DIR, FIFO))
# name mode uid gid size mtime chksum type linkname magic+version uname gname major minor prefix
_USTAR = struct.Struct("100s8s8s8s12s12s8s1s100s8s32s32s8s8s155s12x")
_POSIX_MAGIC = b"ustar\x0000"
_XATTR = "SCHILY.xattr."


@dataclass(frozen=True, slots=True)
class Entry:
    """One member of the archive, with pax and GNU extensions already folded in."""

    name: str
    type: str
    mode: int
    uid: int
    gid: int
    size: int
    mtime_ns: int
    linkname: str = ""
    devmajor: int = 0
    devminor: int = 0
    xattrs: dict[str, bytes] = field(default_factory=dict)


def _text(raw: bytes) -> str:
    return raw.split(b"\0", 1)[0].decode("utf-8", "surrogateescape")


def parse_number(raw: bytes) -> int:
    """A numeric header field: NUL/space-terminated octal, or GNU base-256 (top bit set)."""
    if raw and raw[0] & 0x80:
        value = int.from_bytes(raw, "big")
        bits = 8 * len(raw)
        if raw[0] & 0x40:  # negative: two's complement over the whole field
            return value - (1 << bits)
        return value & ~(0x80 << (bits - 8))
    text = raw.split(b"\0", 1)[0].strip(b" ")
    if not text:
        return 0
    return int(text, 8)


def parse_pax(data: bytes) -> dict[str, bytes]:
    """``"%d %s=%s\\n"`` records (POSIX pax, "extended header"). Values stay bytes: xattr values
    are binary, and Go writes them without ``hdrcharset=BINARY``."""
    records: dict[str, bytes] = {}
    pos = 0
    while pos < len(data) and data[pos] != 0:
        space = data.index(b" ", pos)
        length = int(data[pos:space])
        end = pos + length
        if length <= 0 or end > len(data) or data[end - 1] != 0x0A:
            raise ValueError(f"bad pax record at {pos}")
        key, sep, value = data[space + 1 : end - 1].partition(b"=")
        if not sep:
            raise ValueError(f"pax record without '=' at {pos}")
        records[key.decode("utf-8", "surrogateescape")] = value
        pos = end
    return records


def _checksum_ok(block: bytes, stored: int) -> bool:
    unsigned = sum(block) - sum(block[148:156]) + 8 * 32
    if stored == unsigned:
        return True
    signed = sum(b - 256 if b > 127 else b for b in block)
    signed -= sum(b - 256 if b > 127 else b for b in block[148:156])
    return stored == signed + 8 * 32


class TarReader:
    """Iterate with :meth:`next`; for a regular file, call :meth:`copy_data` or
    :meth:`take_data` or let the next :meth:`next` skip its data. ``digest`` (unless ``hashing``
    is false) and ``size`` are final once :meth:`next` returned None."""

    def __init__(self, source: ChunkSource, name: str = "layer", *, hashing: bool = True) -> None:
        self._source = source
        self._name = name
        self._buf = memoryview(b"")
        self._hasher = hashlib.sha256() if hashing else None
        self.size = 0
        self._unread = 0  # data bytes of the current entry not yet consumed
        self._padding = 0  # padding after them
        self._offset = 0  # offset of the next header, for messages

    @property
    def digest(self) -> Digest:
        if self._hasher is None:
            raise Internal(f"layer {self._name}: the tar reader was made without hashing")
        return Digest.from_hasher(self._hasher)

    def _fill(self) -> bool:
        chunk = self._source.read_chunk()
        if not chunk:
            return False
        if self._hasher is not None:
            self._hasher.update(chunk)
        self.size += len(chunk)
        self._buf = memoryview(chunk)
        return True

    def _truncated(self, what: str) -> DataCorrupt:
        return DataCorrupt(f"layer {self._name}: truncated tar: stream ends inside {what}")

    def _read(self, size: int, what: str) -> bytes:
        buf = self._buf
        if len(buf) >= size:
            self._buf = buf[size:]
            return bytes(buf[:size])
        parts = [bytes(buf)]
        need = size - len(buf)
        self._buf = memoryview(b"")
        while need:
            if not self._fill():
                raise self._truncated(what)
            take = self._buf[:need]
            parts.append(bytes(take))
            self._buf = self._buf[len(take) :]
            need -= len(take)
        return b"".join(parts)

    def _skip(self, size: int, what: str) -> None:
        while size:
            if not self._buf and not self._fill():
                raise self._truncated(what)
            take = min(size, len(self._buf))
            self._buf = self._buf[take:]
            size -= take

    def copy_data(self, fd: int) -> None:
        """Writes the current entry's data to ``fd`` straight from the decompressed chunks."""
        size, self._unread = self._unread, 0
        while size:
            if not self._buf and not self._fill():
                raise self._truncated("file data")
            view = self._buf[:size]
            self._buf = self._buf[len(view) :]
            size -= len(view)
            while view:
                view = view[os.write(fd, view) :]

    def take_data(self) -> list[memoryview]:
        """The current entry's data as views of the decompressed chunks (nothing is copied; the
        chunks are immutable, so the views may go to another thread)."""
        size, self._unread = self._unread, 0
        views: list[memoryview] = []
        while size:
            if not self._buf and not self._fill():
                raise self._truncated("file data")
            view = self._buf[:size]
            self._buf = self._buf[len(view) :]
            size -= len(view)
            views.append(view)
        return views

    def _drain(self) -> None:
        self._buf = memoryview(b"")
        while self._fill():
            self._buf = memoryview(b"")

    def _start_data(self, size: int) -> None:
        self._unread = size
        self._padding = -size % BLOCK
        self._offset += BLOCK + size + self._padding

    def next(self) -> Entry | None:
        """The next entry, or None after the end-of-archive marker (the rest is read too)."""
        self._skip(self._unread + self._padding, "file data")
        self._unread = self._padding = 0
        pax: dict[str, bytes] = {}
        gnu: dict[str, str] = {}
        while True:
            block = self._header_block(bool(pax or gnu))
            if block is None:
                self._drain()
                return None
            entry = self._parse(block, pax, gnu)
            if entry is not None:
                return entry

    def _header_block(self, in_entry: bool) -> bytes | None:
        if not self._buf and not self._fill():
            if self.size == 0 and not in_entry:
                return None  # an empty stream is an empty layer
            raise self._truncated(f"the archive (no end-of-archive marker at {self._offset})")
        block = self._read(BLOCK, f"the header at {self._offset}")
        if block == ZERO_BLOCK:
            if in_entry:
                raise DataCorrupt(f"layer {self._name}: extended header at {self._offset} "
                                  "is followed by the end of the archive")
            return None
        return block

    def _parse(self, block: bytes, pax: dict[str, bytes], gnu: dict[str, str]) -> Entry | None:
        offset = self._offset
        try:
            fields = _USTAR.unpack(block)
            if not _checksum_ok(block, parse_number(fields[6])):
                raise ValueError("header checksum mismatch")
            size = parse_number(fields[4])
            typeflag = fields[7].decode("latin-1")
            if typeflag in "xgLK":
                self._extension(typeflag, size, pax, gnu)
                return None
            return self._entry(fields, typeflag, size, pax, gnu)
        except (ValueError, IndexError, UnicodeDecodeError) as exc:
            raise DataCorrupt(
                f"layer {self._name}: corrupt tar header at offset {offset}: {exc}"
            ) from exc

    def _extension(self, typeflag: str, size: int, pax: dict[str, bytes],
                   gnu: dict[str, str]) -> None:
        if not 0 <= size <= 16 << 20:
            raise ValueError(f"extended header of {size} bytes")
        self._start_data(size)
        data = self._read(size, "an extended header")
        self._skip(self._padding, "an extended header")
        self._unread = self._padding = 0
        if typeflag == "x":
            pax.update(parse_pax(data))
        elif typeflag == "L":
            gnu["path"] = _text(data)
        elif typeflag == "K":
            gnu["linkpath"] = _text(data)
        # "g": global pax headers are ignored, as moby and containerd ignore them.

    def _entry(self, fields: tuple[bytes, ...], typeflag: str, size: int,
               pax: dict[str, bytes], gnu: dict[str, str]) -> Entry:
        name = _text(fields[0])
        if fields[9] == _POSIX_MAGIC and fields[14][:1] not in (b"", b"\0"):
            name = _text(fields[14]) + "/" + name
        name = gnu.get("path", name)
        linkname = gnu.get("linkpath", _text(fields[8]))
        kind = _TYPES.get(typeflag)
        if kind is None or any(key.startswith("GNU.sparse.") for key in pax):
            raise Unsupported(
                f"layer {self._name}: entry {name!r} has unsupported tar type {typeflag!r}"
            )
        mtime_ns = parse_number(fields[5]) * 1_000_000_000
        uid, gid = parse_number(fields[2]), parse_number(fields[3])
        xattrs: dict[str, bytes] = {}
        if pax:
            over = _Pax.of(pax)
            name = name if over.path is None else over.path
            linkname = linkname if over.linkpath is None else over.linkpath
            size = size if over.size is None else over.size
            uid = uid if over.uid is None else over.uid
            gid = gid if over.gid is None else over.gid
            mtime_ns = mtime_ns if over.mtime_ns is None else over.mtime_ns
            xattrs = over.xattrs
        if size < 0:
            raise ValueError(f"negative size {size}")
        if kind == REG and typeflag != "7" and name.endswith("/"):
            kind = DIR  # pre-POSIX archives mark directories with a trailing slash only
        if kind in _HEADER_ONLY:
            size = 0
        self._start_data(size)
        return Entry(
            name, kind, parse_number(fields[1]) & 0o7777, uid, gid, size, mtime_ns, linkname,
            parse_number(fields[12]), parse_number(fields[13]), xattrs,
        )


@dataclass(slots=True)
class _Pax:
    """The pax keywords an entry can override (empty values cancel keywords, so are skipped)."""

    path: str | None = None
    linkpath: str | None = None
    size: int | None = None
    uid: int | None = None
    gid: int | None = None
    mtime_ns: int | None = None
    xattrs: dict[str, bytes] = field(default_factory=dict)

    @classmethod
    def of(cls, records: dict[str, bytes]) -> _Pax:
        pax = cls()
        for key, value in records.items():
            if key.startswith(_XATTR):
                pax.xattrs[key[len(_XATTR) :]] = value
            elif not value:
                continue
            elif key in ("path", "linkpath"):
                setattr(pax, key, value.decode("utf-8", "surrogateescape"))
            elif key in ("size", "uid", "gid"):
                setattr(pax, key, int(value))
            elif key == "mtime":
                pax.mtime_ns = parse_pax_time(value)
        return pax


def parse_pax_time(value: bytes) -> int:
    """A pax time (``-?seconds[.fraction]``) in nanoseconds, exactly."""
    text = value.decode("ascii")
    negative = text.startswith("-")
    seconds, _, fraction = text.lstrip("-").partition(".")
    if not seconds.isdigit() or (fraction and not fraction.isdigit()):
        raise ValueError(f"bad pax time {text!r}")
    ns = int(seconds) * 1_000_000_000 + int((fraction + "000000000")[:9])
    return -ns if negative else ns
