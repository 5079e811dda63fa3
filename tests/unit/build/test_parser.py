"""The line lexer and the node parser: directives, continuations, words, flags, heredocs."""

from __future__ import annotations

import pytest

from dockyard.build.arguments import extract_flags, parse_json, parse_words, split_command
from dockyard.build.errors import DockerfileError
from dockyard.build.heredoc import Heredoc, markers_in_line, parse_marker
from dockyard.build.lexer import Directives
from dockyard.build.parser import Node, parse
from dockyard.errors import InvalidArgument


def nodes(text: str) -> list[tuple[str, tuple[str, ...]]]:
    return [(node.keyword, node.words) for node in parse(text).nodes]


def test_directives_only_at_the_top() -> None:
    result = parse("# syntax=x/y:1\n# escape=`\n# check=skip=all\nFROM a\n# escape=\\\n")
    assert result.directives == Directives("`", "x/y:1", "skip=all")


@pytest.mark.parametrize("text", [
    "\n# escape=`\nFROM a\n",        # a blank line first
    "# hello\n# escape=`\nFROM a\n",  # another comment first
    "FROM a\n# escape=`\n",          # an instruction first
    "# unknown=1\n# escape=`\nFROM a\n",
])
def test_directive_after_anything_else_is_a_comment(text: str) -> None:
    assert parse(text).escape == "\\"


def test_directive_spelling() -> None:
    assert parse("  #  Escape =  `  \nFROM a").escape == "`"


@pytest.mark.parametrize(("text", "message"), [
    ("# escape=`\n# escape=`\nFROM a", "Dockerfile:2: only one escape parser directive can be "
                                       "used"),
    ("# syntax=a\n#SYNTAX=b\nFROM a", "Dockerfile:2: only one syntax parser directive can be "
                                      "used"),
    ("# escape=\\\\\nFROM a", "Dockerfile:1: invalid escape token '\\\\': the escape directive "
                              "takes \\ or `"),
])
def test_directive_errors(text: str, message: str) -> None:
    with pytest.raises(DockerfileError) as caught:
        parse(text)
    assert str(caught.value) == message


def test_continuations_join_without_a_separator() -> None:
    assert nodes("RUN a\\\nb \\\n  c") == [("RUN", ("ab   c",))]


def test_continuation_skips_comments_and_blank_lines_and_warns_about_blanks() -> None:
    result = parse("RUN a \\\n# comment\n  # indented comment\n\n   \nb\n")
    assert [n.words for n in result.nodes] == [("a b",)]
    assert result.warnings == ("Dockerfile:6: empty continuation line found in: RUN a b",)


def test_escaped_escape_token_at_the_end_is_not_a_continuation() -> None:
    assert nodes("ENV A=a\\\\\nENV B=b") == [("ENV", ("A", "a\\\\", "=")),
                                              ("ENV", ("B", "b", "="))]


def test_backtick_continuation() -> None:
    assert nodes("# escape=`\nRUN dir c:\\ `\n  /w") == [("RUN", ("dir c:\\   /w",))]


def test_bom_crlf_and_trailing_blanks_after_the_escape() -> None:
    assert nodes("\ufeffRUN a \\  \t\r\n b\r\n") == [("RUN", ("a  b",))]


def test_line_numbers() -> None:
    text = "\n# c\nFROM a\n\nRUN x \\\n# c\n\n  y\nCOPY <<A /\nbody\nA\n  USER u"
    assert [(n.start_line, n.end_line) for n in parse(text).nodes] == [(3, 3), (5, 8), (9, 11),
                                                                        (12, 12)]


def test_no_instructions() -> None:
    with pytest.raises(DockerfileError, match="Dockerfile:2: file with no instructions"):
        parse("# only\n\n")
    with pytest.raises(DockerfileError, match="Dockerfile:1: file with no instructions"):
        parse("")


def test_overlong_line() -> None:
    with pytest.raises(DockerfileError, match="Dockerfile:2: line longer than the 65535 bytes"):
        parse("FROM a\nLABEL a=" + "x" * 70000)


def test_split_command_and_flags() -> None:
    assert split_command("  COPY --from=a --chown='u g' \\x -- --b c  ", "\\") == (
        "COPY", ("--from=a", "--chown=u g"), "\\x -- --b c")
    assert split_command("COPY -- --weird /d", "\\") == ("COPY", (), "--weird /d")
    assert split_command("RUN", "\\") == ("RUN", (), "")


@pytest.mark.parametrize(("line", "rest", "flags"), [
    ("--a=1 --b x", "x", ["--a=1", "--b"]),
    ("--a=\"x y\" z", "z", ["--a=x y"]),
    ("--a='x\\'y' z", "z", ["--a=x'y"]),
    ("--a=\\\"q\\\" z", "z", ['--a="q"']),
    ("--a --", "", ["--a"]),
    ("-- --a", " --a", []),
    ("-a", "-a", []),
    ("--a=1", "", ["--a=1"]),
    ("--a=x\\", "", ["--a=x"]),
])
def test_extract_flags(line: str, rest: str, flags: list[str]) -> None:
    assert extract_flags(line, "\\") == (rest, flags)


@pytest.mark.parametrize(("rest", "words"), [
    ("foo", ["foo"]),
    ("foo bar", ["foo", "bar"]),
    ("foo\\ bar", ["foo\\ bar"]),
    ("a='x y' b=\"c d\"", ["a='x y'", 'b="c d"']),
    ("a=\"x\\\"y\" b", ['a="x\\"y"', "b"]),
    ("a='x\\' b", ["a='x\\'", "b"]),
    ("\"\"", ['""']),
    ("föo bàr \"âbc xÿz\"", ["föo", "bàr", '"âbc xÿz"']),
    ("a\\", ["a"]),
])
def test_parse_words_keeps_quotes(rest: str, words: list[str]) -> None:
    assert parse_words(rest, "\\") == words


