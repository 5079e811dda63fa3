"""Request heads and chunked bodies, parsed from bytes split at arbitrary points."""

from __future__ import annotations

import asyncio
import contextlib
import itertools

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dockyard.api.channel import Channel
from dockyard.api.server import _ChunkedSource, _FixedSource
from dockyard.api.wire import ProtocolError, parse_chunk_size, parse_head
from dockyard.errors import InvalidArgument


async def _unused(channel: Channel) -> None:
    raise AssertionError("no transport in these tests")


def feed(parts: list[bytes], eof: bool = True) -> Channel:
    channel = Channel(_unused)
    for part in parts:
        channel.data_received(part)
    if eof:
        channel.eof_received()
    return channel


def split(data: bytes, cuts: list[int]) -> list[bytes]:
    points = sorted({c % (len(data) + 1) for c in cuts} | {0, len(data)})
    return [data[a:b] for a, b in itertools.pairwise(points)]


def encode_chunked(chunks: list[bytes], extension: bool) -> bytes:
    out = b""
    for c in chunks:
        out += b"%x%s\r\n%s\r\n" % (len(c), b";a=b" if extension else b"", c)
    return out + b"0\r\nTrailer: x\r\n\r\n"


async def drain(channel: Channel, source: _ChunkedSource | _FixedSource, limit: int) -> bytes:
    out = b""
    while data := await source.next(limit):
        out += data
    return out


@settings(max_examples=200, deadline=None)
@given(
    st.lists(st.binary(min_size=1, max_size=300), max_size=8),
    st.lists(st.integers(min_value=0), max_size=10),
    st.booleans(),
    st.integers(min_value=1, max_value=512),
)
def test_chunked_bodies_decode_whatever_the_splits(
    chunks: list[bytes], cuts: list[int], extension: bool, limit: int
) -> None:
    wire = encode_chunked(chunks, extension) + b"NEXT"

    async def main() -> tuple[bytes, bytes]:
        channel = feed(split(wire, cuts))
        body = await drain(channel, _ChunkedSource(channel), limit)
        return body, await channel.read(100)

    assert asyncio.run(main()) == (b"".join(chunks), b"NEXT")


@pytest.mark.parametrize(
    "wire",
    [b"5\r\nhello", b"5\r\nhelloXX0\r\n\r\n", b"g\r\n", b"\r\n", b"-1\r\n", b"1" * 20 + b"\r\n"],
)
def test_broken_chunked_bodies_are_invalid_argument(wire: bytes) -> None:
    async def main() -> None:
        channel = feed([wire])
        source = _ChunkedSource(channel)
        with pytest.raises(InvalidArgument, match="bad chunked request body"):
            await drain(channel, source, 100)
        with pytest.raises(InvalidArgument):  # and it stays broken
            await source.next(100)

    asyncio.run(main())


def test_content_length_body_stops_at_its_length_and_reports_a_short_one() -> None:
    async def main() -> None:
        channel = feed([b"abcdefNEXT"])
        assert await drain(channel, _FixedSource(channel, 6), 4) == b"abcdef"
        assert await channel.read(10) == b"NEXT"
        short = feed([b"abc"])
        with pytest.raises(InvalidArgument, match="request body ended after 3 of 6 bytes"):
            await drain(short, _FixedSource(short, 6), 100)

    asyncio.run(main())


def test_parse_head() -> None:
    head = parse_head(
        b"POST /v1.41/images/load?quiet=1&x=a+b&x=%2F HTTP/1.1\r\nHost: api.moby.localhost\r\n"
        b"Transfer-Encoding: chunked\r\nX-A: 1\r\nx-a:  2 \r\n\r\n"
    )
    assert (head.method, head.minor, head.chunked, head.keep_alive) == ("POST", 1, True, True)
    assert head.headers == {
        "host": "api.moby.localhost", "transfer-encoding": "chunked", "x-a": "1, 2"
    }
    assert head.split_target() == ("/v1.41/images/load", {"quiet": ["1"], "x": ["a b", "/"]})


def test_split_target_decodes_the_path_and_handles_absolute_form() -> None:
    head = parse_head(b"GET http://docker/images/a%20b/json?q= HTTP/1.1\r\n\r\n")
    assert head.split_target() == ("/images/a b/json", {"q": [""]})


@pytest.mark.parametrize(
    ("line", "size"), [(b"0\r\n", 0), (b"1A\r\n", 26), (b"ff;x=y\r\n", 255), (b"10 \r\n", 16)]
)
def test_chunk_sizes(line: bytes, size: int) -> None:
    assert parse_chunk_size(line) == size


def test_keep_alive_rules() -> None:
    assert not parse_head(b"GET / HTTP/1.1\r\nConnection: close\r\n\r\n").keep_alive
    assert not parse_head(b"GET / HTTP/1.0\r\n\r\n").keep_alive
    assert parse_head(b"GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n").keep_alive


@given(st.binary(max_size=200))
def test_parse_head_never_fails_other_than_protocol_error(data: bytes) -> None:
    with contextlib.suppress(ProtocolError):
        parse_head(data + b"\r\n\r\n")
