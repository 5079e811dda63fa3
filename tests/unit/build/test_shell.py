"""Docker's shell-word lexer: tables of (word, expected) under one environment.

The rules are those buildkit's envVarTest and wordsTest exercise (frontend/dockerfile/shell);
the vectors are our own.
"""

from __future__ import annotations

import pytest

from dockyard.build.errors import ExpansionError
from dockyard.build.shell import Expansion, ShellLexer

# Greek letters stand for any non-ASCII text.
ENV = {"HOME": "/root", "NAME": "app", "EMPTY": "", "SPACED": "a  b", "LEADING": "  x y",
       "TRAILING": "x y  ", "GREEK": "αβγ", "FILE": "/src/pkg/main.tar.gz", "STARS": "a**b*",
       "URL": "http://example.com"}
ERROR = object()

WORDS: list[tuple[str, object]] = [
    # plain text, quotes, escapes
    ("plain", "plain"),
    ("a b", "a b"),
    ("it's'quoted'", ERROR),
    ("x'y z'w", "xy zw"),
    ('x"y z"w', "xy zw"),
    ("'unterminated", ERROR),
    ('"unterminated', ERROR),
    ('"escaped end\\"', ERROR),
    ("back\\slash", "backslash"),
    ("back\\\\slash", "back\\slash"),
    ("trailing\\", "trailing"),
    ("trailing\\\\", "trailing\\"),
    ("\\'quote", "'quote"),
    ("\\\\'open", ERROR),
    ("'\\n stays'", "\\n stays"),
    ("'ends with \\'", "ends with \\"),
    ('"\\n stays"', "\\n stays"),
    ('"\\\\ one"', "\\ one"),
    ('"\\" quote"', '" quote'),
    ('"it\'s"', "it's"),
    ("'\"double\"'", '"double"'),
    ('"\'\'"', "''"),
    ("αβ'γ'δ", "αβγδ"),  # noqa: RUF001
    # variables
    ("$HOME", "/root"),
    ("${HOME}", "/root"),
    ("$HOME/bin", "/root/bin"),
    ("${HOME}bin", "/rootbin"),
    ("$HOMEbin", ""),
    ("$UNSET", ""),
    ("pre${UNSET}post", "prepost"),
    ("$", "$"),
    ("a$", "a$"),
    ("$.x", "$.x"),
    ("$/", "$/"),
    ("\\$HOME", "$HOME"),
    ("\\\\$HOME", "\\/root"),
    ('"\\$HOME"', "$HOME"),
    ('"\\\\$HOME"', "\\/root"),
    ("'$HOME'", "$HOME"),
    ("'\\$HOME'", "\\$HOME"),
    ('"$HOME"', "/root"),
    ("\"'$HOME'\"", "'/root'"),
    ("$GREEK", "αβγ"),
    ("κ$GREEK", "καβγ"),
    ("$name", ""),  # names are case-sensitive
    ("\\${}", "${}"),
    ("x\\${}y", "x${}y"),
    # positional and special parameters are never set
    ("$1", ""),
    ("$12x", "x"),
    ("${1}", ""),
    ("${007:-seven}", "seven"),
    ("$@", ""),
    ("$@@", "@"),
    ("${*:-star}", "star"),
    ("$#x", "x"),
    ("$?", ""),
    ("$$", ""),
    ("${!:+bang}", ""),
    ("$0", ""),
    ("${-:-dash}", "dash"),
    # bad substitutions
    ("${}", ERROR),
    ("x${}", ERROR),
    ("${", ERROR),
    ("${HOME", ERROR),
    ("${.}", ERROR),
    ("${{HOME}", ERROR),
    ("${:}", ERROR),
    ("${:-x}", ERROR),
    ("${HOME:=x}", ERROR),
    ("${HOME=x}", ERROR),
    ("${HOME:x}", ERROR),
    ("${HOME:-x", ERROR),
    ("${HOME:-${NAME}", ERROR),
    ("${HOME}}", "/root}"),
    ("${UNSET:-a}}", "a}"),
    ("${UNSET:-a {b}", "a {b"),
    # default and alternative values
    ("${UNSET:-dflt}", "dflt"),
    ("${EMPTY:-dflt}", "dflt"),
    ("${NAME:-dflt}", "app"),
    ("${UNSET-dflt}", "dflt"),
    ("${EMPTY-dflt}", ""),
    ("${UNSET:+alt}", ""),
    ("${EMPTY:+alt}", ""),
    ("${NAME:+alt}", "alt"),
    ("${UNSET+alt}", ""),
    ("${EMPTY+alt}", "alt"),
    ("${UNSET:-$HOME}", "/root"),
    ("${UNSET:-${OTHER:-${NAME}}}", "app"),
    ("${NAME:+${HOME}:}x", "/root:x"),
    ("${UNSET:-\\$HOME}", "$HOME"),
    ("${UNSET:-\\${HOME}z}", "${HOMEz}"),
    ("${UNSET:-'a b'}", "a b"),
    ("${UNSET:-}", ""),
    # required values
    ("${NAME?}", "app"),
    ("${NAME:?}", "app"),
    ("${EMPTY?}", ""),
    ("${EMPTY:?}", ERROR),
    ("${UNSET?}", ERROR),
    ("${UNSET:?}", ERROR),
    # patterns: shortest/longest prefix and suffix
    ("${FILE#*/}", "src/pkg/main.tar.gz"),
    ("${FILE##*/}", "main.tar.gz"),
    ("${FILE%.*}", "/src/pkg/main.tar"),
    ("${FILE%%.*}", "/src/pkg/main"),
    ("${FILE#/src}", "/pkg/main.tar.gz"),
    ("${FILE#nomatch}", "/src/pkg/main.tar.gz"),
    ("${FILE#}", "/src/pkg/main.tar.gz"),
    ("${FILE%}", "/src/pkg/main.tar.gz"),
    ("${FILE#*}", "/src/pkg/main.tar.gz"),
    ("${FILE##*}", ""),
    ("${FILE#?}", "src/pkg/main.tar.gz"),
    ("${FILE%???}", "/src/pkg/main.tar"),
    ("${STARS#*\\*}", "*b*"),
    ("${STARS%%\\**}", "a"),
    ("${STARS%\\*}", "a**b"),
    ("${UNSET#x}", ""),
    ("${FILE#$UNSET}", "/src/pkg/main.tar.gz"),
    ("${FILE:#x}", ERROR),
    ("${FILE:%%x}", ERROR),
    ("${FILE#\\x}", ERROR),
    ("${URL#http:\\/\\/}", "example.com"),
    ("${URL#*\\}}", "http://example.com"),
    # substitution
    ("${FILE/pkg/lib}", "/src/lib/main.tar.gz"),
    ("${FILE//\\//:}", ":src:pkg:main.tar.gz"),
    ("${FILE/\\//:}", ":src/pkg/main.tar.gz"),
    ("${FILE//?/.}", "...................."),
    ("${FILE/*./X}", "Xgz"),
    ("${FILE/nomatch/x}", "/src/pkg/main.tar.gz"),
    ("${FILE/pkg/}", "/src//main.tar.gz"),
    ("${URL/http:\\/\\//https:\\/\\/}", "https:\\/\\/example.com"),
    ("${UNSET/a/b}", ""),
    ("${NAME//}", ERROR),
    ("${NAME//a}", ERROR),
    ("${NAME///}", "app"),
    ("${NAME/$EMPTY/x}", "xapp"),
    ("${NAME//p/$0}", "a"),  # $0 is a (never set) parameter here
    ("${NAME//p/\\$0}", "a\\p\\p"),  # an escaped $0 reaches Go's template: the match
]


