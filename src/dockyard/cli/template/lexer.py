"""The lexer of Go's text/template (the subset docker's ``--format`` users write).

Text outside ``{{ }}`` is one token; inside an action it splits into fields (``.A``), variables
(``$x``), identifiers, strings (``"..."``, raw `` `...` ``), chars, numbers, ``|``, parentheses,
``:=``/``=`` and ``,``. ``{{- `` and `` -}}`` trim the white space beside the action (a space
must follow or precede the dash, as in Go). ``{{/* */}}`` is a comment. Each token carries its
byte offset so errors can say ``line:col`` as Go does.
"""

from __future__ import annotations

TYPE_CHECKING = False  # typing's import costs the CLI's start a few ms
if TYPE_CHECKING:
    from typing import Literal

    Kind = Literal[
        "text", "open", "close", "field", "var", "ident", "string", "rawstring", "char",
        "number", "pipe", "lparen", "rparen", "declare", "assign", "comma", "dot", "bool",
        "nil", "eof",
    ]
KEYWORDS = frozenset({"if", "else", "end", "range", "with", "define", "template", "block",
                      "break", "continue"})


class TemplateSyntaxError(Exception):
    """A parse error; ``str()`` is Go's text without the "template: NAME:" prefix."""

    def __init__(self, line: int, message: str) -> None:
        super().__init__(f"{line}: {message}")
        self.line = line
        self.message = message


class Token:
    """One token: its kind, its text, its byte offset and its line."""

    __slots__ = ("kind", "line", "pos", "value")

    def __init__(self, kind: Kind, value: str, pos: int, line: int) -> None:
        self.kind: Kind = kind
        self.value = value
        self.pos = pos
        self.line = line

    def __repr__(self) -> str:
        return f"Token({self.kind!r}, {self.value!r}, {self.pos}, {self.line})"


_PUNCT: dict[str, Kind] = {"|": "pipe", "(": "lparen", ")": "rparen", ",": "comma",
                           "=": "assign"}


def _is_space(ch: str) -> bool:
    return ch in " \t\r\n"


def _is_alnum(ch: str) -> bool:
    return ch == "_" or ch.isalnum()


