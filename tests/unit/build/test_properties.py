"""Hypothesis: the front end fails only with DockerfileError, and quoting round-trips."""

from __future__ import annotations

import contextlib
import json

from hypothesis import given, settings
from hypothesis import strategies as st

from dockyard.build import (
    Cmd,
    DockerfileError,
    Env,
    Expander,
    KeyValue,
    Run,
    ShellLexer,
    parse_dockerfile,
)
from dockyard.build.chars import trim_space
from dockyard.build.errors import ExpansionError
from dockyard.build.parser import parse

KEYWORDS = ["FROM", "RUN", "CMD", "LABEL", "EXPOSE", "ENV", "ADD", "COPY", "ENTRYPOINT",
            "VOLUME", "USER", "WORKDIR", "ARG", "ONBUILD", "STOPSIGNAL", "HEALTHCHECK", "SHELL",
            "MAINTAINER", "from", "Run", "NOPE"]
PIECES = ["\\", "`", "\n", "\r\n", " ", "\t", "#", "# escape=`\n", "# syntax=x\n", "'", '"',
          "$", "${", "}", ":-", "?", "#", "%", "/", "=", "[", "]", ",", '["a"]', "<<", "<<-",
          "EOF", "\nEOF\n", "--", "--mount=", "type=cache", "target=/x", "--from=", "--chown=",
          "--interval=", "1s", "NONE", "CMD", " AS ", "x", "0", "\ufeff", "é", "\u00a0"]
line = st.tuples(st.sampled_from(KEYWORDS),
                 st.lists(st.sampled_from(PIECES) | st.text(max_size=4), max_size=12)).map(
    lambda t: t[0] + " " + "".join(t[1]))
dockerfiles = st.lists(line | st.lists(st.sampled_from(PIECES), max_size=6).map("".join),
                       min_size=1, max_size=8).map("\n".join)
ENV = {"A": "a b", "B": "", "P": "80 443"}


@settings(max_examples=400, deadline=None)
@given(dockerfiles)
def test_parser_fails_only_with_dockerfile_error(text: str) -> None:
    with contextlib.suppress(DockerfileError):
        parse(text)


@settings(max_examples=400, deadline=None)
@given(st.just("FROM scratch\n") | st.just("ARG A\n"), dockerfiles)
def test_instructions_and_expansion_fail_only_with_dockerfile_error(head: str, text: str) -> None:
    try:
        dockerfile = parse_dockerfile(head + text)
    except DockerfileError:
        return
    expander = Expander(ENV)
    for stage in dockerfile.stages:
        for instruction in (stage.from_, *stage.instructions):
            with contextlib.suppress(DockerfileError):
                expander.expand(instruction)


@settings(max_examples=300, deadline=None)
@given(st.text(), st.dictionaries(st.text(min_size=1, max_size=3), st.text(max_size=5)))
def test_lexer_fails_only_with_expansion_error(word: str, env: dict[str, str]) -> None:
    for lexer in (ShellLexer(), ShellLexer("`"), ShellLexer(raw_quotes=True, raw_escapes=True,
                                                           skip_unset_env=True)):
        with contextlib.suppress(ExpansionError):
            lexer.process_words(word, env)


def single_quoted(text: str) -> str:
    return "'" + text.replace("'", "'\\''") + "'"


def double_quoted(text: str) -> str:
    return '"' + "".join("\\" + c if c in '\\"$' else c for c in text) + '"'


def escaped(text: str) -> str:
    return "".join("\\" + c for c in text)


@settings(max_examples=300)
@given(st.text())
def test_quoting_round_trips(text: str) -> None:
    lexer = ShellLexer()
    for quote in (single_quoted, double_quoted, escaped):
        assert lexer.process_word(quote(text), ENV) == text
    if text:
        assert lexer.process_words(single_quoted(text), ENV) == [text]
        assert lexer.process_words(double_quoted(text) + " x", ENV) == [text, "x"]


no_newline = st.text(st.characters(blacklist_characters="\r\n", blacklist_categories=("Cs",)))
names = st.from_regex(r"[A-Za-z_][A-Za-z0-9_]{0,8}", fullmatch=True)


@settings(max_examples=300, deadline=None)
@given(names, no_newline)
def test_env_value_round_trips_through_the_dockerfile(name: str, value: str) -> None:
    text = f"FROM scratch\nENV {name}={double_quoted(value)} other={single_quoted(value)}\n"
    env = Expander({}).expand(parse_dockerfile(text).stages[0].instructions[0])
    assert isinstance(env, Env)
    assert env.env == (KeyValue(name, value), KeyValue("other", value))


@settings(max_examples=300, deadline=None)
@given(st.lists(st.text(st.characters(blacklist_categories=("Cs",)))))
def test_exec_form_round_trips(args: list[str]) -> None:
    text = f"FROM scratch\nCMD {json.dumps(args)}\nCMD {json.dumps(args, ensure_ascii=False)}"
    instructions = parse_dockerfile(text).stages[0].instructions
    assert [i.command for i in instructions if isinstance(i, Cmd)] == [tuple(args)] * 2
    assert all(not i.shell_form for i in instructions if isinstance(i, Cmd))


# No newline, no escape token, no comment or heredoc start, not blank: a piece of a command.
command_piece = st.text(st.characters(blacklist_characters="\r\n\\#<",
                                      blacklist_categories=("Cs",)),
                        min_size=1).filter(lambda s: trim_space(s) != "")


@settings(max_examples=300, deadline=None)
@given(st.lists(command_piece, min_size=1, max_size=6))
def test_continuations_join_the_pieces(pieces: list[str]) -> None:
    text = "FROM scratch\nRUN echo " + "\\\n".join(pieces) + "\n"
    run = parse_dockerfile(text).stages[0].instructions[0]
    assert isinstance(run, Run)
    assert run.command == (trim_space("echo " + "".join(pieces)),)
