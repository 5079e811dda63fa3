"""The handler interface: query conventions, filters in both forms, bodies, JSON streams."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator

import pytest
from hypothesis import given
from hypothesis import strategies as st

from dockyard.api.http import (
    Body,
    Request,
    encode_json,
    json_stream,
    parse_filters,
    run_blocking,
)
from dockyard.errors import InvalidArgument, NotFound


def req(query: dict[str, list[str]]) -> Request:
    return Request("GET", "/x", query=query)


@pytest.mark.parametrize("value", ["", "0", "false", "False", "FALSE", "no", "No", "none", "None"])
def test_false_flag_values(value: str) -> None:
    assert req({"all": [value]}).flag("all", default=True) is False


@pytest.mark.parametrize("value", ["1", "true", "True", "yes", "on", "2", "anything"])
def test_true_flag_values(value: str) -> None:
    assert req({"all": [value]}).flag("all") is True


def test_absent_flag_is_the_default_and_first_value_counts() -> None:
    assert req({}).flag("rm", default=True) is True
    assert req({}).flag("rm") is False
    assert req({"all": ["yes", "0"]}).flag("all") is True


def test_arg_args_integer() -> None:
    r = req({"t": ["5"], "tag": ["a", "b"], "bad": ["x1"], "blank": [""]})
    assert (r.arg("t"), r.arg("nope"), r.arg("nope", "d")) == ("5", None, "d")
    assert (r.args("tag"), r.args("nope")) == (["a", "b"], [])
    assert (r.integer("t", 10), r.integer("nope", 10), r.integer("blank", 7)) == (5, 10, 7)
    with pytest.raises(InvalidArgument, match="invalid value for bad: 'x1' is not an integer"):
        r.integer("bad", 0)


def test_filters_in_map_form_and_list_form() -> None:
    cli = '{"reference":{"busybox":true,"x":false},"dangling":{"true":true}}'
    assert req({"filters": [cli]}).filters() == {"reference": ["busybox"], "dangling": ["true"]}
    sdk = '{"label": ["k=v", "k2=v 2"]}'
    assert req({"filters": [sdk]}).filters() == {"label": ["k=v", "k2=v 2"]}
    assert req({}).filters() == {}
    assert req({"filters": [""]}).filters() == {}


@pytest.mark.parametrize("bad", ["notjson", "[1]", '{"label":"x"}', '{"label":[1]}'])
def test_bad_filters_are_invalid_argument(bad: str) -> None:
    with pytest.raises(InvalidArgument, match="invalid filters"):
        parse_filters(bad)


def test_unknown_filter_key_is_worded_as_dockerd() -> None:
    r = req({"filters": ['{"foo":["x"]}']})
    with pytest.raises(InvalidArgument, match=r"^Invalid filter 'foo'$"):
        r.filters(allowed={"label", "reference"})


@given(st.dictionaries(st.text(min_size=1), st.lists(st.text(), unique=True)))
def test_filters_round_trip_both_forms(value: dict[str, list[str]]) -> None:
    as_map = json.dumps({k: {v: True for v in vs} for k, vs in value.items()})
    assert parse_filters(as_map) == value
    assert parse_filters(json.dumps(value)) == value


def test_version_before() -> None:
    assert Request("GET", "/", api_version="1.24").version_before("1.41")
    assert not Request("GET", "/", api_version="1.41").version_before("1.41")
    assert not Request("GET", "/", api_version="1.100").version_before("1.41")


def test_body_read_json_and_chunks() -> None:
    async def main() -> None:
        assert await Body.of(b'{"a": 1}').json() == {"a": 1}
        assert await Body.of(b"").json() == {}
        assert [c async for c in Body.of([b"a", b"", b"bc"])] == [b"a", b"bc"]
        with pytest.raises(InvalidArgument, match="invalid json in request body"):
            await Body.of(b"{").json()
        body = Body.of(b"xyz")
        assert not body.finished
        assert await body.read() == b"xyz"
        assert body.finished and await body.read() == b""
        assert Body.of(b"").finished

    asyncio.run(main())


def test_sync_reader_reads_the_body_from_a_worker_thread() -> None:
    async def main() -> bytes:
        body = Body.of([b"hello ", b"wor", b"ld"])
        reader = body.sync_reader()
        return await run_blocking(reader.read)

    assert asyncio.run(main()) == b"hello world"


def test_json_stream_ends_with_dockerds_error_object() -> None:
    async def messages() -> AsyncIterator[object]:
        yield {"status": "Loading"}
        raise NotFound("no such layer")

    async def main() -> list[bytes]:
        response = json_stream(messages())
        assert not isinstance(response.body, bytes)
        return [chunk async for chunk in response.body]

    assert asyncio.run(main()) == [
        b'{"status":"Loading"}\n',
        b'{"errorDetail":{"message":"no such layer"},"error":"no such layer"}\n',
    ]


def test_encode_json_is_compact_with_a_newline() -> None:
    assert encode_json({"a": [1, "é"]}) == '{"a":[1,"é"]}\n'.encode()
