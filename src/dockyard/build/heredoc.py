"""Heredoc markers (``<<EOF``, ``<<-EOF``, ``<<'EOF'``, ``3<<EOF``) as buildkit finds them.

A word is a heredoc marker when it matches ``^(\\d*)<<(-?)\\s*([^<]*)$`` and the rest is one
shell word. Quoting any part of the delimiter (``<<'EOF'``, ``<<"EOF"``, ``<<E"O"F``) turns
off variable expansion in the body. ``<<-`` strips leading tabs from the body and lets the
terminator be indented with tabs. Several heredocs may start on one line; their bodies follow
one after the other in the order of the markers.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from dockyard.build.errors import ExpansionError
from dockyard.build.shell import ShellLexer

_MARKER = re.compile(r"([0-9]*)<<(-?)[\t\n\f\r ]*([^<]*)\Z")
_LEADING_TABS = re.compile(r"^\t+", re.MULTILINE)
_MAX_FD = 2**64 - 1
_NO_ENV: dict[str, str] = {}


@dataclass(frozen=True, slots=True)
class Heredoc:
    """A heredoc: its delimiter name, body (as written), and how it is to be used."""

    name: str
    content: str = ""
    expand: bool = True
    chomp: bool = False
    fd: int = 0

    @property
    def text(self) -> str:
        """The body as it is used: leading tabs removed for ``<<-``."""
        return chomp(self.content) if self.chomp else self.content


def chomp(content: str) -> str:
    """Remove the leading tabs of every line (``<<-``)."""
    return _LEADING_TABS.sub("", content)


def parse_marker(word: str) -> Heredoc | None:
    """The heredoc that ``word`` opens, or None if it is not a heredoc marker.

    Raises ExpansionError when the delimiter is badly quoted (``<<'EOF``).
    """
    match = _MARKER.match(word)
    if match is None or not match.group(3):
        return None
    digits, dash, rest = match.groups()
    fd = min(int(digits), _MAX_FD) if digits else 0
    lexer = ShellLexer(skip_unset_env=True)
    words = lexer.process_words(rest, _NO_ENV)
    if len(words) != 1:
        return None
    raw_words = ShellLexer(raw_quotes=True, skip_unset_env=True).process_words(rest, _NO_ENV)
    if len(raw_words) != len(words):
        raise ExpansionError(f"internal lexing of heredoc produced inconsistent results: {rest}")
    # Quotes that the unquoted pass removed mean that part of the delimiter was quoted.
    expand = _quotes(words[0]) == _quotes(raw_words[0])
    return Heredoc(name=words[0], expand=expand, chomp=dash == "-", fd=fd)


def _quotes(text: str) -> int:
    return text.count("'") + text.count('"')


def markers_in_line(line: str) -> list[Heredoc]:
    """The heredocs opened by a logical line, in order; a line that does not lex has none."""
    lexer = ShellLexer(raw_quotes=True, raw_escapes=True, skip_unset_env=True)
    try:
        words = lexer.process_words(line, _NO_ENV)
    except ExpansionError:
        return []
    found = []
    for word in words:
        heredoc = parse_marker(word)
        if heredoc is not None:
            found.append(heredoc)
    return found
