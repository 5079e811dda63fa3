"""Strict JSON decoding, Go-compatible encoding and typed field access."""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from dockyard import errors
from dockyard.oci.codec import JSON, Fields, decode_object, encode


def test_encode_matches_go_json_marshal() -> None:
    value = {"b": "<a&b> \u2028\u2029 é ☃ \x01\n\t\"\\", "a": [1, True, None, 1.5], "c": {}}
    # Go: json.Marshal(map) would sort keys; a struct keeps field order, as here.
    assert encode(value) == (
        b'{"b":"\\u003ca\\u0026b\\u003e \\u2028\\u2029 \xc3\xa9 \xe2\x98\x83 \\u0001\\n\\t\\"\\\\",'
        b'"a":[1,true,null,1.5],"c":{}}'
    )


def test_encode_keeps_a_lone_surrogate_as_an_escape() -> None:
    value = json.loads('"\\ud800x"')
    assert encode(value) == b'"\\ud800x"'
    assert json.loads(encode(value)) == value


json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**63), 2**63 - 1) | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=20,
)


@given(st.dictionaries(st.text(), json_values, max_size=5))
def test_decode_reads_back_what_encode_wrote(value: dict[str, JSON]) -> None:
    assert decode_object(encode(value), "thing") == value


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"\xff{}", "invalid thing: not UTF-8 at byte 0"),
        (b'{"a":1,"a":2}', "invalid thing: duplicate key 'a'"),
        (b'{"a":NaN}', "invalid thing: NaN is not JSON"),
        (b'{"a":-Infinity}', "invalid thing: -Infinity is not JSON"),
        (b"[1]", "invalid thing: want a JSON object, got array"),
        (b'"x"', "invalid thing: want a JSON object, got string"),
        (b"", "invalid thing: Expecting value: line 1 column 1 (char 0)"),
        (b"{} {}", "invalid thing: Extra data: line 1 column 4 (char 3)"),
        (b"\xef\xbb\xbf{}", "invalid thing: Unexpected UTF-8 BOM (decode using utf-8-sig): "
                            "line 1 column 1 (char 0)"),
        (b"[" * 100000 + b"]" * 100000, "invalid thing: nested too deeply"),
    ],
)
def test_decode_errors(data: bytes, message: str) -> None:
    with pytest.raises(errors.InvalidArgument) as caught:
        decode_object(data, "thing")
    assert str(caught.value) == message


def _fields(text: str) -> Fields:
    return Fields(decode_object(text.encode(), "thing"), "thing", "top")


def test_fields_take_typed_values_and_leave_the_rest() -> None:
    f = _fields('{"s":"x","i":3,"b":true,"l":["a"],"m":{"k":"v"},"p":{"80/tcp":{}},'
                '"n":null,"o":{"x":1},"u":[1]}')
    taken = (f.string("s"), f.integer("i"), f.boolean("b"), f.strings("l"), f.string_map("m"),
             f.set_keys("p"), f.strings("n"), f.string("missing", "dflt"))
    assert taken == ("x", 3, True, ("a",), {"k": "v"}, ("80/tcp",), None, "dflt")
    nested = f.nested("o")
    assert nested is not None
    assert (nested.path, nested.integer("x")) == ("top.o", 1)
    assert f.rest() == {"u": [1]}


@pytest.mark.parametrize(
    ("text", "take", "message"),
    [
        ('{"k":1}', lambda f: f.string("k"), "invalid thing: top.k: want string, got number"),
        ('{"k":"1"}', lambda f: f.integer("k"), "invalid thing: top.k: want integer, got string"),
        ('{"k":true}', lambda f: f.integer("k"), "invalid thing: top.k: want integer, got boolean"),
        ('{"k":1.0}', lambda f: f.integer("k"), "invalid thing: top.k: want integer, got number"),
        ('{"k":-1}', lambda f: f.integer("k", minimum=0),
         "invalid thing: top.k: -1 is less than 0"),
        ('{"k":9223372036854775808}', lambda f: f.integer("k"),
         "invalid thing: top.k: 9223372036854775808 does not fit in 64 bits"),
        ('{"k":["a",2]}', lambda f: f.strings("k"),
         "invalid thing: top.k[1]: want string, got number"),
        ('{"k":{"a":2}}', lambda f: f.string_map("k"),
         "invalid thing: top.k['a']: want string, got number"),
        ('{"k":{"a":2}}', lambda f: f.set_keys("k"),
         "invalid thing: top.k['a']: want object, got number"),
        ('{"k":[1]}', lambda f: f.objects("k"), "invalid thing: top.k[0]: want object, got number"),
        ('{"k":null}', lambda f: f.string("k", required=True), "invalid thing: top.k: missing"),
        ('{}', lambda f: f.required_nested("k"), "invalid thing: top.k: missing"),
        ('{"k":"x"}', lambda f: f.boolean("k"), "invalid thing: top.k: want boolean, got string"),
    ],
)
def test_fields_errors_name_the_path(text: str, take: object, message: str) -> None:
    with pytest.raises(errors.InvalidArgument) as caught:
        take(_fields(text))  # type: ignore[operator]
    assert str(caught.value) == message
