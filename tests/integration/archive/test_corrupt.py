"""Truncated and corrupt layer streams raise DataCorrupt naming the layer."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from dockyard.archive.apply import apply_layer
from dockyard.archive.compression import compressor
from dockyard.errors import DataCorrupt

from .conftest import d, f, tar_bytes

pytestmark = pytest.mark.root

TAR = tar_bytes([d("a/"), f("a/big", bytes(range(256)) * 400), f("a/small", b"s")])


def compressed(kind: str) -> bytes:
    c = compressor(kind)  # type: ignore[arg-type]
    return c.compress(TAR) + c.flush()


@pytest.mark.parametrize("kind", ["gzip", "zstd"])
def test_truncated_compressed_stream(tmp_path: Path, kind: str) -> None:
    blob = compressed(kind)
    for cut in (len(blob) - 1, len(blob) - 9, len(blob) // 2, 20):
        target = tmp_path / str(cut)
        target.mkdir()
        with pytest.raises(DataCorrupt, match=f"layer sha256:feed: truncated {kind} stream"):
            apply_layer(io.BytesIO(blob[:cut]), target, whiteouts="overlay", name="sha256:feed")


def test_truncated_tar(tmp_path: Path) -> None:
    end = TAR.index(b"s" + bytes(511)) + 512  # the end of the last member's data
    for cut in (end, end - 1, 700, 512, 100):
        target = tmp_path / str(cut)
        target.mkdir()
        with pytest.raises(DataCorrupt, match="layer l9: truncated tar"):
            apply_layer(io.BytesIO(TAR[:cut]), target, whiteouts="copy", name="l9")


def test_tar_inside_a_complete_gzip_stream_truncated(tmp_path: Path) -> None:
    c = compressor("gzip")
    blob = c.compress(TAR[:2000]) + c.flush()
    with pytest.raises(DataCorrupt, match="layer g: truncated tar"):
        apply_layer(io.BytesIO(blob), tmp_path, whiteouts="overlay", name="g")


def test_corrupt_header(tmp_path: Path) -> None:
    broken = bytearray(TAR)
    broken[512 + 5] ^= 0xFF  # in the header of a/big
    with pytest.raises(DataCorrupt, match="layer c: corrupt tar header at offset"):
        apply_layer(io.BytesIO(bytes(broken)), tmp_path, whiteouts="overlay", name="c")
