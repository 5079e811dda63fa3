"""The client's JSON through the C accelerator reads and writes what the json package does."""

from __future__ import annotations

import json
import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from dockyard.client import wirejson

VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda children: st.lists(children) | st.dictionaries(st.text(), children),
    max_leaves=30)


@given(VALUES)
def test_dumps_is_json_dumps_compact(value: object) -> None:
    assert wirejson.dumps(value) == json.dumps(value, separators=(",", ":"))
    assert wirejson.dumps(value, ensure_ascii=False) == json.dumps(
        value, separators=(",", ":"), ensure_ascii=False)


@given(VALUES, st.sampled_from(["", " ", "\n", "\t\r\n "]))
def test_loads_is_json_loads(value: object, space: str) -> None:
    text = space + json.dumps(value, indent=1) + space
    assert wirejson.loads(text) == json.loads(text)
    assert wirejson.loads(text.encode()) == json.loads(text.encode())


def test_constants_and_errors() -> None:
    assert math.isnan(wirejson.loads("NaN")) and wirejson.loads("-Infinity") == -math.inf
    assert wirejson.dumps([math.inf]) == "[Infinity]"
    for bad, message in [("", "Expecting value: line 1 column 1 (char 0)"),
                         ("  \n ", "Expecting value: line 2 column 2 (char 4)"),
                         ('{"a": 1} x', "Extra data: line 1 column 10 (char 9)"),
                         ("[1,\n 2] ]", "Extra data: line 2 column 5 (char 8)")]:
        with pytest.raises(ValueError) as caught:
            wirejson.loads(bad)
        with pytest.raises(ValueError) as theirs:
            json.loads(bad)
        assert str(caught.value) == str(theirs.value) == message
    for bad in ('{"a" 1}', '"unterminated', b"\xff"):
        with pytest.raises(ValueError):
            wirejson.loads(bad)
    with pytest.raises(TypeError, match="Object of type set is not JSON serializable"):
        wirejson.dumps({1, 2})
    loop: list[object] = []
    loop.append(loop)
    with pytest.raises(ValueError, match="Circular reference"):
        wirejson.dumps(loop)
