"""The parse tree of a Go text/template: text, actions, if/range/with with else chains.

Nodes keep the byte offset of the token Go reports in errors (a field chain ``.A.B`` is placed
at its second part, as Go's parser does), and ``text`` for the ``<...>`` of an error context.
"""

from __future__ import annotations

from dockyard.cli.template.lexer import KEYWORDS, TemplateSyntaxError, Token, lex


class Text:
    __slots__ = ("text",)

    def __init__(self, text: str) -> None:
        self.text = text


class FieldNode:
    __slots__ = ("names", "pos", "text")

    def __init__(self, names: tuple[str, ...], pos: int, text: str) -> None:
        self.names = names
        self.pos = pos
        self.text = text


class VarNode:
    __slots__ = ("name", "names", "pos", "text")

    def __init__(self, name: str, names: tuple[str, ...], pos: int, text: str) -> None:
        self.name = name
        self.names = names
        self.pos = pos
        self.text = text


class DotNode:
    __slots__ = ("pos", "text")

    def __init__(self, pos: int, text: str = ".") -> None:
        self.pos = pos
        self.text = text


class IdentNode:
    __slots__ = ("name", "pos", "text")

    def __init__(self, name: str, pos: int, text: str) -> None:
        self.name = name
        self.pos = pos
        self.text = text


class LiteralNode:
    __slots__ = ("pos", "text", "value")

    def __init__(self, value: object, pos: int, text: str) -> None:
        self.value = value
        self.pos = pos
        self.text = text


class ChainNode:
    __slots__ = ("names", "node", "pos", "text")

    def __init__(self, node: PipeNode, names: tuple[str, ...], pos: int, text: str) -> None:
        self.node = node
        self.names = names
        self.pos = pos
        self.text = text


class CommandNode:
    __slots__ = ("args", "pos", "text")

    def __init__(self, args: list[Arg], pos: int, text: str) -> None:
        self.args = args
        self.pos = pos
        self.text = text


class PipeNode:
    __slots__ = ("cmds", "decl", "pos", "text")

    def __init__(self, decl: list[str], cmds: list[CommandNode], pos: int, text: str) -> None:
        self.decl = decl
        self.cmds = cmds
        self.pos = pos
        self.text = text


class ActionNode:
    __slots__ = ("pipe", "pos")

    def __init__(self, pipe: PipeNode, pos: int) -> None:
        self.pipe = pipe
        self.pos = pos


class BranchNode:
    __slots__ = ("body", "kind", "orelse", "pipe")

    def __init__(self, kind: str, pipe: PipeNode, body: list[Node],
                 orelse: list[Node] | None = None) -> None:
        self.kind = kind
        self.pipe = pipe
        self.body = body
        self.orelse = orelse if orelse is not None else []


Arg = FieldNode | VarNode | DotNode | IdentNode | LiteralNode | ChainNode | PipeNode
Node = Text | ActionNode | BranchNode


def _unquote(tok: Token) -> object:
    import json

    if tok.kind == "rawstring":
        return tok.value[1:-1]
    if tok.kind == "char":
        inner = tok.value[1:-1]
        return ord(json.loads('"' + inner.replace('\\\'', "'") + '"'))
    try:
        return json.loads(tok.value.replace("\\'", "'").replace("\\a", "\\u0007")
                          .replace("\\v", "\\u000b"))
    except ValueError as exc:
        raise TemplateSyntaxError(tok.line, f"bad string syntax: {tok.value}") from exc


def _number(tok: Token) -> object:
    text = tok.value.replace("_", "")
    try:
        return int(text, 0)
    except ValueError:
        pass
    try:
        return float(text)
    except ValueError as exc:
        raise TemplateSyntaxError(tok.line, f'bad number syntax: "{tok.value}"') from exc


