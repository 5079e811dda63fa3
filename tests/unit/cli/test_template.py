"""Go text/template subset: table tests against Go's documented output, errors, Hypothesis."""

from __future__ import annotations

import contextlib

import pytest
from hypothesis import given
from hypothesis import strategies as st

from dockyard.cli.template import NIL_MAP, NIL_SLICE, Struct, Template, TemplateError

DATA = {
    "A": {"B": [1, 2, 3]}, "M": {"x": "1", "y": "2"}, "S": "hello world", "N": None,
    "L": ["a", "b"], "E": [], "T": True, "F": 1.5, "Z": 0,
}

CASES = [
    ("plain text", "plain text"),
    ("{{.S}}", "hello world"),
    ("{{.A.B}}", "[1 2 3]"),
    ("{{.M}}", "map[x:1 y:2]"),
    ("{{.N}}", "<nil>"),
    ("{{.Missing}}", "<no value>"),
    ("{{.T}} {{.F}} {{.Z}}", "true 1.5 0"),
    ("{{json .L}}", '["a","b"]'),
    ("{{json .M}}", '{"x":"1","y":"2"}'),
    ("{{.L | json}}", '["a","b"]'),
    ("{{json .N}}", "null"),
    ("{{range .L}}[{{.}}]{{end}}", "[a][b]"),
    ("{{range .E}}x{{else}}none{{end}}", "none"),
    ("{{range $i, $e := .L}}{{$i}}={{$e}} {{end}}", "0=a 1=b "),
    ("{{range $k, $v := .M}}{{$k}}:{{$v}};{{end}}", "x:1;y:2;"),
    ("{{range $v := .L}}{{$v}}{{end}}", "ab"),
    ("{{if .T}}yes{{else}}no{{end}}", "yes"),
    ("{{if .N}}yes{{else}}no{{end}}", "no"),
    ("{{if .E}}yes{{else if .L}}second{{else}}no{{end}}", "second"),
    ("{{with .M}}{{.x}}{{end}}", "1"),
    ("{{with .N}}x{{else}}empty{{end}}", "empty"),
    ('{{index .M "y"}}', "2"),
    ("{{index .A.B 2}}", "3"),
    ('{{join .L ", "}}', "a, b"),
    ("{{upper .S}}|{{lower \"AbC\"}}|{{title .S}}", "HELLO WORLD|abc|Hello World"),
    ('{{printf "%s=%d|%5s|%-4s|%q|%v" .S 42 "ab" "cd" "q" .L}}',
     'hello world=42|   ab|cd  |"q"|[a b]'),
    ('{{printf "%d"}}', "%!d(MISSING)"),
    ("{{len .L}} {{len .M}} {{len .S}}", "2 2 11"),
    ("{{println .S}}", "hello world\n"),
    ('{{print "a" 1 2 "b"}}', "a1 2b"),
    ("a  {{- .S -}}  b", "ahello worldb"),
    ("a {{- /* comment */ -}} b", "ab"),
    ("{{/* comment */}}x", "x"),
    ('{{if eq .S "hello world"}}eq{{end}}', "eq"),
    ('{{if ne .S "x"}}ne{{end}}', "ne"),
    ("{{if and .T .L}}and{{end}}{{if or .N .Z}}or{{end}}{{if not .N}}not{{end}}", "andnot"),
    ("{{if lt 1 2}}lt{{end}}{{if ge 2 2}}ge{{end}}", "ltge"),
    ("{{$x := .S}}{{$x}}", "hello world"),
    ("{{(index .A.B 1)}}", "2"),
    ('{{split "a,b" ","}}', "[a b]"),
    ('{{pad "x" 1 2}}|', " x  |"),
    ('{{truncate "abcdef" 3}}', "abc"),
    ("{{.S | upper | lower}}", "hello world"),
    ("{{`raw \\n`}}", "raw \\n"),
]


@pytest.mark.parametrize(("text", "expected"), CASES)
def test_execute(text: str, expected: str) -> None:
    assert Template(text).execute(DATA) == expected


PARSE_ERRORS = [
    ("{{.ID", "template: :1: unclosed action"),
    ("{{.ID}", 'template: :1: unexpected "}" in operand'),
    ("{{foo}}", 'template: :1: function "foo" not defined'),
    ("{{end}}", "template: :1: unexpected {{end}}"),
    ("{{if .X}}", "template: :1: unexpected EOF"),
    ("{{}}", "template: :1: missing value for command"),
    ("a\n{{$nope}}", 'template: :2: undefined variable "$nope"'),
]


@pytest.mark.parametrize(("text", "message"), PARSE_ERRORS)
def test_parse_errors(text: str, message: str) -> None:
    with pytest.raises(TemplateError) as info:
        Template(text)
    assert str(info.value) == message


def test_exec_errors_name_position_and_node() -> None:
    image = Struct("*formatter.imageContext", {"ID": "abc"})
    with pytest.raises(TemplateError) as info:
        Template("{{.Foo}}").execute(image)
    assert str(info.value) == ('template: :1:2: executing "" at <.Foo>: can\'t evaluate field '
                               "Foo in type *formatter.imageContext")
    with pytest.raises(TemplateError) as info:
        Template("{{.Config.Foo}}").execute({"Config": {}}, missing_error=True)
    assert str(info.value) == ('template: :1:9: executing "" at <.Config.Foo>: map has no entry '
                               'for key "Foo"')


def test_struct_json_is_sorted_and_html_escaped() -> None:
    row = Struct("*formatter.imageContext", {"Tag": "<none>", "ID": lambda: "abc"})
    assert Template("{{json .}}").execute(row) == '{"ID":"abc","Tag":"\\u003cnone\\u003e"}'


def test_typed_nils_print_like_go_and_marshal_to_null() -> None:
    data = {"Env": NIL_SLICE, "Labels": NIL_MAP}
    assert Template("{{.Env}} {{.Labels}} {{json .Env}}").execute(data) == "[] map[] null"
    assert Template('{{index .Labels "a"}}|').execute(data) == "|"


def test_custom_functions() -> None:
    tmpl = Template("{{double .}}", funcs={"double": lambda v: v * 2})
    assert tmpl.execute(21) == "42"


@given(st.text().filter(lambda s: "{{" not in s))
def test_text_without_actions_is_copied(text: str) -> None:
    assert Template(text).execute(None) == text


ACTION_PARTS = st.sampled_from([
    ".", ".A", ".A.B", "$", "$x", "json", "index", "len", "if", "end", "else", "range", "|",
    "(", ")", '"s"', "`r`", "'c'", "1", "-", "-}}", "{{-", "}}", "{{", " ", ":=", ",", "nil",
    "true", "/*", "*/",
])


@given(st.lists(ACTION_PARTS, max_size=12).map("".join))
def test_random_templates_fail_only_with_template_errors(text: str) -> None:
    with contextlib.suppress(TemplateError):
        Template(text).execute(DATA)
