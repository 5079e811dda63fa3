"""Physical lines to logical lines: parser directives, comments, continuations, heredoc bodies.

The rules are buildkit's (frontend/dockerfile/parser/parser.go and directives.go):

- Parser directives (``# syntax=``, ``# escape=``, ``# check=``) count only before anything
  else: the first line that is not a directive (a blank line, another comment, an
  instruction) ends them, and each may appear once. ``escape`` is a backslash or a backtick.
- A line whose first non-blank character is ``#`` is a comment, also inside a continuation.
- A line whose last non-blank character is the escape token (not itself escaped) continues
  on the next line; the token is removed and the lines are joined without a separator. Blank
  lines and comment lines inside a continuation are skipped (buildkit warns that empty
  continuation lines will become errors; the warnings are kept).
- The first line of an instruction loses its leading whitespace; continuation lines keep it.
- A heredoc body is read verbatim, line endings included, up to its terminator line.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from dockyard.build.chars import trim_left_space
from dockyard.build.errors import DockerfileError

_DIRECTIVE = re.compile(r"([a-zA-Z][a-zA-Z0-9]*)[\t\n\f\r ]*=[\t\n\f\r ]*(.+?)[\t\n\f\r ]*\Z")
_KNOWN_DIRECTIVES = ("syntax", "escape", "check")
_BOM = "\ufeff"
# bufio.Scanner's default token limit, which buildkit's parser keeps.
MAX_LINE_BYTES = 65536


@dataclass(frozen=True, slots=True)
class Directives:
    """The parser directives of a Dockerfile; syntax and check are kept but not acted on."""

    escape: str = "\\"
    syntax: str | None = None
    check: str | None = None


@dataclass(frozen=True, slots=True)
class LogicalLine:
    """One instruction's text after continuations are joined, and its first and last line."""

    text: str
    start: int
    end: int


def _split_lines(text: str) -> list[str]:
    """Lines with their ``\\n`` kept, as buildkit's scanLines returns them."""
    parts = text.split("\n")
    lines = [part + "\n" for part in parts[:-1]]
    if parts[-1]:
        lines.append(parts[-1])
    return lines


def _is_comment(line: str) -> bool:
    return trim_left_space(line).startswith("#")


def _utf8_size(line: str) -> int:
    return len(line.encode("utf-8", "replace"))


def _trim_newline(line: str) -> str:
    return line.rstrip("\r\n")


class LineReader:
    """Reads a Dockerfile's text one logical line at a time.

    ``line`` is the number of the last physical line consumed (1-based), so an error found
    while handling a logical line can name it.
    """

    def __init__(self, text: str, filename: str = "Dockerfile") -> None:
        self.filename = filename
        self._lines = _split_lines(text)
        if self._lines and self._lines[0].startswith(_BOM):
            self._lines[0] = self._lines[0][len(_BOM):]
        self._index = 0
        self.line = 0
        self.warnings: list[str] = []
        self._escape = "\\"
        self._continuation = self._continuation_regex("\\")
        self._directives_done = False
        self._seen: dict[str, str] = {}

    @property
    def escape(self) -> str:
        return self._escape

    @property
    def directives(self) -> Directives:
        return Directives(self._escape, self._seen.get("syntax"), self._seen.get("check"))

    @staticmethod
    def _continuation_regex(escape: str) -> re.Pattern[str]:
        token = re.escape(escape)
        return re.compile(rf"([^{token}]){token}[ \t]*\Z|^{token}[ \t]*\Z")

    def _next_physical(self) -> str | None:
        if self._index >= len(self._lines):
            return None
        raw = self._lines[self._index]
        self._index += 1
        if len(raw) * 4 > MAX_LINE_BYTES and _utf8_size(raw) > MAX_LINE_BYTES:
            raise DockerfileError(self.filename, self._index,
                                  f"line longer than the {MAX_LINE_BYTES - 1} bytes allowed")
        return raw

    def _directive(self, line: str) -> bool:
        """Take ``line`` as a parser directive if directives are still allowed and it is one."""
        if self._directives_done:
            return False
        if not line.startswith("#"):
            self._directives_done = True
            return False
        match = _DIRECTIVE.match(trim_left_space(line[1:]))
        key = match.group(1).lower() if match else ""
        if match is None or key not in _KNOWN_DIRECTIVES:
            self._directives_done = True
            return False
        where = self.line + 1
        if key in self._seen:
            raise DockerfileError(self.filename, where,
                                  f"only one {key} parser directive can be used")
        value = match.group(2)
        if key == "escape":
            if value not in ("\\", "`"):
                raise DockerfileError(
                    self.filename, where,
                    f"invalid escape token '{value}': the escape directive takes \\ or `")
            self._escape = value
            self._continuation = self._continuation_regex(value)
        self._seen[key] = value
        return True

    def _process(self, raw: str, strip_left: bool) -> str:
        """A line without its newline (and leading blanks), or "" for a comment or directive."""
        line = _trim_newline(raw)
        if strip_left:
            line = trim_left_space(line)
        self._directive(line)
        return "" if _is_comment(line) else line

    def _trim_continuation(self, line: str) -> tuple[str, bool]:
        """The line without a trailing escape token, and whether the instruction ends here."""
        if self._continuation.search(line):
            return self._continuation.sub(r"\1", line), False
        return line, True

    def next_line(self) -> LogicalLine | None:
        """The next instruction's joined text, or None at the end of the file."""
        while (raw := self._next_physical()) is not None:
            text = self._process(raw, strip_left=True)
            self.line += 1
            start = self.line
            text, ended = self._trim_continuation(text)
            if ended and not text:
                continue
            pieces = [text]
            empty_continuation = False
            while not ended and (raw := self._next_physical()) is not None:
                text = self._process(raw, strip_left=False)
                self.line += 1
                if _is_comment(raw):
                    continue
                if not trim_left_space(_trim_newline(text)):
                    empty_continuation = True
                    continue
                text, ended = self._trim_continuation(text)
                pieces.append(text)
            joined = "".join(pieces)
            if empty_continuation:
                self.warnings.append(f"{self.filename}:{self.line}: empty continuation line "
                                     f"found in: {joined}")
            return LogicalLine(joined, start, self.line)
        return None

    def heredoc_body(self, terminator: str, chomp: bool) -> str | None:
        """The lines up to the terminator line (not included), or None at the end of the file.

        With ``chomp`` (``<<-``) the terminator may be indented with tabs; the body keeps its
        tabs here and loses them when it is used.
        """
        body: list[str] = []
        while (raw := self._next_physical()) is not None:
            self.line += 1
            candidate = _trim_newline(raw)
            if chomp:
                candidate = candidate.lstrip("\t")
            if candidate == terminator:
                return "".join(body)
            body.append(raw)
        return None