@pytest.mark.parametrize(("word", "expected"), WORDS, ids=[w for w, _ in WORDS])
def test_process_word(word: str, expected: object) -> None:
    lexer = ShellLexer()
    if expected is ERROR:
        with pytest.raises(ExpansionError):
            lexer.process_word(word, ENV)
    else:
        assert lexer.process_word(word, ENV) == expected


SPLIT: list[tuple[str, object]] = [
    ("one", ["one"]),
    ("one two", ["one", "two"]),
    ("  one   two  ", ["one", "two"]),
    ("one\\ two", ["one two"]),
    ('one" two "three', ["one two three"]),
    ("x${UNSET}y", ["xy"]),
    ("x${SPACED}y", ["xa", "by"]),
    ('x"${SPACED}"y', ["xa  by"]),
    ('x "${SPACED}"y', ["x", "a  by"]),
    ("x${LEADING}", ["x", "x", "y"]),
    ('x"${LEADING}" y', ["x  x y", "y"]),
    ("x${TRAILING}", ["xx", "y"]),
    ("x${TRAILING}z", ["xx", "y", "z"]),
    ('x"${TRAILING}"z', ["xx y  z"]),
    ("'${SPACED}'", ["${SPACED}"]),
    ('one" two', ERROR),
    ('one\\" two', ['one"', "two"]),
    ("8${UNSET:-0} 9", ["80", "9"]),  # buildkit >= 0.15 would drop the 8
    ("<< EOF x", ["<< EOF", "x"]),
    ("a < b", ["a", "<", "b"]),
]