class Parser:
    def __init__(self, text: str, funcs: frozenset[str]) -> None:
        self.text = text
        self.tokens = lex(text)
        self.i = 0
        self.funcs = funcs
        self.vars: list[str] = ["$"]

    def peek(self, offset: int = 0) -> Token:
        return self.tokens[min(self.i + offset, len(self.tokens) - 1)]

    def next(self) -> Token:
        tok = self.peek()
        self.i += 1
        return tok

    def error(self, tok: Token, message: str) -> TemplateSyntaxError:
        return TemplateSyntaxError(tok.line, message)

    def parse(self) -> list[Node]:
        nodes, end = self.list_until(frozenset())
        if end is not None:
            raise self.error(end, f"unexpected {{{{{end.value}}}}}")
        return nodes

    def list_until(self, stops: frozenset[str]) -> tuple[list[Node], Token | None]:
        """Nodes up to one of the keywords in ``stops`` (returned, its ``{{`` consumed)."""
        nodes: list[Node] = []
        while True:
            tok = self.next()
            if tok.kind == "eof":
                if stops:
                    raise self.error(tok, "unexpected EOF")
                return nodes, None
            if tok.kind == "text":
                nodes.append(Text(tok.value))
                continue
            key = self.peek()
            if key.kind == "ident" and key.value in ("end", "else"):
                if key.value not in stops:
                    raise self.error(key, f"unexpected {{{{{key.value}}}}}")
                self.next()
                return nodes, key
            if key.kind == "ident" and key.value in ("if", "range", "with"):
                self.next()
                nodes.append(self.branch(key.value))
                continue
            if key.kind == "ident" and key.value in KEYWORDS:
                raise self.error(key, f"{{{{{key.value}}}}} is not supported by dockyard")
            pipe = self.pipeline("command", allow_decl=True)
            nodes.append(ActionNode(pipe, pipe.pos))

    def branch(self, kind: str) -> BranchNode:
        depth = len(self.vars)
        pipe = self.pipeline(kind, allow_decl=True)
        body, end = self.list_until(frozenset({"end", "else"}))
        node = BranchNode(kind, pipe, body)
        assert end is not None
        if end.value == "else":
            nxt = self.peek()
            if nxt.kind == "ident" and nxt.value in ("if", "with") and kind != "range":
                self.next()
                node.orelse = [self.branch(nxt.value)]  # {{else if}} closes with one {{end}}
            else:
                self.expect_close("else")
                node.orelse, end = self.list_until(frozenset({"end"}))
                self.expect_close("end")
        else:
            self.expect_close("end")
        del self.vars[depth:]
        return node

    def expect_close(self, context: str) -> None:
        tok = self.next()
        if tok.kind != "close":
            raise self.error(tok, f"unexpected {self.describe(tok)} in {context}")

    @staticmethod
    def describe(tok: Token) -> str:
        if tok.kind == "eof":
            return "EOF"
        return f'"{tok.value}"' if tok.kind != "close" else "}}"

    def pipeline(self, context: str, allow_decl: bool) -> PipeNode:
        start = self.peek()
        decl: list[str] = []
        if allow_decl and start.kind == "var":
            decl = self.declarations()
        cmds: list[CommandNode] = []
        while True:
            tok = self.peek()
            if tok.kind in ("close", "rparen"):
                if tok.kind == "close":
                    self.next()
                elif context != "parenthesized pipeline":
                    raise self.error(tok, "unexpected right paren")
                if not cmds:
                    raise self.error(tok, f"missing value for {context}")
                end = tok.pos
                text = self.text[start.pos:end].strip()
                return PipeNode(decl, cmds, start.pos, text)
            if tok.kind == "eof":
                raise self.error(tok, "unclosed action")
            cmds.append(self.command())
            if self.peek().kind == "pipe":
                self.next()

    def declarations(self) -> list[str]:
        save = self.i
        names = [self.next().value]
        if self.peek().kind == "comma":
            self.next()
            if self.peek().kind != "var":
                raise self.error(self.peek(), "expected variable after comma")
            names.append(self.next().value)
        if self.peek().kind in ("declare", "assign"):
            self.next()
            self.vars.extend(names)
            return names
        self.i = save
        return []

    def command(self) -> CommandNode:
        start = self.peek()
        args: list[Arg] = []
        while True:
            tok = self.peek()
            if tok.kind in ("close", "rparen", "pipe", "eof"):
                break
            args.append(self.operand())
        if not args:
            raise self.error(start, "missing value for command")
        end = self.peek().pos
        return CommandNode(args, start.pos, self.text[start.pos:end].strip())

    def operand(self) -> Arg:
        tok = self.next()
        node: Arg
        if tok.kind == "field":
            node = FieldNode((tok.value[1:],), tok.pos, tok.value)
        elif tok.kind == "var":
            if tok.value not in self.vars:
                raise self.error(tok, f'undefined variable "{tok.value}"')
            node = VarNode(tok.value, (), tok.pos, tok.value)
        elif tok.kind == "dot":
            node = DotNode(tok.pos)
        elif tok.kind == "ident":
            if tok.value not in self.funcs:
                raise self.error(tok, f'function "{tok.value}" not defined')
            node = IdentNode(tok.value, tok.pos, tok.value)
        elif tok.kind in ("string", "rawstring", "char"):
            node = LiteralNode(_unquote(tok), tok.pos, tok.value)
        elif tok.kind == "number":
            node = LiteralNode(_number(tok), tok.pos, tok.value)
        elif tok.kind == "bool":
            node = LiteralNode(tok.value == "true", tok.pos, tok.value)
        elif tok.kind == "nil":
            node = LiteralNode(None, tok.pos, "nil")
        elif tok.kind == "lparen":
            inner = self.pipeline("parenthesized pipeline", allow_decl=False)
            close = self.next()
            inner.text = self.text[tok.pos:close.pos + 1]
            node = inner
        else:
            raise self.error(tok, f"unexpected {self.describe(tok)} in operand")
        return self.chain(node)

    def _adjacent_field(self) -> bool:
        prev, tok = self.tokens[self.i - 1], self.peek()
        return tok.kind == "field" and tok.pos == prev.pos + len(prev.value)

    def chain(self, node: Arg) -> Arg:
        if not self._adjacent_field():
            return node
        pos = self.peek().pos
        names: list[str] = []
        while self._adjacent_field():
            names.append(self.next().value[1:])
        suffix = "".join("." + n for n in names)
        if isinstance(node, FieldNode):
            return FieldNode(node.names + tuple(names), pos, node.text + suffix)
        if isinstance(node, VarNode):
            return VarNode(node.name, tuple(names), pos, node.text + suffix)
        if isinstance(node, PipeNode):
            return ChainNode(node, tuple(names), pos, node.text + suffix)
        raise TemplateSyntaxError(1 + self.text.count("\n", 0, pos),
                                  f"unexpected . after term {node.text!r}")


def parse(text: str, funcs: frozenset[str]) -> list[Node]:
    return Parser(text, funcs).parse()
