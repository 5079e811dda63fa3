"""Character classes and quoting as Go defines them, so the front end splits text as Docker does.

Python's ``str.isspace`` also counts U+001C..U+001F, and ``str.isdigit`` counts superscripts;
Go's ``unicode.IsSpace`` and ``unicode.IsDigit`` do not, and buildkit's parser and shell lexer
are written with the Go ones.
"""

from __future__ import annotations

import re
import unicodedata

# unicode.IsSpace: the Unicode White_Space property (Go's unicode/graphic.go).
_SPACES = frozenset(
    "\t\n\v\f\r \x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009"
    "\u200a\u2028\u2029\u202f\u205f\u3000"
)

_SPACE_CHARS = "".join(sorted(_SPACES))

# buildkit's reWhitespace: the separators of whitespace-delimited arguments.
WHITESPACE = re.compile(r"[\t\v\f\r ]+")


def is_space(ch: str) -> bool:
    """Go's ``unicode.IsSpace``."""
    return ch in _SPACES


def is_letter(ch: str) -> bool:
    """Go's ``unicode.IsLetter`` (general category L*)."""
    return unicodedata.category(ch).startswith("L")


def is_digit(ch: str) -> bool:
    """Go's ``unicode.IsDigit`` (general category Nd)."""
    return unicodedata.category(ch) == "Nd"


def trim_space(text: str) -> str:
    """Go's ``strings.TrimSpace``."""
    return text.strip(_SPACE_CHARS)


def trim_left_space(text: str) -> str:
    """Go's ``strings.TrimLeftFunc(text, unicode.IsSpace)``."""
    return text.lstrip(_SPACE_CHARS)


_QUOTE_ESCAPES = {"\a": "\\a", "\b": "\\b", "\f": "\\f", "\n": "\\n", "\r": "\\r", "\t": "\\t",
                  "\v": "\\v", "\\": "\\\\", '"': '\\"'}


def go_quote(text: str) -> str:
    """Go's ``strconv.Quote``: a double-quoted string with Go escapes, used in messages."""
    out = ['"']
    for ch in text:
        if ch in _QUOTE_ESCAPES:
            out.append(_QUOTE_ESCAPES[ch])
        elif ch.isprintable():
            out.append(ch)
        elif ord(ch) < 0x80:
            out.append(f"\\x{ord(ch):02x}")
        elif ord(ch) <= 0xFFFF:
            out.append(f"\\u{ord(ch):04x}")
        else:
            out.append(f"\\U{ord(ch):08x}")
    out.append('"')
    return "".join(out)
