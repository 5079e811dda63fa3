"""Layer compression: detection by magic bytes, streaming decompressors and compressors.

A layer blob is a tar, optionally gzip- or zstd-compressed (image-spec media-types.md, layer.md).
The blob may arrive on a pipe or a socket, so detection peeks at the first four bytes without
seeking and hands them back to the decompressor.

Decompressed output is bounded per call (zlib's ``max_length``; small zstd input slices), so a
decompression bomb costs time, not memory. A compressed stream that ends before its last frame or
member does raises :class:`~dockyard.errors.DataCorrupt` naming the layer: a truncated blob must
never pass for a shorter layer.
"""

from __future__ import annotations

import zlib
from typing import Literal, Protocol

import zstandard

from dockyard.errors import DataCorrupt, InvalidArgument

Compression = Literal["none", "gzip", "zstd"]

GZIP_MAGIC = b"\x1f\x8b"
ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"

READ_SIZE = 1 << 20  # compressed bytes read from the source per call
CHUNK_SIZE = 1 << 20  # decompressed bytes handed out per chunk (about)
_ZSTD_SLICE = 8 << 10  # zstd input per call: RLE blocks expand 32768x, so 8 KiB -> <= 256 MiB


def detect(head: bytes) -> Compression:
    """The compression of a stream whose first bytes are ``head`` (4 bytes suffice)."""
    if head.startswith(GZIP_MAGIC):
        return "gzip"
    if head.startswith(ZSTD_MAGIC):
        return "zstd"
    return "none"


class Readable(Protocol):
    """What a layer is read from: a file, a pipe, a socket, a tee (short reads are fine;
    ``None`` or ``b""`` is the end)."""

    def read(self, size: int = ..., /) -> bytes | None: ...


class ChunkSource(Protocol):
    """Hands out a stream's (decompressed) bytes in chunks; ``b""`` at the end."""

    compression: Compression

    def read_chunk(self) -> bytes: ...


def _read_head(source: Readable, size: int) -> bytes:
    parts: list[bytes] = []
    have = 0
    while have < size:
        data = source.read(size - have)
        if not data:
            break
        parts.append(data)
        have += len(data)
    return b"".join(parts)


def open_stream(source: Readable, name: str = "layer") -> ChunkSource:
    """Detects the compression of ``source`` (read from its current position, never seeked)."""
    head = _read_head(source, len(ZSTD_MAGIC))
    kind = detect(head)
    if kind == "gzip":
        return _GzipSource(source, head, name)
    if kind == "zstd":
        return _ZstdSource(source, head, name)
    return _PlainSource(source, head)


class _PlainSource:
    compression: Compression = "none"

    def __init__(self, source: Readable, head: bytes) -> None:
        self._source = source
        self._head = head

    def read_chunk(self) -> bytes:
        if self._head:
            head, self._head = self._head, b""
            return head + (self._source.read(CHUNK_SIZE) or b"")
        return self._source.read(CHUNK_SIZE) or b""


class _GzipSource:
    """gzip (RFC 1952), including concatenated members and trailing zero padding."""

    compression: Compression = "gzip"

    def __init__(self, source: Readable, head: bytes, name: str) -> None:
        self._source = source
        self._input = head
        self._name = name
        self._obj: zlib._Decompress | None = None

    def read_chunk(self) -> bytes:
        while True:
            if not self._input:
                self._input = self._source.read(READ_SIZE) or b""
                if not self._input:
                    if self._obj is not None:
                        raise DataCorrupt(f"layer {self._name}: truncated gzip stream")
                    return b""
            if self._obj is None:
                # Between members: zero padding may follow the last one (as gzip(1) allows).
                self._input = self._input.lstrip(b"\0")
                if not self._input:
                    continue
                self._obj = zlib.decompressobj(wbits=31)
            out = self._step(self._obj)
            if out:
                return out

    def _step(self, obj: zlib._Decompress) -> bytes:
        try:
            out = obj.decompress(self._input, CHUNK_SIZE)
        except zlib.error as exc:
            raise DataCorrupt(f"layer {self._name}: corrupt gzip stream: {exc}") from exc
        if obj.eof:
            self._input = obj.unused_data
            self._obj = None
        else:
            self._input = obj.unconsumed_tail
        return out


class _ZstdSource:
    """zstd (RFC 8878), including concatenated and skippable frames."""

    compression: Compression = "zstd"

    def __init__(self, source: Readable, head: bytes, name: str) -> None:
        self._source = source
        self._input = memoryview(head)
        self._name = name
        self._dctx = zstandard.ZstdDecompressor()
        self._obj: zstandard.ZstdDecompressionObj | None = None
        self._ended = False

    def read_chunk(self) -> bytes:
        parts: list[bytes] = []
        have = 0
        while have < CHUNK_SIZE and not self._ended:
            out = self._step()
            if out:
                parts.append(out)
                have += len(out)
        return b"".join(parts)

    def _step(self) -> bytes:
        if not self._input:
            data = self._source.read(READ_SIZE) or b""
            if not data:
                if self._obj is not None:
                    raise DataCorrupt(f"layer {self._name}: truncated zstd stream")
                self._ended = True
                return b""
            self._input = memoryview(data)
        if self._obj is None:
            self._obj = self._dctx.decompressobj()
        piece, self._input = self._input[:_ZSTD_SLICE], self._input[_ZSTD_SLICE:]
        try:
            out = self._obj.decompress(piece)
        except zstandard.ZstdError as exc:
            raise DataCorrupt(f"layer {self._name}: corrupt zstd stream: {exc}") from exc
        if self._obj.eof:
            rest = self._obj.unused_data
            self._obj = None
            if rest:
                self._input = memoryview(bytes(rest) + bytes(self._input))
        return out


class Compressor(Protocol):
    """A streaming compressor: ``compress`` what comes, ``flush`` once at the end."""

    def compress(self, data: bytes, /) -> bytes: ...

    def flush(self) -> bytes: ...


class _Identity:
    def compress(self, data: bytes, /) -> bytes:
        return data

    def flush(self) -> bytes:
        return b""


def compressor(kind: Compression, level: int | None = None) -> Compressor:
    """A compressor for ``kind``. gzip defaults to level 6 and zstd to 3, as docker and
    containerd do; gzip output has mtime 0 and no name, so equal input gives equal bytes; zstd
    frames carry a checksum, so a corrupt blob cannot decompress to a wrong layer."""
    if kind == "none":
        return _Identity()
    if kind == "gzip":
        return zlib.compressobj(6 if level is None else level, zlib.DEFLATED, 31)
    if kind == "zstd":
        level = 3 if level is None else level
        return zstandard.ZstdCompressor(level=level, write_checksum=True).compressobj()
    raise InvalidArgument(f"unknown compression {kind!r}: want none, gzip or zstd")
