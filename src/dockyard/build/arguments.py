"""How each instruction's argument text is cut into words (buildkit parser/line_parsers.go).

Every instruction line is split into its keyword, its ``--flags`` and the rest. The rest is
then read in one of these ways, chosen by the keyword:

- JSON or a single string (RUN, CMD, ENTRYPOINT, SHELL): a JSON array of strings is the exec
  form; anything else, even a broken array, is the shell form, kept as one string;
- JSON or whitespace-separated words (ADD, COPY, VOLUME);
- whitespace-separated words (FROM, EXPOSE);
- one string (MAINTAINER, STOPSIGNAL, USER, WORKDIR);
- name/value pairs (ENV, LABEL): ``k v`` (everything after the first blank is the value) or
  ``k=v k2="v 2"``, as a flat list ``[k, v, sep, ...]`` with sep "=" or "" (old syntax);
- shell-like words with quotes kept (ARG);
- a type and a command (HEALTHCHECK); a nested instruction (ONBUILD).

Quotes and escapes inside values are left in place: expansion removes them later.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass

from dockyard.build.chars import WHITESPACE, is_space, trim_left_space, trim_space
from dockyard.errors import InvalidArgument

NOT_STRING_ARRAY = "when using JSON array syntax, arrays must be comprised of strings only"
_SURROGATE = re.compile("[\ud800-\udfff]")


@dataclass(frozen=True, slots=True)
class Arguments:
    """The parsed arguments of one instruction: its words and whether they came as JSON."""

    words: tuple[str, ...] = ()
    json: bool = False


def split_command(line: str, escape: str) -> tuple[str, tuple[str, ...], str]:
    """The keyword as written, the flag words, and the rest of the line trimmed."""
    parts = WHITESPACE.split(trim_space(line), maxsplit=1)
    if len(parts) < 2:
        return parts[0], (), ""
    rest, flags = extract_flags(parts[1], escape)
    return parts[0], tuple(flags), trim_space(rest)


def extract_flags(line: str, escape: str) -> tuple[str, list[str]]:
    """Leading ``--name[=value]`` words, unquoted and unescaped, and the text after them.

    A bare ``--`` ends the flags. (buildkit reads this byte by byte, which garbles non-ASCII
    flag values; this reads characters.)
    """
    words: list[str] = []
    pos = 0
    size = len(line)
    while pos < size:
        if is_space(line[pos]):
            pos += 1
            continue
        if not line.startswith("--", pos):
            return line[pos:], words
        word, pos, quoted = _flag_word(line, pos, escape)
        if word == "--":
            return line[pos:], words
        if quoted or word:
            words.append(word)
    return "", words


def _flag_word(line: str, pos: int, escape: str) -> tuple[str, int, bool]:
    """One flag word starting at ``pos``: its text, the position after it, whether quoted."""
    out: list[str] = []
    quote = ""
    quoted = False
    size = len(line)
    while pos < size:
        ch = line[pos]
        if not quote and is_space(ch):
            break
        pos += 1
        if quote and ch == quote:
            quote = ""
            continue
        if not quote and ch in "'\"":
            quote, quoted = ch, True
            continue
        if ch == escape:
            if pos == size:
                quote = ""
                continue
            ch = line[pos]
            pos += 1
        out.append(ch)
    return "".join(out), pos, quoted


def parse_words(rest: str, escape: str) -> list[str]:
    """Words split at unquoted blanks; quotes and escape tokens stay in the words."""
    words: list[str] = []
    out: list[str] = []
    in_word = quoted = False
    quote = ""
    pos = 0
    while pos < len(rest):
        ch = rest[pos]
        pos += 1
        if not quote and is_space(ch):
            if in_word and (quoted or out):
                words.append("".join(out))
            out, in_word, quoted = [], False, False
            continue
        in_word = True
        if quote and ch == quote:
            quote = ""
        elif not quote and ch in "'\"":
            quote, quoted = ch, True
        elif ch == escape and quote != "'":
            if pos == len(rest):
                quote = ""  # an escape token at the very end is dropped
                continue
            out.append(ch)
            ch = rest[pos]
            pos += 1
        out.append(ch)
    if in_word and (quoted or out):
        words.append("".join(out))
    return words


def parse_json(rest: str) -> tuple[str, ...] | None:
    """The strings of a JSON array, or None when ``rest`` is not a JSON array.

    Raises InvalidArgument when it is an array with something other than strings in it.
    """
    rest = trim_left_space(rest)
    if not rest.startswith("["):
        return None
    try:
        value = json.loads(rest, parse_constant=_reject_constant)
    except (ValueError, RecursionError):
        return None
    if not isinstance(value, list):
        return None
    if not all(isinstance(item, str) for item in value):
        raise InvalidArgument(NOT_STRING_ARRAY)
    # Go's decoder turns a lone surrogate escape into U+FFFD.
    return tuple(_SURROGATE.sub("\ufffd", item) for item in value)


def _reject_constant(name: str) -> object:
    raise ValueError(f"{name} is not JSON")


def _maybe_json(rest: str, escape: str) -> Arguments:
    if not rest:
        return Arguments()
    words = parse_json(rest)
    if words is not None:
        return Arguments(words, json=True)
    return Arguments((rest,))


def _maybe_json_to_list(rest: str, escape: str) -> Arguments:
    words = parse_json(rest)
    if words is not None:
        return Arguments(words, json=True)
    return _whitespace_delimited(rest, escape)


def _whitespace_delimited(rest: str, escape: str) -> Arguments:
    if not rest:
        return Arguments()
    return Arguments(tuple(WHITESPACE.split(rest)))


def _string(rest: str, escape: str) -> Arguments:
    return Arguments((rest,)) if rest else Arguments()


def _name_or_name_value(rest: str, escape: str) -> Arguments:
    return Arguments(tuple(parse_words(rest, escape)))


def _name_value(keyword: str) -> Callable[[str, str], Arguments]:
    def parse(rest: str, escape: str) -> Arguments:
        words = parse_words(rest, escape)
        if not words:
            return Arguments()
        if "=" not in words[0]:
            parts = WHITESPACE.split(rest, maxsplit=1)
            if len(parts) < 2:
                raise InvalidArgument(f"{keyword} must have two arguments: {keyword} name value")
            return Arguments((parts[0], parts[1], ""))
        flat: list[str] = []
        for word in words:
            if "=" not in word:
                raise InvalidArgument(
                    f"syntax error - can't find = in \"{word}\"; must be of the form: name=value")
            key, value = word.split("=", 1)
            flat += [key, value, "="]
        return Arguments(tuple(flat))

    return parse


def _health_config(rest: str, escape: str) -> Arguments:
    sep = 0
    while sep < len(rest) and not is_space(rest[sep]):
        sep += 1
    if sep == 0:
        return Arguments()
    command = _maybe_json(trim_left_space(rest[sep:]), escape)
    return Arguments((rest[:sep], *command.words), command.json)


def _ignore(rest: str, escape: str) -> Arguments:
    return Arguments()


ParseArguments = Callable[[str, str], Arguments]

DISPATCH: dict[str, ParseArguments] = {
    "add": _maybe_json_to_list,
    "arg": _name_or_name_value,
    "cmd": _maybe_json,
    "copy": _maybe_json_to_list,
    "entrypoint": _maybe_json,
    "env": _name_value("ENV"),
    "expose": _whitespace_delimited,
    "from": _whitespace_delimited,
    "healthcheck": _health_config,
    "label": _name_value("LABEL"),
    "maintainer": _string,
    "run": _maybe_json,
    "shell": _maybe_json,
    "stopsignal": _string,
    "user": _string,
    "volume": _maybe_json_to_list,
    "workdir": _string,
}


def parse_arguments(keyword: str, rest: str, escape: str) -> Arguments:
    """The arguments of an instruction other than ONBUILD; unknown keywords get none."""
    return DISPATCH.get(keyword.lower(), _ignore)(rest, escape)
