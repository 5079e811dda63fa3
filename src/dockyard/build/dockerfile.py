"""A whole Dockerfile: its stages, its global ARGs and its parser directives.

Also the two other places Dockerfile instructions come from: ``docker import/commit --change``
(`parse_changes`) and the ONBUILD triggers of a base image (`parse_trigger`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from dockyard.build.chars import go_quote
from dockyard.build.decode import parse_instruction
from dockyard.build.errors import DockerfileError
from dockyard.build.instructions import Arg, From, Instruction
from dockyard.build.lexer import Directives
from dockyard.build.parser import Node, parse
from dockyard.errors import InvalidArgument

# dockerd's validCommitCommands (daemon/commit.go, builder/dockerfile/builder.go).
CHANGE_INSTRUCTIONS = ("CMD", "ENTRYPOINT", "ENV", "EXPOSE", "HEALTHCHECK", "LABEL", "ONBUILD",
                       "USER", "VOLUME", "WORKDIR")


@dataclass(frozen=True, slots=True)
class Stage:
    """One build stage: its FROM and the instructions up to the next FROM."""

    index: int
    from_: From
    instructions: tuple[Instruction, ...] = ()

    @property
    def name(self) -> str:
        """The stage name (lower case), "" when it has none."""
        return self.from_.name


@dataclass(frozen=True, slots=True)
class Dockerfile:
    """A parsed Dockerfile. Instructions are as written: expand them before use."""

    stages: tuple[Stage, ...]
    meta_args: tuple[Arg, ...] = ()
    directives: Directives = field(default_factory=Directives)
    filename: str = "Dockerfile"
    warnings: tuple[str, ...] = ()

    @property
    def escape(self) -> str:
        return self.directives.escape

    def stage(self, ref: str) -> Stage | None:
        """The stage named ``ref`` (names are case-insensitive) or with that index."""
        for stage in self.stages:
            if stage.name and stage.name == ref.lower():
                return stage
        if ref.isascii() and ref.isdigit() and int(ref) < len(self.stages):
            return self.stages[int(ref)]
        return None


def parse_dockerfile(text: str, filename: str = "Dockerfile") -> Dockerfile:
    """Parse a Dockerfile; raise DockerfileError (``Dockerfile:3: ...``) when it is invalid."""
    result = parse(text, filename)
    meta_args: list[Arg] = []
    stages: list[Stage] = []
    current: list[Instruction] = []
    for node in result.nodes:
        instruction = _instruction(node, filename, result.escape)
        if isinstance(instruction, From):
            _check_name(stages, instruction, filename)
            if stages:
                stages[-1] = Stage(stages[-1].index, stages[-1].from_, tuple(current))
            stages.append(Stage(len(stages), instruction))
            current = []
        elif stages:
            current.append(instruction)
        elif isinstance(instruction, Arg):
            meta_args.append(instruction)
        else:
            raise DockerfileError(filename, node.start_line,
                                  f"{node.keyword.upper()} before the first FROM: a Dockerfile "
                                  "starts with FROM (only ARG may come before it)", node.end_line)
    if not stages:
        last = result.nodes[-1]
        raise DockerfileError(filename, last.end_line, "no FROM instruction: nothing to build")
    stages[-1] = Stage(stages[-1].index, stages[-1].from_, tuple(current))
    return Dockerfile(tuple(stages), tuple(meta_args), result.directives, filename,
                      result.warnings)


def _instruction(node: Node, filename: str, escape: str) -> Instruction:
    try:
        return parse_instruction(node, escape)
    except InvalidArgument as exc:
        raise DockerfileError(filename, node.start_line, str(exc), node.end_line) from None


def _check_name(stages: list[Stage], instruction: From, filename: str) -> None:
    if instruction.name and any(stage.name == instruction.name for stage in stages):
        raise DockerfileError(filename, instruction.line,
                              f"duplicate stage name {go_quote(instruction.name)}",
                              instruction.end_line)


def parse_changes(changes: Sequence[str]) -> tuple[Instruction, ...]:
    """The instructions of ``docker import/commit --change`` values.

    dockerd joins the changes with newlines, parses them as a Dockerfile and allows only
    CMD, ENTRYPOINT, ENV, EXPOSE, HEALTHCHECK, LABEL, ONBUILD, USER, VOLUME and WORKDIR.
    Raises InvalidArgument naming the change.
    """
    text = "\n".join(changes)
    starts = []
    line = 1
    for change in changes:
        starts.append(line)
        line += change.count("\n") + 1
    try:
        nodes = parse(text, "change").nodes
    except DockerfileError as exc:
        change = changes[_index(starts, exc.line)] if changes else ""
        raise InvalidArgument(f"invalid change {go_quote(change)}: {exc.reason}") from None
    instructions = []
    for node in nodes:
        change = changes[_index(starts, node.start_line)]
        if node.keyword.upper() not in CHANGE_INSTRUCTIONS:
            raise InvalidArgument(f"invalid change {go_quote(change)}: {node.keyword.lower()} "
                                  f"is not a valid change command (use one of "
                                  f"{', '.join(CHANGE_INSTRUCTIONS)})")
        try:
            instructions.append(parse_instruction(node))
        except InvalidArgument as exc:
            raise InvalidArgument(f"invalid change {go_quote(change)}: {exc}") from None
    return tuple(instructions)


def _index(starts: list[int], line: int) -> int:
    index = 0
    for position, start in enumerate(starts):
        if start <= line:
            index = position
    return index


def parse_change(text: str) -> Instruction:
    """The one instruction of a single ``--change`` value (``CMD ["nginx"]``)."""
    instructions = parse_changes([text])
    if len(instructions) != 1:
        raise InvalidArgument(f"invalid change {go_quote(text)}: a change is one instruction")
    return instructions[0]


def parse_trigger(expression: str) -> Instruction:
    """An ONBUILD trigger of a base image, as stored in its config, ready to run."""
    try:
        nodes = parse(expression, "ONBUILD").nodes
        if len(nodes) != 1:
            raise InvalidArgument("onbuild trigger should be a single expression")
        node = nodes[0]
        if node.keyword.upper() in ("ONBUILD", "FROM", "MAINTAINER"):
            raise InvalidArgument(f"{node.keyword.upper()} isn't allowed as an ONBUILD trigger")
        return parse_instruction(node)
    except DockerfileError as exc:
        raise InvalidArgument(f"invalid ONBUILD trigger {go_quote(expression)}: "
                              f"{exc.reason}") from None
    except InvalidArgument as exc:
        raise InvalidArgument(f"invalid ONBUILD trigger {go_quote(expression)}: {exc}") from None
