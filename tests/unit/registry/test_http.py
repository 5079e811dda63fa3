"""The HTTP layer's parsers without sockets: heads, Content-Length and chunked bodies, ranges."""

from __future__ import annotations

import asyncio

import pytest
from hypothesis import given
from hypothesis import strategies as st

from dockyard.errors import InvalidArgument
from dockyard.registry.errcode import RegistryError
from dockyard.registry.handlers.blobs import byte_range
from dockyard.registry.http import Body, Headers, ProtocolError, _body, _parse_head


async def _noop() -> None:
    return None


def read_body(head: dict[str, str], payload: bytes, limit: int = 7) -> bytes:
    async def go() -> bytes:
        reader = asyncio.StreamReader()
        reader.feed_data(payload)
        reader.feed_eof()
        body = _body(reader, Headers(head), _noop)
        parts = []
        while piece := await body.read(limit):
            assert len(piece) <= limit
            parts.append(piece)
        assert body.finished
        return b"".join(parts)

    return asyncio.run(go())


@given(st.lists(st.binary(min_size=1, max_size=300), max_size=8), st.integers(1, 500))
def test_chunked_bodies_decode_to_their_data(parts: list[bytes], limit: int) -> None:
    encoded = b"".join(b"%x;ext=1\r\n%s\r\n" % (len(p), p) for p in parts)
    encoded += b"0\r\nTrailer: x\r\n\r\n"
    assert read_body({"Transfer-Encoding": "chunked"}, encoded, limit) == b"".join(parts)


@given(st.binary(max_size=2000), st.integers(1, 3000))
def test_fixed_bodies(data: bytes, limit: int) -> None:
    assert read_body({"Content-Length": str(len(data))}, data, limit) == data


def test_broken_bodies_are_invalid_argument() -> None:
    for head, payload in (({"Content-Length": "10"}, b"short"),
                          ({"Transfer-Encoding": "chunked"}, b"5\r\nabc"),
                          ({"Transfer-Encoding": "chunked"}, b"zz\r\nabc\r\n"),
                          ({"Transfer-Encoding": "chunked"}, b"3\r\nabcXY0\r\n\r\n")):
        with pytest.raises(InvalidArgument):
            read_body(head, payload)


def test_heads() -> None:
    method, target, version, headers = _parse_head(
        b"PUT /v2/a/manifests/x?y=1 HTTP/1.1\r\nHost: h\r\nX-A: 1\r\nx-a: 2\r\n\r\n")
    assert (method, target, version, headers.get("HOST"), headers.get("x-a")) == (
        "PUT", "/v2/a/manifests/x?y=1", "HTTP/1.1", "h", "1, 2")
    for bad, status in ((b"GET /\r\n\r\n", 400), (b"GET / HTTP/3\r\n\r\n", 505),
                        (b"GET / HTTP/1.1\r\nNo colon\r\n\r\n", 400),
                        (b"GET / HTTP/1.1\r\n Folded: x\r\n\r\n", 400)):
        with pytest.raises(ProtocolError) as caught:
            _parse_head(bad)
        assert caught.value.status == status


def test_framing_errors() -> None:
    async def status_of(head: dict[str, str]) -> int:
        try:
            _body(asyncio.StreamReader(), Headers(head), _noop)
        except ProtocolError as exc:
            return exc.status
        return 0

    cases = {"1, 2": 400, "x": 400}
    for value, status in cases.items():
        assert asyncio.run(status_of({"Content-Length": value})) == status
    assert asyncio.run(status_of({"Transfer-Encoding": "gzip"})) == 501


@given(st.integers(0, 100), st.integers(0, 120), st.integers(0, 120))
def test_byte_ranges_match_a_model(size: int, first: int, last: int) -> None:
    data = bytes(range(size))
    for header in (f"bytes={first}-{last}", f"bytes={first}-", f"bytes=-{last}"):
        try:
            chosen = byte_range(header, size)
        except RegistryError as exc:
            assert exc.status == 416
            assert first >= size or size == 0 or header == "bytes=-0"
            continue
        if chosen is None:
            assert header == f"bytes={first}-{last}" and last < first
            continue
        start, end = chosen
        if header.startswith("bytes=-"):
            assert data[start:end + 1] == data[-last:]
        else:
            assert data[start:end + 1] == data[first:last + 1 if header[-1] != "-" else None]


def test_memory_body() -> None:
    async def go() -> bytes:
        return await Body.of(b"abc").read_all(10)

    assert asyncio.run(go()) == b"abc"
