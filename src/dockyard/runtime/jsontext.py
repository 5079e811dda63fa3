"""JSON text in and out for the runtime, without the ``json`` package's start-up cost.

``import json`` pulls in ``re`` (about 4 ms, an eighth of the one-shot ``run`` budget), so the
runtime reads JSON with the C scanner behind it (``_json.make_scanner``) and writes it with a
small encoder of its own. Reading is strict: UTF-8 only, no NaN or Infinity, no duplicate key
(two readers keeping different duplicates would disagree on what a config says). Writing
matches Go's ``encoding/json`` for the values the runtime writes (strings, integers, booleans,
null, lists and string-keyed mappings): ``<``, ``>``, ``&``, U+2028 and U+2029 are escaped as Go
escapes them, and ``indent`` gives ``json.MarshalIndent(v, "", indent)``, which is how runc
prints ``state``.
"""

from __future__ import annotations

from _json import make_scanner

from dockyard.errors import InvalidArgument

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence

    JSON = None | bool | int | float | str | list["JSON"] | dict[str, "JSON"]
    """A decoded JSON value."""

_WHITESPACE = " \t\n\r"
_GO_ESCAPES = {'"': '\\"', "\\": "\\\\", "\n": "\\n", "\r": "\\r", "\t": "\\t",
               "<": "\\u003c", ">": "\\u003e", "&": "\\u0026",
               "\u2028": "\\u2028", "\u2029": "\\u2029"}
for _code in range(0x20):
    _GO_ESCAPES.setdefault(chr(_code), f"\\u{_code:04x}")
_GO_TABLE = str.maketrans(_GO_ESCAPES)
_PLAIN_TABLE = str.maketrans({k: v for k, v in _GO_ESCAPES.items() if k not in "<>&"})


def _refuse_constant(name: str) -> object:
    raise ValueError(f"{name} is not JSON")


class _Context:
    """The attributes ``_json.make_scanner`` reads from a decoder."""

    strict = True
    object_hook = None
    parse_float = float
    parse_int = int
    parse_constant = staticmethod(_refuse_constant)

    def __init__(self, what: str) -> None:
        def pairs(items: list[tuple[str, JSON]]) -> dict[str, JSON]:
            out: dict[str, JSON] = {}
            for key, value in items:
                if key in out:
                    raise ValueError(f"{what}: duplicate key {key!r}")
                out[key] = value
            return out

        self.object_pairs_hook = pairs


def loads(data: bytes, what: str) -> JSON:
    """Decode one JSON document; ``what`` names it in errors (``config.json: ...``)."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InvalidArgument(f"{what}: not UTF-8 at byte {exc.start}") from exc
    start = len(text) - len(text.lstrip(_WHITESPACE))
    scan = make_scanner(_Context(what))  # type: ignore[arg-type]
    try:
        try:
            value, end = scan(text, start)
        except SystemError:
            # The C scanner raises its syntax errors through json.decoder.JSONDecodeError and
            # fails like this when that module is not imported: import it (errors only), retry.
            import json.decoder  # noqa: F401

            value, end = scan(text, start)
    except StopIteration as exc:
        raise InvalidArgument(f"{what}: invalid JSON at offset {exc.value}") from exc
    except RecursionError as exc:
        raise InvalidArgument(f"{what}: nested too deeply") from exc
    except ValueError as exc:  # JSONDecodeError is a ValueError; so are our own refusals
        message = str(exc)
        raise InvalidArgument(message if message.startswith(what) else f"{what}: {message}") \
            from exc
    if text[end:].strip(_WHITESPACE):
        raise InvalidArgument(f"{what}: extra data after the JSON value at offset {end}")
    return value  # type: ignore[no-any-return]


def quote(text: str, *, html: bool = True) -> str:
    """A JSON string literal as Go writes it (``html=False``: without the <, >, & escapes)."""
    return '"' + text.translate(_GO_TABLE if html else _PLAIN_TABLE) + '"'


def dumps(value: object, indent: str = "") -> str:
    """Encode like Go's ``json.Marshal`` (``indent=""``) or ``json.MarshalIndent``."""
    out: list[str] = []
    _encode(value, indent, "\n", out)
    return "".join(out)


def _encode(value: object, indent: str, newline: str, out: list[str]) -> None:
    if value is None:
        out.append("null")
    elif value is True:
        out.append("true")
    elif value is False:
        out.append("false")
    elif isinstance(value, int):
        out.append(str(int(value)))
    elif isinstance(value, str):
        out.append(quote(value))
    elif isinstance(value, list | tuple):
        _encode_items(value, indent, newline, out)
    elif hasattr(value, "items"):
        _encode_mapping(value, indent, newline, out)  # type: ignore[arg-type]
    else:
        raise TypeError(f"cannot encode a {type(value).__name__} as JSON")


def _encode_items(items: Sequence[object], indent: str, newline: str, out: list[str]) -> None:
    if not items:
        out.append("[]")
        return
    inner = newline + indent if indent else ""
    out.append("[")
    for index, item in enumerate(items):
        if index:
            out.append(",")
        out.append(inner)
        _encode(item, indent, inner or newline, out)
    out.append((newline if indent else "") + "]")


def _encode_mapping(
    mapping: Mapping[str, object], indent: str, newline: str, out: list[str]
) -> None:
    if not mapping:
        out.append("{}")
        return
    inner = newline + indent if indent else ""
    separator = ": " if indent else ":"
    out.append("{")
    for index, (key, item) in enumerate(mapping.items()):
        if index:
            out.append(",")
        out.append(inner + quote(key) + separator)
        _encode(item, indent, inner or newline, out)
    out.append((newline if indent else "") + "}")
