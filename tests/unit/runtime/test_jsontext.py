"""The runtime's JSON: strict reading, Go's encoding/json writing."""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from dockyard.errors import InvalidArgument
from dockyard.runtime.jsontext import dumps, loads, quote
from dockyard.runtime.record import Record


def test_marshal_indent_layout_as_go_writes_it() -> None:
    value = {"ociVersion": "1.0.2-dev", "pid": 12, "annotations": {"a": "<b>"}, "e": [],
             "m": {}, "l": [1, {"x": None}], "t": True}
    assert dumps(value, "  ") == (
        '{\n  "ociVersion": "1.0.2-dev",\n  "pid": 12,\n  "annotations": {\n'
        '    "a": "\\u003cb\\u003e"\n  },\n  "e": [],\n  "m": {},\n  "l": [\n    1,\n'
        '    {\n      "x": null\n    }\n  ],\n  "t": true\n}'
    )


def test_compact_form() -> None:
    assert dumps([{"a": 1}, "&", False]) == '[{"a":1},"\\u0026",false]'


def test_escapes_follow_go() -> None:
    assert quote('a"b\\c\n\t\r\x01\u2028é<>&') == \
        '"a\\"b\\\\c\\n\\t\\r\\u0001\\u2028é\\u003c\\u003e\\u0026"'
    assert quote("<x>", html=False) == '"<x>"'


def test_refuses_what_it_cannot_encode() -> None:
    class Thing(Record):
        x: int

    with pytest.raises(TypeError):
        dumps(Thing(x=1))


JSON = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**63), 2**63 - 1) | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=20,
)


@given(JSON)
def test_round_trip_with_the_json_module(value: object) -> None:
    assert json.loads(dumps(value)) == value
    assert json.loads(dumps(value, "  ")) == value
    assert loads(json.dumps(value).encode(), "doc") == value


@pytest.mark.parametrize("data", [b"", b"{", b"[1,]", b'{"a":1,}', b"nul", b'"\\x"'])
def test_syntax_errors_are_invalid_argument(data: bytes) -> None:
    with pytest.raises(InvalidArgument) as caught:
        loads(data, "doc")
    assert str(caught.value).startswith("doc: ")