class Lexer:
    def __init__(self, text: str) -> None:
        self.text = text
        self.pos = 0
        self.tokens: list[Token] = []
        self._comment_mode = False

    def line_at(self, pos: int) -> int:
        return 1 + self.text.count("\n", 0, pos)

    def emit(self, kind: Kind, start: int, end: int) -> None:
        self.tokens.append(Token(kind, self.text[start:end], start, self.line_at(start)))

    def error(self, pos: int, message: str) -> TemplateSyntaxError:
        return TemplateSyntaxError(self.line_at(pos), message)

    def run(self) -> list[Token]:
        text = self.text
        while self.pos < len(text):
            open_at = text.find("{{", self.pos)
            if open_at < 0:
                self.emit("text", self.pos, len(text))
                break
            end_text = open_at
            trim_left = text.startswith("{{- ", open_at) or (
                text.startswith("{{-", open_at) and open_at + 3 < len(text)
                and _is_space(text[open_at + 3]))
            if trim_left:
                while end_text > self.pos and _is_space(text[end_text - 1]):
                    end_text -= 1
            if end_text > self.pos:
                self.emit("text", self.pos, end_text)
            self.pos = open_at + (3 if trim_left else 2)
            self._action(open_at)
        self.tokens.append(Token("eof", "", len(text), self.line_at(len(text))))
        return self.tokens

    def _action(self, open_at: int) -> None:
        text = self.text
        self.emit("open", open_at, open_at + 2)
        comment = self._skip_space_and_comment()
        while True:
            if self.pos >= len(text):
                raise self.error(open_at, "unclosed action")
            ch = text[self.pos]
            if _is_space(ch):
                start = self.pos
                while self.pos < len(text) and _is_space(text[self.pos]):
                    self.pos += 1
                if text.startswith("-}}", self.pos):
                    self._close(start, trim=True)
                    return
                continue
            if text.startswith("}}", self.pos):
                self._close(self.pos, trim=False)
                return
            if comment:
                raise self.error(self.pos, "comment ends before closing delimiter")
            self._token(ch)

    def _skip_space_and_comment(self) -> bool:
        text = self.text
        probe = self.pos
        while probe < len(text) and _is_space(text[probe]):
            probe += 1
        if text.startswith("/*", probe):
            end = text.find("*/", probe + 2)
            if end < 0:
                raise self.error(probe, "unclosed comment")
            self.pos = end + 2
            self.tokens.pop()  # a comment action produces nothing
            self._comment_mode = True
            return True
        self._comment_mode = False
        return False

    def _close(self, space_start: int, trim: bool) -> None:
        text = self.text
        close_at = self.pos + (1 if trim else 0)
        if not self._comment_mode:
            self.emit("close", close_at, close_at + 2)
        self.pos = close_at + 2
        if trim:
            while self.pos < len(text) and _is_space(text[self.pos]):
                self.pos += 1

    def _token(self, ch: str) -> None:
        text, start = self.text, self.pos
        if text.startswith(":=", start):
            self.pos += 2
            self.emit("declare", start, self.pos)
        elif ch in _PUNCT:
            self.pos += 1
            self.emit(_PUNCT[ch], start, self.pos)
        elif ch == '"':
            self._quoted(start, '"', "string")
        elif ch == "`":
            end = text.find("`", start + 1)
            if end < 0:
                raise self.error(start, "unterminated raw quoted string")
            self.pos = end + 1
            self.emit("rawstring", start, self.pos)
        elif ch == "'":
            self._quoted(start, "'", "char")
        elif ch == "$":
            self.pos += 1
            self._word()
            self.emit("var", start, self.pos)
        elif ch == ".":
            after = text[start + 1] if start + 1 < len(text) else ""
            if after and _is_alnum(after) and not after.isdigit():
                self.pos += 1
                self._word()
                self.emit("field", start, self.pos)
            elif after.isdigit():
                self._number(start)
            else:
                self.pos += 1
                self.emit("dot", start, self.pos)
        elif ch.isdigit() or (ch in "+-" and start + 1 < len(text) and text[start + 1].isdigit()):
            self._number(start)
        elif _is_alnum(ch):
            self._word()
            word = text[start:self.pos]
            kind: Kind = "ident"
            if word in ("true", "false"):
                kind = "bool"
            elif word == "nil":
                kind = "nil"
            self.emit(kind, start, self.pos)
        else:
            raise self.error(start, f"unexpected {ch!r} in command" if ch != "}" else
                             'unexpected "}" in operand')

    def _word(self) -> None:
        while self.pos < len(self.text) and _is_alnum(self.text[self.pos]):
            self.pos += 1

    def _number(self, start: int) -> None:
        self.pos = start + 1
        while self.pos < len(self.text) and (_is_alnum(self.text[self.pos])
                                             or self.text[self.pos] in ".+-"):
            if self.text[self.pos] in "+-" and self.text[self.pos - 1] not in "eEpP":
                break
            self.pos += 1
        self.emit("number", start, self.pos)

    def _quoted(self, start: int, quote: str, kind: Kind) -> None:
        text = self.text
        i = start + 1
        while i < len(text) and text[i] != quote:
            if text[i] == "\\":
                i += 1
            if i < len(text) and text[i] == "\n":
                raise self.error(start, "unterminated quoted string")
            i += 1
        if i >= len(text):
            raise self.error(start, "unterminated quoted string" if kind == "string" else
                             "unterminated character constant")
        self.pos = i + 1
        self.emit(kind, start, self.pos)


def lex(text: str) -> list[Token]:
    return Lexer(text).run()
