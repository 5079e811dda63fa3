"""Parallel gzip: any gunzip reads it, and the bytes depend on the input only."""

from __future__ import annotations

import gzip
import os
import zlib

from hypothesis import given, settings
from hypothesis import strategies as st

from dockyard.archive import pgzip


def _chunks(data: bytes, size: int) -> list[bytes]:
    return [data[i:i + size] for i in range(0, len(data), size)] or [b""]


@settings(max_examples=30, deadline=None)
@given(st.binary(max_size=5000), st.integers(1, 4000))
def test_round_trip_small(data: bytes, size: int) -> None:
    out = b"".join(pgzip.compress(_chunks(data, size), level=1))
    assert gzip.decompress(out) == data


def test_many_blocks_same_bytes_whatever_the_threads() -> None:
    data = os.urandom(300_000) + b"a" * (3 * pgzip.BLOCK) + os.urandom(1000)
    one = b"".join(pgzip.compress(_chunks(data, 70_000), threads=1))
    four = b"".join(pgzip.compress([data], threads=4))
    assert one == four
    assert gzip.decompress(one) == data
    assert zlib.decompress(one, wbits=31) == data
    assert one[:10] == pgzip.HEADER


def test_empty() -> None:
    assert gzip.decompress(b"".join(pgzip.compress([]))) == b""
