"""JSON for the client's requests and answers without the ``json`` package's start-up cost.

``import json`` pulls in ``re`` (about 2 ms of a 30 ms ``dockyard run`` on this machine): the
package's Python layer compiles patterns that its C accelerator, which does the work, never
uses. This module drives the accelerator (``_json``) directly and gives what ``json.loads``
and ``json.dumps(value, separators=(",", ":"))`` give: the same values, the same text, and a
ValueError for bad input with json's wording (a string the scanner rejects raises json's own
JSONDecodeError, also a ValueError, and only then imports the json package). The runtime has
a stricter reader and a Go-like writer of its own (``runtime/jsontext.py``); the client's
requests and the daemon's answers are what the ``json`` package reads and writes.
"""

from __future__ import annotations

import _json

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

_WHITESPACE = " \t\n\r"
_CONSTANTS = {"NaN": float("nan"), "Infinity": float("inf"), "-Infinity": float("-inf")}


class _Decoder:
    """The attributes ``_json.make_scanner`` reads from a decoder (json's defaults)."""

    strict = True
    object_hook = None
    object_pairs_hook = None
    parse_float = float
    parse_int = int
    parse_constant = staticmethod(_CONSTANTS.__getitem__)


_scan = _json.make_scanner(_Decoder())  # type: ignore[arg-type]  # (typeshed: a decoder)


def _error(message: str, text: str, pos: int) -> ValueError:
    line = text.count("\n", 0, pos) + 1
    column = pos - text.rfind("\n", 0, pos)
    return ValueError(f"{message}: line {line} column {column} (char {pos})")


def loads(data: str | bytes | bytearray) -> Any:
    """The value of a JSON text (bytes are UTF-8, as the Engine API sends them)."""
    text = data.decode() if isinstance(data, bytes | bytearray) else data
    start = len(text) - len(text.lstrip(_WHITESPACE))
    try:
        value, end = _scan(text, start)
    except StopIteration as exc:
        raise _error("Expecting value", text, exc.value) from None
    if end != len(text.rstrip(_WHITESPACE)):
        after = text[end:]
        raise _error("Extra data", text, end + len(after) - len(after.lstrip(_WHITESPACE)))
    return value


def _unknown(value: object) -> object:
    raise TypeError(f"Object of type {type(value).__name__} is not JSON serializable")


def dumps(value: object, *, ensure_ascii: bool = True) -> str:
    """Compact JSON text: ``json.dumps(value, separators=(",", ":"))``."""
    escape = _json.encode_basestring_ascii if ensure_ascii else _json.encode_basestring
    encode = _json.make_encoder({}, _unknown, escape, None, ":", ",", False, False, True)
    return "".join(encode(value, 0))
