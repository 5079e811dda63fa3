"""Compression detected by magic bytes on a stream that cannot seek; streaming codecs."""

from __future__ import annotations

import gzip
import io
import os
import zlib

import pytest
import zstandard
from hypothesis import given, settings
from hypothesis import strategies as st

from dockyard.archive.compression import (
    CHUNK_SIZE,
    Compression,
    compressor,
    detect,
    open_stream,
)
from dockyard.errors import DataCorrupt, InvalidArgument


class Trickle(io.RawIOBase):
    """A non-seekable stream that returns at most ``step`` bytes per read, as a pipe may."""

    def __init__(self, data: bytes, step: int = 7) -> None:
        self._data = memoryview(data)
        self._step = step

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1, /) -> bytes:
        n = self._step if size < 0 else min(size, self._step)
        out, self._data = bytes(self._data[:n]), self._data[n:]
        return out


def decompress_all(data: bytes, name: str = "layer", step: int = 1 << 16) -> tuple[str, bytes]:
    source = open_stream(Trickle(data, step), name)
    chunks = []
    while chunk := source.read_chunk():
        chunks.append(chunk)
    return source.compression, b"".join(chunks)


def compress(kind: Compression, data: bytes) -> bytes:
    c = compressor(kind)
    return c.compress(data) + c.flush()


@pytest.mark.parametrize(
    ("head", "kind"),
    [(b"\x1f\x8b\x08\x00", "gzip"), (b"\x28\xb5\x2f\xfd", "zstd"), (b"usr/", "none"),
     (b"", "none"), (b"\x1f", "none"), (b"\x28\xb5\x2f", "none")],
)
def test_detect(head: bytes, kind: str) -> None:
    assert detect(head) == kind


@settings(max_examples=50)
@given(st.binary(max_size=3000), st.sampled_from(["none", "gzip", "zstd"]),
       st.integers(min_value=1, max_value=50))
def test_round_trip_through_short_reads(data: bytes, kind: Compression, step: int) -> None:
    if kind == "none" and detect(data[:4]) != "none":
        return  # plain data that starts like a compressed stream is read as one
    assert decompress_all(compress(kind, data), step=step) == (kind, data)


def test_gzip_members_and_zero_padding() -> None:
    blob = gzip.compress(b"one ", mtime=0) + gzip.compress(b"two", mtime=0) + bytes(100)
    assert decompress_all(blob, step=5) == ("gzip", b"one two")


def test_zstd_frames_are_concatenated() -> None:
    blob = compress("zstd", b"one ") + compress("zstd", b"two")
    assert decompress_all(blob, step=3) == ("zstd", b"one two")


@pytest.mark.parametrize("kind", ["gzip", "zstd"])
def test_truncated_stream_is_corrupt(kind: Compression) -> None:
    blob = compress(kind, os.urandom(50_000))
    for cut in (len(blob) - 1, len(blob) // 2, 10):
        with pytest.raises(DataCorrupt, match=f"layer sha256:abc: truncated {kind} stream"):
            decompress_all(blob[:cut], "sha256:abc")


@pytest.mark.parametrize("kind", ["gzip", "zstd"])
def test_garbage_is_corrupt(kind: Compression) -> None:
    blob = bytearray(compress(kind, os.urandom(5000)))
    blob[20:40] = bytes(20)
    with pytest.raises(DataCorrupt, match=f"layer l: corrupt {kind} stream"):
        decompress_all(bytes(blob), "l")


def test_garbage_after_gzip_member_is_corrupt() -> None:
    with pytest.raises(DataCorrupt, match="corrupt gzip"):
        decompress_all(gzip.compress(b"x") + b"junk", "l")


def test_chunks_are_bounded() -> None:
    blob = zlib.compress(bytes(64 << 20), 9, wbits=31)[:]  # a 64 MiB "bomb" of ~64 KiB
    source = open_stream(io.BytesIO(blob))
    sizes = []
    while chunk := source.read_chunk():
        sizes.append(len(chunk))
    assert (sum(sizes), max(sizes)) == (64 << 20, CHUNK_SIZE)


def test_compressors_are_deterministic() -> None:
    data = os.urandom(1000) * 50
    assert compress("gzip", data) == compress("gzip", data)
    assert compress("zstd", data) == compress("zstd", data)
    assert gzip.decompress(compress("gzip", data)) == data
    assert zstandard.ZstdDecompressor().decompressobj().decompress(compress("zstd", data)) == data
    assert compress("none", data) == data


def test_unknown_compression() -> None:
    with pytest.raises(InvalidArgument, match="unknown compression 'lz4'"):
        compressor("lz4")  # type: ignore[arg-type]
