"""Word expansion and splitting as Docker's shell lexer does it
(buildkit frontend/dockerfile/shell/lex.go).

This is not a shell: it knows ``$V``, ``${V}``, the modifiers ``${V:-w}``, ``${V-w}``,
``${V:+w}``, ``${V+w}``, ``${V:?m}``, ``${V?m}``, the patterns ``${V#p}``, ``${V##p}``,
``${V%p}``, ``${V%%p}``, ``${V/p/r}``, ``${V//p/r}``, single and double quotes and the escape
token (backslash, or a backtick after ``# escape=```). It never runs a command.

`ShellLexer.process_word` keeps the whitespace of the result (the builder's ``ProcessWord``);
`ShellLexer.process_words` splits it into words, where whitespace that came from a variable
splits and whitespace inside quotes does not (``ProcessWords``, used by EXPOSE).

One deliberate difference: since buildkit 0.15 (2024) a nested ``${V:-w}`` inside a word makes
``process_words`` drop the part of the word before it (a shared buffer is reset). dockerd's
classic builder never had that, and neither has this lexer.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

from dockyard.build.chars import go_quote, is_digit, is_letter, is_space
from dockyard.build.errors import ExpansionError

_EOF = ""
_SPECIAL_PARAMS = frozenset("@*#?-$!0")
_UNTERMINATED = "unexpected end of statement while looking for matching "


class _Failure(Exception):
    """A lexing failure inside one word; `ShellLexer.process` turns it into ExpansionError."""


@dataclass(frozen=True, slots=True)
class Expansion:
    """The outcome of expanding one word: the text, its words, and which names were looked up."""

    result: str
    words: tuple[str, ...]
    matched: frozenset[str]
    unmatched: frozenset[str]


@dataclass(frozen=True, slots=True)
class ShellLexer:
    """The lexer's settings; the flags are buildkit's Lex fields of the same names.

    raw_quotes keeps quote characters in the result, raw_escapes keeps escape tokens,
    skip_process_quotes treats quotes as plain characters (heredoc bodies), and
    skip_unset_env leaves references to unset names as they are written.
    """

    escape: str = "\\"
    raw_quotes: bool = False
    raw_escapes: bool = False
    skip_process_quotes: bool = False
    skip_unset_env: bool = False

    def process(self, word: str, env: Mapping[str, str]) -> Expansion:
        """Expand ``word``; raise ExpansionError (``failed to process "...": why``)."""
        state = _Word(self, word, env)
        try:
            result, words = state.stop_on(_EOF, self.raw_escapes)
        except _Failure as exc:
            raise ExpansionError(f"failed to process {go_quote(word)}: {exc}") from None
        return Expansion(result, tuple(words), frozenset(state.matched),
                         frozenset(state.unmatched))

    def process_word(self, word: str, env: Mapping[str, str]) -> str:
        """The expanded word, whitespace kept."""
        return self.process(word, env).result

    def process_words(self, word: str, env: Mapping[str, str]) -> list[str]:
        """The expanded word split into words."""
        return list(self.process(word, env).words)


class _Words:
    """Collects words while a word is scanned (buildkit's wordsStruct)."""

    __slots__ = ("buf", "in_word", "size", "words")

    def __init__(self) -> None:
        self.buf: list[str] = []
        self.size = 0
        self.words: list[str] = []
        self.in_word = False

    def add_char(self, ch: str) -> None:
        if is_space(ch):
            if self.in_word and self.size:
                self.words.append("".join(self.buf))
                self.buf, self.size, self.in_word = [], 0, False
        else:
            self.add_raw(ch)

    def add_raw(self, text: str) -> None:
        self.buf.append(text)
        self.size += len(text)
        self.in_word = True

    def add_string(self, text: str) -> None:
        for ch in text:
            self.add_char(ch)

    def finish(self) -> list[str]:
        if self.size:
            self.words.append("".join(self.buf))
            self.buf, self.size, self.in_word = [], 0, False
        return self.words


class _Word:
    """The scanning state of one `ShellLexer.process` call."""

    def __init__(self, lexer: ShellLexer, text: str, env: Mapping[str, str]) -> None:
        self.lexer = lexer
        self.text = text
        self.pos = 0
        self.env = env
        self.raw_escapes = lexer.raw_escapes
        self.matched: set[str] = set()
        self.unmatched: set[str] = set()

    def peek(self) -> str:
        return self.text[self.pos] if self.pos < len(self.text) else _EOF

    def next(self) -> str:
        ch = self.peek()
        if ch:
            self.pos += 1
        return ch

    def get_env(self, name: str) -> tuple[str, bool]:
        if name in self.env:
            self.matched.add(name)
            return self.env[name], True
        self.unmatched.add(name)
        return "", False

    def stop_on(self, stop: str, raw_escapes: bool) -> tuple[str, list[str]]:
        """Scan up to ``stop`` (or the end when stop is empty); return the text and its words."""
        saved, self.raw_escapes = self.raw_escapes, raw_escapes
        try:
            return self._stop_on(stop)
        finally:
            self.raw_escapes = saved

    def _stop_on(self, stop: str) -> tuple[str, list[str]]:
        result: list[str] = []
        words = _Words()
        quotes = "" if self.lexer.skip_process_quotes else "'\""
        while (ch := self.peek()) != _EOF:
            if stop and ch == stop:
                self.next()
                return "".join(result), words.finish()
            if ch == "$":
                piece = self.dollar()
                words.add_string(piece)
            elif ch == "<":
                piece = self.heredoc_marker()
                words.add_raw(piece)
            elif ch in quotes:
                piece = self.single_quote() if ch == "'" else self.double_quote()
                words.add_raw(piece)
            else:
                piece = self.next()
                if piece == self.lexer.escape:
                    if self.raw_escapes:
                        words.add_raw(piece)
                        result.append(piece)
                    piece = self.next()
                    if piece == _EOF:
                        break
                    words.add_raw(piece)
                else:
                    words.add_char(piece)
            result.append(piece)
        if stop:
            raise _Failure(_UNTERMINATED + stop)
        return "".join(result), words.finish()

    def single_quote(self) -> str:
        # POSIX sh: single quotes keep every character literally; nothing can be escaped.
        quote = self.next()
        result = [quote] if self.lexer.raw_quotes else []
        while True:
            ch = self.next()
            if ch == _EOF:
                raise _Failure(_UNTERMINATED + "single-quote")
            if ch == "'":
                if self.lexer.raw_quotes:
                    result.append(ch)
                return "".join(result)
            result.append(ch)

    def double_quote(self) -> str:
        # POSIX sh: inside double quotes the escape token quotes only " $ and itself.
        quote = self.next()
        result = [quote] if self.lexer.raw_quotes else []
        while True:
            ch = self.peek()
            if ch == _EOF:
                raise _Failure(_UNTERMINATED + "double-quote")
            if ch == '"':
                self.next()
                if self.lexer.raw_quotes:
                    result.append(ch)
                return "".join(result)
            if ch == "$":
                result.append(self.dollar())
                continue
            ch = self.next()
            if ch == self.lexer.escape:
                if self.raw_escapes:
                    result.append(ch)
                following = self.peek()
                if following == _EOF:
                    continue
                if following in ('"', "$", self.lexer.escape):
                    ch = self.next()
            result.append(ch)

    def heredoc_marker(self) -> str:
        """``<<`` and the blanks after it stay one piece, so ``<< EOF`` is one word."""
        self.next()
        if self.peek() != "<":
            return "<"
        self.next()
        blanks = []
        while self.peek() and self.peek() in "\t\r ":
            blanks.append(self.next())
        return "<<" + "".join(blanks)

    def name(self) -> str:
        """A variable name: letters, digits and _, or a run of digits, or one special parameter."""
        chars: list[str] = []
        while (ch := self.peek()) != _EOF:
            if not chars and is_digit(ch):
                while self.peek() != _EOF and is_digit(self.peek()):
                    chars.append(self.next())
                return "".join(chars)
            if not chars and ch in _SPECIAL_PARAMS:
                return self.next()
            if not (is_letter(ch) or is_digit(ch) or ch == "_"):
                break
            chars.append(self.next())
        return "".join(chars)

    def dollar(self) -> str:
        self.next()
        if self.peek() != "{":
            name = self.name()
            if not name:
                return "$"
            value, found = self.get_env(name)
            if not found and self.lexer.skip_unset_env:
                return "$" + name
            return value
        self.next()
        following = self.peek()
        if following == _EOF:
            raise _Failure("syntax error: missing '}'")
        if following in "{}:":
            raise _Failure("syntax error: bad substitution")
        name = self.name()
        ch = self.next()
        if ch == _EOF:
            raise _Failure("syntax error: missing '}'")
        if ch == "}":
            value, found = self.get_env(name)
            if not found and self.lexer.skip_unset_env:
                return "${" + name + "}"
            return value
        if ch == "/":
            return self.substitute(name)
        return self.modifier(name, ch)

    def modifier(self, name: str, ch: str) -> str:
        """``${name<op>word}`` for the operators - + ? # % and their : forms."""
        modifier = ch
        null_is_unset = ch == ":"
        if null_is_unset:
            ch = self.next()
            modifier += ch
        elif ch not in "+-?#%":
            raise _Failure(f"unsupported modifier ({modifier}) in substitution")
        patterned = ch in ("#", "%")
        if null_is_unset and patterned:
            raise _Failure(f"unsupported modifier ({modifier}) in substitution")
        word = self.inner("}", patterned, "syntax error: missing '}'")
        value, found = self.get_env(name)
        if not found and self.lexer.skip_unset_env:
            return "${" + name + modifier + word + "}"
        empty = not found or (null_is_unset and value == "")
        if ch == "-":
            return word if empty else value
        if ch == "+":
            return "" if empty else word
        if ch == "?":
            if not found:
                raise _Failure(f"{name}: {word or 'is not allowed to be unset'}")
            if empty:
                raise _Failure(f"{name}: {word or 'is not allowed to be empty'}")
            return value
        if ch in ("#", "%"):
            greedy = word.startswith(ch)
            if greedy:
                word = word[1:]
            if ch == "%":
                return _trim_suffix(word, value, greedy)
            return _trim_prefix(word, value, greedy)
        raise _Failure(f"unsupported modifier ({modifier}) in substitution")

    def substitute(self, name: str) -> str:
        """``${name/pattern/replacement}`` and ``${name//pattern/replacement}``."""
        replace_all = self.peek() == "/"
        if replace_all:
            self.next()
        pattern = self.inner("/", True, "syntax error: missing '/' in ${}")
        replacement = self.inner("}", True, "syntax error: missing '}'")
        value, found = self.get_env(name)
        if not found and self.lexer.skip_unset_env:
            return "${" + name + "/" + pattern + "/" + replacement + "}"
        regex = _shell_pattern(pattern, greedy=True, anchored=False)
        if replace_all:
            return _replace_all(regex, value, replacement)
        match = regex.search(value)
        if match is None:
            return value
        return value[: match.start()] + replacement + value[match.end():]

    def inner(self, stop: str, raw_escapes: bool, at_end: str) -> str:
        try:
            text, _ = self.stop_on(stop, raw_escapes)
        except _Failure:
            if self.peek() == _EOF:
                raise _Failure(at_end) from None
            raise
        return text


def _shell_pattern(pattern: str, *, greedy: bool, anchored: bool) -> re.Pattern[str]:
    """A regular expression for a shell wildcard pattern (``*``, ``?``, ``\\`` escapes).

    POSIX sh pattern matching (XCU 2.13) without bracket expressions, as buildkit has it;
    ``\\}`` and ``\\/`` are the brace and slash themselves.
    """
    out = ["^"] if anchored else []
    star = ".*" if greedy else ".*?"
    index = 0
    while index < len(pattern):
        tok = pattern[index]
        index += 1
        if tok == "*":
            out.append(star)
        elif tok == "?":
            out.append(".")
        elif tok == "\\":
            if index < len(pattern) and pattern[index] in "}/":
                continue
            escaped = pattern[index] if index < len(pattern) else ""
            index += 1
            if escaped not in ("*", "?", "\\") or not escaped:
                where = f"'\\{escaped}'" if escaped else "at the end"
                raise _Failure(f"invalid pattern ({pattern}) in substitution: "
                               f"invalid escape {where}")
            out.append("\\" + escaped)
        elif tok in "[]{}.+()|^$":
            out.append("\\" + tok)
        else:
            out.append(tok)
    return re.compile("".join(out))


def _trim_prefix(pattern: str, value: str, greedy: bool) -> str:
    match = _shell_pattern(pattern, greedy=greedy, anchored=True).search(value)
    return value if match is None else value[match.end():]


def _trim_suffix(pattern: str, value: str, greedy: bool) -> str:
    # A regex finds the leftmost match, not the shortest rightmost one: reverse both sides.
    return _trim_prefix(_reverse_pattern(pattern), value[::-1], greedy)[::-1]


def _reverse_pattern(pattern: str) -> str:
    """Reverse a pattern but keep each ``\\x`` escape pair in its order."""
    pieces: list[str] = []
    index = 0
    while index < len(pattern):
        if pattern[index] == "\\" and index != len(pattern) - 1:
            pieces.append(pattern[index: index + 2])
            index += 2
        else:
            pieces.append(pattern[index])
            index += 1
    return "".join(reversed(pieces))


def _replace_all(regex: re.Pattern[str], src: str, template: str) -> str:
    """Go's ``Regexp.ReplaceAllString``: its empty-match rule and its ``$0`` template."""
    out: list[str] = []
    last_end = 0
    search = 0
    while search <= len(src):
        match = regex.search(src, search)
        if match is None:
            break
        start, end = match.span()
        out.append(src[last_end:start])
        # No replacement for an empty match right after the previous match.
        if end > last_end or start == 0:
            out.append(_expand_template(template, match.group(0)))
        last_end = end
        search = search + 1 if search + 1 > end else end
    out.append(src[last_end:])
    return "".join(out)


def _expand_template(template: str, whole: str) -> str:
    """Go's ``Regexp.Expand`` for a pattern without groups: ``$0``/``${0}`` is the match,
    ``$$`` a dollar, any other ``$name`` nothing, and a malformed ``$`` stays as it is."""
    out: list[str] = []
    rest = template
    while "$" in rest:
        before, rest = rest.split("$", 1)
        out.append(before)
        if rest.startswith("$"):
            out.append("$")
            rest = rest[1:]
            continue
        parsed = _template_name(rest)
        if parsed is None:
            out.append("$")
            continue
        name, rest = parsed
        if name == "0":
            out.append(whole)
    out.append(rest)
    return "".join(out)


def _template_name(text: str) -> tuple[str, str] | None:
    brace = text.startswith("{")
    body = text[1:] if brace else text
    size = 0
    while size < len(body) and (is_letter(body[size]) or is_digit(body[size]) or body[size] == "_"):
        size += 1
    if size == 0:
        return None
    if brace:
        if size >= len(body) or body[size] != "}":
            return None
        return body[:size], body[size + 1:]
    return body[:size], body[size:]