@pytest.mark.parametrize(("word", "expected"), SPLIT, ids=[w for w, _ in SPLIT])
def test_process_words(word: str, expected: object) -> None:
    lexer = ShellLexer()
    if expected is ERROR:
        with pytest.raises(ExpansionError):
            lexer.process_words(word, ENV)
    else:
        assert lexer.process_words(word, ENV) == expected


def test_backtick_escape() -> None:
    lexer = ShellLexer("`")
    env = {"V": "v"}
    assert [lexer.process_word(w, env) for w in ("a`$V", "a\\b", "`", "\"`\"\"", "`` ")] == [
        "a$V", "a\\b", "", '"', "` "]


def test_error_message_names_the_word_and_the_reason() -> None:
    with pytest.raises(ExpansionError) as caught:
        ShellLexer().process_word("x${V?V is required}", {})
    assert str(caught.value) == 'failed to process "x${V?V is required}": V: V is required'
    with pytest.raises(ExpansionError) as caught:
        ShellLexer().process_word("${E:?}", {"E": ""})
    assert str(caught.value) == 'failed to process "${E:?}": E: is not allowed to be empty'
    with pytest.raises(ExpansionError) as caught:
        ShellLexer().process_word("${E:=x}", {})
    assert str(caught.value) == 'failed to process "${E:=x}": unsupported modifier (:=) in ' \
                                "substitution"


def test_the_message_of_a_required_variable_is_expanded() -> None:
    with pytest.raises(ExpansionError, match="V: need x"):
        ShellLexer().process_word("${V:?need $X}", {"X": "x"})


def test_matched_and_unmatched_names() -> None:
    result = ShellLexer().process("${A:-$B} ${C-c} $D", {"A": "", "D": "d"})
    assert result == Expansion(result=" c d", words=("c", "d"), matched=frozenset({"A", "D"}),
                               unmatched=frozenset({"B", "C"}))


def test_skip_unset_env_keeps_references_as_written() -> None:
    lexer = ShellLexer(skip_unset_env=True, raw_quotes=True)
    words = ["$X", "${X}", "${X:-d}", "${X#p}", "${X/a/b}", "'$X'", "$SET", "${X:Y}"]
    assert [lexer.process_word(w, {"SET": "s"}) for w in words] == [
        "$X", "${X}", "${X:-d}", "${X#p}", "${X/a/b}", "'$X'", "s", "${X:Y}"]


def test_skip_process_quotes_is_for_heredoc_bodies() -> None:
    lexer = ShellLexer(skip_process_quotes=True)
    assert lexer.process_word("echo '$V' \"$V\"\n", {"V": "v"}) == "echo 'v' \"v\"\n"


def test_replace_all_follows_go_rules_for_empty_matches() -> None:
    # A pattern that also matches the empty string: Go replaces an empty match right after a
    # non-empty one only at the start (Regexp.ReplaceAllString).
    assert ShellLexer().process_word("${V//*(/-}", {"V": "ab"}) == "ab"
    assert ShellLexer().process_word("${V//*/-}", {"V": "ab"}) == "-"
    assert ShellLexer().process_word("${V//x*/-}", {"V": "xab"}) == "-"
    assert ShellLexer().process_word("${V//?/<$0>}", {"V": "ab"}) == "<><>"
    assert ShellLexer().process_word("${V//?/\\$$}", {"V": "ab"}) == "\\$\\$"
