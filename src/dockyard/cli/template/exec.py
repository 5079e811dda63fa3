"""Executing a parsed template against Python data with Go's text/template semantics.

Data is JSON-shaped (dict, list, str, int, float, bool, None) or a :class:`Struct`, which
stands for the docker CLI's formatter contexts (``*formatter.imageContext``): a fixed set of
fields, and "can't evaluate field X in type T" for any other. A dict is a Go map: a missing
key prints ``<no value>``, or is an error with ``missingkey=error`` (how ``docker inspect``
runs templates over raw JSON). Values print as Go's ``fmt`` ``%v`` prints them.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping

from dockyard.cli.template.parser import (
    ActionNode,
    Arg,
    BranchNode,
    ChainNode,
    CommandNode,
    DotNode,
    FieldNode,
    IdentNode,
    LiteralNode,
    Node,
    PipeNode,
    Text,
    VarNode,
)

TYPE_CHECKING = False  # typing's import costs the CLI's start a few ms
if TYPE_CHECKING:
    from typing import Any


class Missing:
    """Go's invalid reflect.Value: what a missing map key yields; prints ``<no value>``."""

    _instance: Missing | None = None

    def __new__(cls) -> Missing:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __bool__(self) -> bool:
        return False


MISSING = Missing()


class GoNil:
    """A typed nil (a nil slice prints ``[]``, a nil map ``map[]``) that marshals to null."""

    __slots__ = ("text",)

    def __init__(self, text: str) -> None:
        self.text = text

    def __bool__(self) -> bool:
        return False

    def __len__(self) -> int:
        return 0


NIL_SLICE = GoNil("[]")
NIL_MAP = GoNil("map[]")


class Struct:
    """A Go struct pointer: named fields (values or zero-argument callables), a type name."""

    def __init__(self, type_name: str, fields: Mapping[str, Any], *,
                 escape_html: bool = True) -> None:
        self.type_name = type_name
        self.fields = dict(fields)
        self.escape_html = escape_html  # formatter contexts marshal with json.Marshal

    def get(self, name: str) -> Any:
        value = self.fields[name]
        return value() if callable(value) else value

    def to_json(self) -> dict[str, Any]:
        return {name: self.get(name) for name in sorted(self.fields)}


class JSONStruct(Struct):
    """A Go struct the daemon sent as JSON: fields are looked up by their Go names (``aliases``
    maps the few whose JSON key differs, e.g. ``APIVersion`` -> ``ApiVersion``), and ``json``
    writes the object as received, in its order."""

    def __init__(self, type_name: str, data: Mapping[str, Any],
                 aliases: Mapping[str, str]) -> None:
        super().__init__(type_name, data, escape_html=False)
        self.aliases = dict(aliases)

    def get(self, name: str) -> Any:
        return self.fields[self.aliases.get(name, name)]

    def to_json(self) -> dict[str, Any]:
        return dict(self.fields)


class TemplateExecError(Exception):
    """An execution error; ``str()`` is Go's text after ``template: NAME:``."""


def go_str(value: Any) -> str:
    """Go's ``fmt.Sprint`` (%v) of a template value."""
    if value is None or value is MISSING:
        return "<no value>" if value is MISSING else "<nil>"
    if isinstance(value, GoNil):
        return value.text
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return _go_float(value)
    if isinstance(value, list | tuple):
        return "[" + " ".join(go_str(v) for v in value) + "]"
    if isinstance(value, dict):
        return "map[" + " ".join(f"{go_str(k)}:{go_str(value[k])}" for k in sorted(value)) + "]"
    if isinstance(value, Struct):
        return "{" + " ".join(go_str(v) for v in value.to_json().values()) + "}"
    return str(value)


def _go_float(value: float) -> str:
    if value == int(value) and abs(value) < 1e21:
        return str(int(value))
    text = repr(value)
    if "e" in text:
        mantissa, exp = text.split("e")
        sign = exp[0] if exp[0] in "+-" else "+"
        digits = exp.lstrip("+-").rjust(2, "0")
        text = f"{mantissa}e{sign}{digits}"
    return text


def go_json(value: Any) -> str:
    """The ``json`` template function: json.Encoder with HTML escaping off, no newline."""
    def default(obj: Any) -> Any:
        if isinstance(obj, Struct):
            return obj.to_json()
        if obj is MISSING or isinstance(obj, GoNil):
            return None
        raise TypeError(f"cannot marshal {type(obj).__name__}")

    text = json.dumps(value, ensure_ascii=False, separators=(",", ":"), default=default)
    text = text.replace("\u2028", "\\u2028").replace("\u2029", "\\u2029")
    if isinstance(value, Struct) and value.escape_html:
        text = text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
    return text


def truth(value: Any) -> bool:
    """Go's template truth: false, 0, "", nil and empty collections are false."""
    if value is None or value is MISSING or isinstance(value, GoNil):
        return False
    if isinstance(value, Struct):
        return True
    return bool(value)


