"""Go text/template, the subset used with docker's ``--format``: parse once, execute per row.

Functions are Go's builtins (and, or, not, len, index, print, printf, println, eq, ne, lt, le,
gt, ge, slice) plus the docker CLI's (json, join, split, title, lower, upper, pad, truncate;
templates/templates.go). Errors read as Go's: ``template: :1: unclosed action`` when parsing,
``template: :1:2: executing "" at <.Foo>: ...`` when executing.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

from dockyard.cli.template.exec import (
    MISSING,
    NIL_MAP,
    NIL_SLICE,
    GoNil,
    State,
    Struct,
    TemplateExecError,
    go_json,
    go_str,
    truth,
)
from dockyard.cli.template.lexer import TemplateSyntaxError
from dockyard.cli.template.parser import Node, parse
from dockyard.cli.template.printf import sprintf

TYPE_CHECKING = False  # typing's import costs the CLI's start a few ms
if TYPE_CHECKING:
    from typing import Any

__all__ = ["HEADER_FUNCS", "MISSING", "NIL_MAP", "NIL_SLICE", "GoNil", "Struct", "Template",
           "TemplateError", "go_json", "go_str"]


class TemplateError(Exception):
    """A template that does not parse or fails to execute; ``str()`` is Go's whole text."""


def _and(*args: Any) -> Any:
    for arg in args:
        if not truth(arg):
            return arg
    return args[-1]


def _or(*args: Any) -> Any:
    for arg in args:
        if truth(arg):
            return arg
    return args[-1]


def _comparable(value: Any) -> Any:
    return None if value is MISSING else value


def _eq(first: Any, *others: Any) -> bool:
    if not others:
        raise ValueError("missing argument for comparison")
    return any(_comparable(first) == _comparable(o) for o in others)


def _ordered(op: Callable[[Any, Any], bool]) -> Callable[[Any, Any], bool]:
    def compare(a: Any, b: Any) -> bool:
        if type(a) is not type(b) and not (isinstance(a, int | float)
                                           and isinstance(b, int | float)):
            raise ValueError("incompatible types for comparison")
        return op(a, b)
    return compare


def _len(value: Any) -> int:
    if isinstance(value, str | list | tuple | dict):
        return len(value.encode() if isinstance(value, str) else value)
    raise ValueError(f"len of type {type(value).__name__}")


def _index(value: Any, *keys: Any) -> Any:
    for key in keys:
        if value is NIL_MAP:
            return ""
        if isinstance(value, dict):
            if key not in value:  # a map[string]string gives "", a generic map no value
                return "" if all(isinstance(v, str) for v in value.values()) else MISSING
            value = value[key]
        elif isinstance(value, list | tuple | str):
            if not isinstance(key, int) or not 0 <= key < len(value):
                raise IndexError(f"index out of range: {key}")
            value = value[key]
        else:
            raise ValueError(f"can't index item of type {type(value).__name__}")
    return value


def _slice(value: Any, *bounds: int) -> Any:
    if not isinstance(value, str | list | tuple):
        raise ValueError(f"can't slice item of type {type(value).__name__}")
    return value[slice(*bounds)] if bounds else value


def _print(*args: Any) -> str:
    out = ""
    for i, arg in enumerate(args):
        if i and not isinstance(arg, str) and not isinstance(args[i - 1], str):
            out += " "
        out += go_str(arg)
    return out


def _title(text: str) -> str:
    out, prev = [], " "
    for ch in text:
        out.append(ch.upper() if not (prev.isalnum() or prev in "_'") else ch)
        prev = ch
    return "".join(out)


def _truncate(text: str, length: int) -> str:
    data = text.encode()
    return text if len(data) < length else data[:length].decode("utf-8", "replace")


def _pad(text: str, prefix: int, suffix: int) -> str:
    return text if not text else " " * prefix + text + " " * suffix


BUILTINS: dict[str, Callable[..., Any]] = {
    "and": _and, "or": _or, "not": lambda v: not truth(v), "len": _len, "index": _index,
    "slice": _slice, "print": _print, "printf": sprintf,
    "println": lambda *a: " ".join(go_str(v) for v in a) + "\n",
    "eq": _eq, "ne": lambda a, b: not _eq(a, b),
    "lt": _ordered(lambda a, b: a < b), "le": _ordered(lambda a, b: a <= b),
    "gt": _ordered(lambda a, b: a > b), "ge": _ordered(lambda a, b: a >= b),
    "json": go_json, "split": lambda s, sep: s.split(sep) if sep else list(s),
    "join": lambda items, sep: sep.join(go_str(i) for i in items),
    "title": _title, "lower": lambda s: s.lower(), "upper": lambda s: s.upper(),
    "pad": _pad, "truncate": _truncate,
}


def _identity(value: Any, *_: Any) -> Any:
    return value


# Header rows run the template over the header names; these leave a name as it is.
HEADER_FUNCS: dict[str, Callable[..., Any]] = {
    name: _identity for name in ("json", "split", "join", "title", "lower", "upper", "truncate")
}


class Template:
    """A parsed template; ``execute`` renders it against one value."""

    def __init__(self, text: str, *, name: str = "",
                 funcs: Mapping[str, Callable[..., Any]] | None = None) -> None:
        self.text = text
        self.name = name
        self.funcs = {**BUILTINS, **(funcs or {})}
        try:
            self.nodes: list[Node] = parse(text, frozenset(self.funcs))
        except TemplateSyntaxError as exc:
            raise TemplateError(f"template: {name}:{exc.line}: {exc.message}") from exc

    def execute(self, data: Any, *, missing_error: bool = False,
                funcs: Mapping[str, Callable[..., Any]] | None = None) -> str:
        state = State(self.name, self.text, {**self.funcs, **(funcs or {})}, missing_error)
        state.vars.append(("$", data))
        try:
            state.walk(data, self.nodes)
        except TemplateExecError as exc:
            raise TemplateError(f"template: {exc}") from exc
        return "".join(state.out)