def test_parse_json() -> None:
    assert parse_json(' ["a", "b c", "\\u00e9\\n"] ') == ("a", "b c", "é\n")
    assert parse_json("[]") == ()
    assert parse_json("['a']") is None
    assert parse_json('["a"] x') is None
    assert parse_json("[NaN]") is None
    assert parse_json("x") is None
    assert parse_json('["\\ud800"]') == ("\ufffd",)
    with pytest.raises(InvalidArgument, match="arrays must be comprised of strings only"):
        parse_json('["a", 1]')
    with pytest.raises(InvalidArgument):
        parse_json('[null]')


@pytest.mark.parametrize(("line", "words", "is_json"), [
    ("CMD [\"a\", \"b\"]", ("a", "b"), True),
    ("CMD a  b", ("a  b",), False),
    ("CMD [\"a\"", ("[\"a\"",), False),
    ("CMD", (), False),
    ("COPY a  b\tc", ("a", "b", "c"), False),
    ("VOLUME [\"/a\"]", ("/a",), True),
    ("FROM a AS b", ("a", "AS", "b"), False),
    ("USER a b", ("a b",), False),
    ("ENV a b c", ("a", "b c", ""), False),
    ("ENV a=b c='d e'", ("a", "b", "=", "c", "'d e'", "="), False),
    ("LABEL \"a b\"=c", ('"a b"', "c", "="), False),
    ("ARG a b=c d=", ("a", "b=c", "d="), False),
    ("HEALTHCHECK CMD [\"a\"]", ("CMD", "a"), True),
    ("HEALTHCHECK --retries=1 CMD a b", ("CMD", "a b"), False),
    ("HEALTHCHECK NONE", ("NONE",), False),
    ("UNKNOWN x y", (), False),
])
def test_arguments_by_instruction(line: str, words: tuple[str, ...], is_json: bool) -> None:
    node = parse(line).nodes[0]
    assert (node.words, node.json) == (words, is_json)


def test_onbuild_node_holds_its_trigger() -> None:
    node = parse("ONBUILD --x=1 RUN [\"a\"]").nodes[0]
    assert node == Node("ONBUILD", 'ONBUILD --x=1 RUN ["a"]', ("--x=1",), 'RUN ["a"]',
                        start_line=1, end_line=1,
                        child=Node("RUN", 'RUN ["a"]', (), '["a"]', ("a",), True,
                                   start_line=1, end_line=1))


@pytest.mark.parametrize(("word", "heredoc"), [
    ("<<EOF", Heredoc("EOF")),
    ("<<-EOF", Heredoc("EOF", chomp=True)),
    ("<<'EOF'", Heredoc("EOF", expand=False)),
    ('<<"EOF"', Heredoc("EOF", expand=False)),
    ('<<E"O"F', Heredoc("EOF", expand=False)),
    ("<<\\EOF", Heredoc("EOF")),
    ("<< EOF", Heredoc("EOF")),
    ("3<<EOF", Heredoc("EOF", fd=3)),
    ("<<'one two'", Heredoc("one two", expand=False)),
    ("<<$V", Heredoc("$V")),
    ("<<EOF sh", None),
    ("<<", None),
    ("<<-", None),
    ("<EOF", None),
    ("<<<EOF", None),
    ("EOF", None),
])
def test_heredoc_markers(word: str, heredoc: Heredoc | None) -> None:
    assert parse_marker(word) == heredoc


def test_heredoc_markers_in_a_line() -> None:
    assert [h.name for h in markers_in_line("COPY <<a <<-'b' \"<<c\" /d")] == ["a", "b"]
    assert markers_in_line("RUN 'unterminated <<A") == []


def test_heredoc_bodies_follow_in_order() -> None:
    node = parse("COPY <<X <<-Y /d\nY\nX\n\tX\n\tY\nRUN x\n").nodes[0]
    assert node.heredocs == (Heredoc("X", "Y\n"), Heredoc("Y", "\tX\n", chomp=True))
    assert (node.start_line, node.end_line) == (1, 5)


def test_heredoc_only_where_allowed() -> None:
    result = parse("USER <<A\nA\nRUN [\"<<B\"]\nRUN \"<<C\"\n")
    assert [n.keyword for n in result.nodes] == ["USER", "A", "RUN", "RUN"]
    assert all(n.heredocs == () for n in result.nodes)


def test_heredoc_terminator_ignores_a_carriage_return_but_not_blanks() -> None:
    node = parse("RUN <<E\nE \nx\nE\r\n").nodes[0]
    assert node.heredocs == (Heredoc("E", "E \nx\n"),)


def test_unterminated_heredoc() -> None:
    with pytest.raises(DockerfileError) as caught:
        parse("FROM a\nRUN <<A <<B\na\nA\nb\n")
    assert str(caught.value) == ("Dockerfile:2: unterminated heredoc: no line B before the end "
                                 "of the file")
    assert (caught.value.line, caught.value.end_line) == (2, 5)


def test_parse_error_names_the_file() -> None:
    with pytest.raises(DockerfileError) as caught:
        parse("FROM a\nCMD [1]\n", "build/Containerfile")
    assert str(caught.value).startswith("build/Containerfile:2: when using JSON array")
