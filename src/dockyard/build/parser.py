"""A Dockerfile's text to a list of nodes, one per instruction (buildkit parser.Parse).

A node keeps what was written: the keyword as spelled, the raw ``--flag=value`` words, the
argument text, the words that text was cut into (see `dockyard.build.arguments`), whether
they came as a JSON array, the heredocs the line opened, and the first and last line
(heredoc bodies included). Unknown keywords still make a node, with no words; it is the
instruction layer (`dockyard.build.instructions`) that refuses them.
"""

from __future__ import annotations

from dataclasses import dataclass

from dockyard.build.arguments import parse_arguments, split_command
from dockyard.build.errors import DockerfileError, ExpansionError
from dockyard.build.heredoc import Heredoc, markers_in_line
from dockyard.build.lexer import Directives, LineReader
from dockyard.errors import InvalidArgument

# Instructions whose shell-form line may open heredocs, directly or under ONBUILD.
HEREDOC_INSTRUCTIONS = frozenset({"add", "copy", "run"})


@dataclass(frozen=True, slots=True)
class Node:
    """One parsed instruction line.

    ``original`` is the logical line (continuations joined); ``args`` the text after the
    keyword and flags; ``words`` the parsed arguments (ENV and LABEL as flat
    ``key, value, sep`` triples); ``child`` the instruction under ONBUILD.
    """

    keyword: str
    original: str
    flags: tuple[str, ...] = ()
    args: str = ""
    words: tuple[str, ...] = ()
    json: bool = False
    heredocs: tuple[Heredoc, ...] = ()
    start_line: int = 0
    end_line: int = 0
    child: Node | None = None

    @property
    def name(self) -> str:
        """The keyword in lower case (``run``)."""
        return self.keyword.lower()

    def may_open_heredocs(self) -> bool:
        node: Node = self.child if self.name == "onbuild" and self.child is not None else self
        return node.name in HEREDOC_INSTRUCTIONS and not node.json


@dataclass(frozen=True, slots=True)
class ParseResult:
    """The nodes of a Dockerfile, its parser directives and the parser's warnings."""

    nodes: tuple[Node, ...]
    directives: Directives
    warnings: tuple[str, ...] = ()
    filename: str = "Dockerfile"

    @property
    def escape(self) -> str:
        return self.directives.escape


def node_from_line(line: str, escape: str) -> Node:
    """A node (without lines or heredocs) for one logical line; raises InvalidArgument."""
    keyword, flags, rest = split_command(line, escape)
    if keyword.lower() == "onbuild":
        child = node_from_line(rest, escape) if rest else None
        return Node(keyword, line, flags, rest, child=child)
    arguments = parse_arguments(keyword, rest, escape)
    return Node(keyword, line, flags, rest, arguments.words, arguments.json)


def parse(text: str, filename: str = "Dockerfile") -> ParseResult:
    """Parse a Dockerfile into nodes; raise DockerfileError naming the file and line."""
    reader = LineReader(text, filename)
    nodes: list[Node] = []
    while (logical := reader.next_line()) is not None:
        try:
            node = node_from_line(logical.text, reader.escape)
        except InvalidArgument as exc:
            raise DockerfileError(filename, logical.start, str(exc), logical.end) from None
        heredocs: list[Heredoc] = []
        if node.may_open_heredocs() and "<<" in logical.text:
            heredocs = _read_heredocs(reader, logical.text, logical.start)
        nodes.append(_located(node, tuple(heredocs), logical.start, reader.line))
    if not nodes:
        raise DockerfileError(filename, max(reader.line, 1), "file with no instructions")
    return ParseResult(tuple(nodes), reader.directives, tuple(reader.warnings), filename)


def _read_heredocs(reader: LineReader, line: str, start: int) -> list[Heredoc]:
    try:
        markers = markers_in_line(line)
    except ExpansionError as exc:
        raise DockerfileError(reader.filename, start, str(exc), reader.line) from None
    found = []
    for marker in markers:
        body = reader.heredoc_body(marker.name, marker.chomp)
        if body is None:
            raise DockerfileError(
                reader.filename, start,
                f"unterminated heredoc: no line {marker.name} before the end of the file",
                reader.line)
        found.append(Heredoc(marker.name, body, marker.expand, marker.chomp, marker.fd))
    return found


def _located(node: Node, heredocs: tuple[Heredoc, ...], start: int, end: int) -> Node:
    child = node.child
    if child is not None:
        child = Node(child.keyword, child.original, child.flags, child.args, child.words,
                     child.json, heredocs, start, end, child.child)
    return Node(node.keyword, node.original, node.flags, node.args, node.words, node.json,
                heredocs, start, end, child)