class State:
    def __init__(self, name: str, text: str, funcs: Mapping[str, Callable[..., Any]],
                 missing_error: bool) -> None:
        self.name = name
        self.text = text
        self.funcs = funcs
        self.missing_error = missing_error
        self.out: list[str] = []
        self.vars: list[tuple[str, Any]] = []

    def error(self, node: Arg | CommandNode | PipeNode, message: str) -> TemplateExecError:
        pos = node.pos
        line = 1 + self.text.count("\n", 0, pos)
        col = pos - (self.text.rfind("\n", 0, pos) + 1)
        return TemplateExecError(
            f'{self.name}:{line}:{col}: executing "{self.name}" at <{node.text}>: {message}')

    def lookup_var(self, name: str) -> Any:
        for var, value in reversed(self.vars):
            if var == name:
                return value
        return MISSING

    def walk(self, dot: Any, nodes: list[Node]) -> None:
        for node in nodes:
            if isinstance(node, Text):
                self.out.append(node.text)
            elif isinstance(node, ActionNode):
                value = self.pipe(dot, node.pipe)
                if not node.pipe.decl:
                    self.out.append(go_str(value))
            else:
                self.branch(dot, node)

    def branch(self, dot: Any, node: BranchNode) -> None:
        depth = len(self.vars)
        if node.kind == "range":
            self.range(dot, node)
        else:
            value = self.pipe(dot, node.pipe)
            if truth(value):
                self.walk(value if node.kind == "with" else dot, node.body)
            else:
                self.walk(dot, node.orelse)
        del self.vars[depth:]

    def range(self, dot: Any, node: BranchNode) -> None:
        decl, node.pipe.decl = node.pipe.decl, []
        try:
            value = self.pipe(dot, node.pipe)
        finally:
            node.pipe.decl = decl
        if isinstance(value, dict):
            items: list[tuple[Any, Any]] = [(k, value[k]) for k in sorted(value)]
        elif isinstance(value, list | tuple):
            items = list(enumerate(value))
        elif isinstance(value, int) and not isinstance(value, bool):
            items = [(i, i) for i in range(value)]
        elif value is None or value is MISSING or isinstance(value, GoNil):
            items = []
        else:
            raise self.error(node.pipe, f"range can't iterate over {go_str(value)}")
        if not items:
            self.walk(dot, node.orelse)
            return
        depth = len(self.vars)
        for key, elem in items:
            if len(decl) == 1:
                self.vars.append((decl[0], elem))
            elif len(decl) == 2:
                self.vars += [(decl[0], key), (decl[1], elem)]
            self.walk(elem, node.body)
            del self.vars[depth:]

    def pipe(self, dot: Any, pipe: PipeNode) -> Any:
        value: Any = MISSING
        first = True
        for cmd in pipe.cmds:
            value = self.command(dot, cmd, None if first else (value,))
            first = False
        for name in pipe.decl:
            self.vars.append((name, value))
        return value

    def command(self, dot: Any, cmd: CommandNode, final: tuple[Any] | None) -> Any:
        head = cmd.args[0]
        if isinstance(head, IdentNode):
            args = [self.arg(dot, a) for a in cmd.args[1:]]
            if final is not None:
                args.append(final[0])
            try:
                return self.funcs[head.name](*args)
            except TemplateExecError:
                raise
            except (TypeError, ValueError, IndexError, KeyError) as exc:
                raise self.error(cmd, f"error calling {head.name}: {exc}") from exc
        if len(cmd.args) > 1 or final is not None:
            raise self.error(head, f"can't give argument to non-function {head.text}")
        return self.arg(dot, head)

    def arg(self, dot: Any, node: Arg) -> Any:
        if isinstance(node, FieldNode):
            return self.fields(node, dot, node.names)
        if isinstance(node, VarNode):
            return self.fields(node, self.lookup_var(node.name), node.names)
        if isinstance(node, DotNode):
            return dot
        if isinstance(node, LiteralNode):
            return node.value
        if isinstance(node, PipeNode):
            return self.pipe(dot, node)
        if isinstance(node, ChainNode):
            return self.fields(node, self.pipe(dot, node.node), node.names)
        return self.funcs[node.name]()

    def fields(self, node: Arg, value: Any, names: tuple[str, ...]) -> Any:
        for name in names:
            value = self.field(node, value, name)
        return value

    def field(self, node: Arg, value: Any, name: str) -> Any:
        if isinstance(value, Struct):
            try:
                return value.get(name)
            except KeyError:
                raise self.error(node, f"can't evaluate field {name} in type "
                                       f"{value.type_name}") from None
        if isinstance(value, dict):
            if name in value:
                return value[name]
            if self.missing_error:
                raise self.error(node, f'map has no entry for key "{name}"')
            return MISSING
        if isinstance(value, GoNil) and value is NIL_MAP:
            return MISSING
        if value is None or value is MISSING:
            raise self.error(node, f"nil pointer evaluating interface {{}}.{name}")
        raise self.error(node, f"can't evaluate field {name} in type {_go_type(value)}")


def _go_type(value: Any) -> str:
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, str):
        return "string"
    if isinstance(value, int):
        return "int"
    if isinstance(value, float):
        return "float64"
    if isinstance(value, list | tuple):
        return "[]interface {}"
    return "interface {}"
