"""Strict JSON in, Go-compatible JSON out, for the OCI and Docker documents.

Reading is strict where Go's ``encoding/json`` is loose in ways that hurt content-addressed data:
the bytes must be UTF-8, ``NaN``/``Infinity`` are refused, and a key may appear only once in an
object (two parsers that keep different duplicates would disagree on what a digest names).

Writing matches ``json.Marshal`` byte for byte for the values these documents hold: compact
separators, UTF-8 text, and ``<``, ``>``, ``&``, U+2028 and U+2029 escaped as Go escapes them, so
a document dockyard builds reads the same to every tool that hashes it.

:class:`Fields` walks one decoded object, checking each known field's type and naming the
document and the field's path in every error (``invalid image manifest: layers[1].size: ...``);
what it does not take is left over as ``extra`` so unknown fields survive a re-encode.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from types import MappingProxyType
from typing import TypeVar

from dockyard.errors import InvalidArgument

JSON = None | bool | int | float | str | list["JSON"] | dict[str, "JSON"]
"""A decoded JSON value."""

T = TypeVar("T")

_INT64_MAX = 2**63 - 1
_GO_ESCAPES = {"<": "\\u003c", ">": "\\u003e", "&": "\\u0026", "\u2028": "\\u2028",
               "\u2029": "\\u2029"}
_GO_ESCAPE_TABLE = str.maketrans(_GO_ESCAPES)


def _pairs(what: str) -> Callable[[list[tuple[str, JSON]]], dict[str, JSON]]:
    def hook(pairs: list[tuple[str, JSON]]) -> dict[str, JSON]:
        out: dict[str, JSON] = {}
        for key, value in pairs:
            if key in out:
                raise InvalidArgument(f"invalid {what}: duplicate key {key!r}")
            out[key] = value
        return out

    return hook


def _no_constant(name: str) -> JSON:
    raise ValueError(f"{name} is not JSON")


def decode_object(data: bytes, what: str) -> dict[str, JSON]:
    """Decode ``data`` as one JSON object; ``what`` names the document in errors."""
    try:
        text = data.decode("utf-8")
        value: JSON = json.loads(
            text, object_pairs_hook=_pairs(what), parse_constant=_no_constant
        )
    except UnicodeDecodeError as exc:
        raise InvalidArgument(f"invalid {what}: not UTF-8 at byte {exc.start}") from exc
    except ValueError as exc:  # JSONDecodeError is a ValueError
        raise InvalidArgument(f"invalid {what}: {exc}") from exc
    except RecursionError as exc:
        raise InvalidArgument(f"invalid {what}: nested too deeply") from exc
    if not isinstance(value, dict):
        raise InvalidArgument(f"invalid {what}: want a JSON object, got {type_name(value)}")
    return value


def encode(value: JSON | Mapping[str, JSON]) -> bytes:
    """Encode like Go's ``json.Marshal`` (compact, HTML-safe escapes, UTF-8)."""
    text = json.dumps(value, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
    # <, >, & and the two line separators occur only inside strings, so a plain
    # translation is exact. Lone surrogates (from a "\ud800" escape) stay escapes.
    return text.translate(_GO_ESCAPE_TABLE).encode("utf-8", "backslashreplace")


def type_name(value: object) -> str:
    """The JSON name of a decoded value's type, for error messages."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return "object"


def frozen_mapping(value: Mapping[str, T]) -> Mapping[str, T]:
    """A read-only copy, so a frozen dataclass holding it stays unchanged."""
    return MappingProxyType(dict(value))


def check_extra(what: str, extra: Mapping[str, JSON], known: frozenset[str]) -> None:
    """Refuse ``extra`` fields that a document's known fields would write over."""
    clash = sorted(set(extra) & known)
    if clash:
        raise InvalidArgument(f"invalid {what}: extra fields {clash} are known fields")


class Fields:
    """Typed access to one decoded object's fields; unknown fields remain in :meth:`rest`."""

    def __init__(self, obj: dict[str, JSON], what: str, path: str = "") -> None:
        self._obj = dict(obj)
        self.what = what
        self.path = path

    def error(self, key: str, problem: str) -> InvalidArgument:
        where = f"{self.path}.{key}" if self.path else key
        return InvalidArgument(f"invalid {self.what}: {where}: {problem}")

    def _want(self, key: str, kind: str, value: JSON) -> InvalidArgument:
        return self.error(key, f"want {kind}, got {type_name(value)}")

    def has(self, key: str) -> bool:
        return self._obj.get(key) is not None

    def take(self, key: str) -> JSON:
        """The raw value (None when absent or null), removed from the leftovers."""
        return self._obj.pop(key, None)

    def require(self, key: str) -> JSON:
        if self._obj.get(key) is None:
            raise self.error(key, "missing")
        return self._obj.pop(key)

    def string(self, key: str, default: str = "", *, required: bool = False) -> str:
        value = self.require(key) if required else self.take(key)
        if value is None:
            return default
        if not isinstance(value, str):
            raise self._want(key, "string", value)
        return value

    def optional_string(self, key: str) -> str | None:
        value = self.take(key)
        if value is not None and not isinstance(value, str):
            raise self._want(key, "string", value)
        return value

    def integer(self, key: str, default: int = 0, *, required: bool = False,
                minimum: int | None = None) -> int:
        value = self.require(key) if required else self.take(key)
        if value is None:
            return default
        if isinstance(value, bool) or not isinstance(value, int):
            raise self._want(key, "integer", value)
        if not -_INT64_MAX - 1 <= value <= _INT64_MAX:
            raise self.error(key, f"{value} does not fit in 64 bits")
        if minimum is not None and value < minimum:
            raise self.error(key, f"{value} is less than {minimum}")
        return value

    def boolean(self, key: str) -> bool:
        value = self.take(key)
        if value is None:
            return False
        if not isinstance(value, bool):
            raise self._want(key, "boolean", value)
        return value

    def strings(self, key: str) -> tuple[str, ...] | None:
        """An array of strings; None when absent or null."""
        value = self.take(key)
        if value is None:
            return None
        if not isinstance(value, list):
            raise self._want(key, "array of strings", value)
        for index, item in enumerate(value):
            if not isinstance(item, str):
                raise self._want(f"{key}[{index}]", "string", item)
        return tuple(str(item) for item in value)

    def string_map(self, key: str) -> dict[str, str]:
        value = self.take(key)
        if value is None:
            return {}
        if not isinstance(value, dict):
            raise self._want(key, "object of strings", value)
        for name, item in value.items():
            if not isinstance(item, str):
                raise self._want(f"{key}[{name!r}]", "string", item)
        return {name: str(item) for name, item in value.items()}

    def set_keys(self, key: str) -> tuple[str, ...]:
        """A Go ``map[string]struct{}`` (ExposedPorts, Volumes): the keys, sorted."""
        value = self.take(key)
        if value is None:
            return ()
        if not isinstance(value, dict):
            raise self._want(key, "object", value)
        for name, item in value.items():
            if not isinstance(item, dict):
                raise self._want(f"{key}[{name!r}]", "object", item)
        return tuple(sorted(value))

    def nested(self, key: str) -> Fields | None:
        """An optional object; None when absent or null."""
        if not self.has(key):
            self.take(key)  # a null counts as absent
            return None
        return self.required_nested(key)

    def required_nested(self, key: str) -> Fields:
        value = self.require(key)
        if not isinstance(value, dict):
            raise self._want(key, "object", value)
        return Fields(value, self.what, self.child(key))

    def objects(self, key: str, *, required: bool = False) -> list[Fields]:
        value = self.require(key) if required else self.take(key)
        if value is None:
            return []
        if not isinstance(value, list):
            raise self._want(key, "array", value)
        out = []
        for index, item in enumerate(value):
            if not isinstance(item, dict):
                raise self._want(f"{key}[{index}]", "object", item)
            out.append(Fields(item, self.what, self.child(f"{key}[{index}]")))
        return out

    def child(self, key: str) -> str:
        return f"{self.path}.{key}" if self.path else key

    def rest(self) -> dict[str, JSON]:
        """The fields nobody took, in their original order."""
        return dict(self._obj)
