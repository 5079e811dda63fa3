"""Nodes to typed instructions, with each instruction's argument count and flags checked.

The checks and their order are buildkit's (frontend/dockerfile/instructions/parse.go), with
two quirks kept because dockerd has them: ARG and STOPSIGNAL ignore any flags, and
``HEALTHCHECK NONE`` ignores its flags. Messages are dockyard's own.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import replace
from typing import Any

from dockyard.build.chars import trim_space
from dockyard.build.duration import parse_duration
from dockyard.build.errors import ExpansionError
from dockyard.build.flags import FlagKind, Flags, parse_flags
from dockyard.build.heredoc import Heredoc, chomp, parse_marker
from dockyard.build.instructions import (
    Add,
    Arg,
    ArgDecl,
    Cmd,
    Copy,
    Entrypoint,
    Env,
    Expose,
    From,
    Healthcheck,
    HeredocFile,
    Instruction,
    KeyValue,
    Label,
    Maintainer,
    Onbuild,
    Run,
    Shell,
    StopSignal,
    User,
    Volume,
    Workdir,
)
from dockyard.build.mounts import parse_mount
from dockyard.build.parser import Node
from dockyard.build.suggest import did_you_mean
from dockyard.errors import InvalidArgument

KEYWORDS = ("ADD", "ARG", "CMD", "COPY", "ENTRYPOINT", "ENV", "EXPOSE", "FROM", "HEALTHCHECK",
            "LABEL", "MAINTAINER", "ONBUILD", "RUN", "SHELL", "STOPSIGNAL", "USER", "VOLUME",
            "WORKDIR")
NETWORK_MODES = ("default", "none", "host")
SECURITY_MODES = ("sandbox", "insecure")
_STAGE_NAME = re.compile(r"[a-z][a-z0-9-_.]*\Z")
_ONBUILD_PREFIX = re.compile(r"^[\t\n\f\r ]*ONBUILD[\t\n\f\r ]*", re.IGNORECASE)
_MIN_INTERVAL = 1_000_000  # 1ms
_INT32 = (-(1 << 31), (1 << 31) - 1)

_NO_FLAGS: dict[str, FlagKind] = {}
_ADD_FLAGS: dict[str, FlagKind] = {"chown": "string", "chmod": "string", "link": "bool",
                                   "keep-git-dir": "bool", "checksum": "string",
                                   "unpack": "bool", "exclude": "list"}
_COPY_FLAGS: dict[str, FlagKind] = {"chown": "string", "from": "string", "chmod": "string",
                                    "link": "bool", "exclude": "list", "parents": "bool"}
_RUN_FLAGS: dict[str, FlagKind] = {"mount": "list", "network": "string", "security": "string"}
_HEALTH_FLAGS: dict[str, FlagKind] = {"interval": "string", "timeout": "string",
                                      "start-period": "string", "start-interval": "string",
                                      "retries": "string"}


def parse_instruction(node: Node, escape: str = "\\") -> Instruction:
    """The typed instruction of a node of a Dockerfile with this escape token; raises
    InvalidArgument saying what was expected."""
    handler = _HANDLERS.get(node.name)
    if handler is None:
        if not node.keyword:
            raise InvalidArgument("line continuation with no instruction before it "
                                  "(an escape token alone on a line?)")
        raise InvalidArgument(did_you_mean(f"unknown instruction: {node.keyword}", node.keyword,
                                           KEYWORDS, case_sensitive=False))
    instruction = handler(node)
    return instruction if escape == "\\" else replace(instruction, escape=escape)


def _where(node: Node) -> dict[str, Any]:
    return {"line": node.start_line, "end_line": node.end_line,
            "original": trim_space(node.original)}


def _flags(node: Node, accepted: dict[str, FlagKind]) -> Flags:
    return parse_flags(node.keyword.upper(), node.flags, accepted)


def _at_least_one(node: Node) -> None:
    if not node.words:
        raise InvalidArgument(f"{node.keyword.upper()} requires at least one argument")


def _exactly_one(node: Node) -> None:
    if len(node.words) != 1:
        raise InvalidArgument(f"{node.keyword.upper()} requires exactly one argument")


def _pairs(node: Node) -> tuple[KeyValue, ...]:
    _at_least_one(node)
    words = node.words
    if len(words) % 3:
        raise InvalidArgument(f"bad input to {node.keyword.upper()}, too many arguments")
    pairs = []
    for index in range(0, len(words), 3):
        key, value, sep = words[index: index + 3]
        if not key:
            raise InvalidArgument(f"{node.keyword.upper()} names can not be blank")
        pairs.append(KeyValue(key, value, legacy=sep == ""))
    return tuple(pairs)


def _env(node: Node) -> Env:
    _flags(node, _NO_FLAGS)
    return Env(env=_pairs(node), **_where(node))


def _label(node: Node) -> Label:
    _flags(node, _NO_FLAGS)
    return Label(labels=_pairs(node), **_where(node))


def _maintainer(node: Node) -> Maintainer:
    _exactly_one(node)
    _flags(node, _NO_FLAGS)
    return Maintainer(maintainer=node.words[0], **_where(node))


def _marker(word: str) -> Heredoc | None:
    try:
        return parse_marker(word)
    except ExpansionError:
        return None


def _need_destination(node: Node) -> None:
    if len(node.words) < 2:
        raise InvalidArgument(f"{node.keyword.upper()} requires at least two arguments, but "
                              "only one was provided. Destination could not be determined")


def _sources_and_dest(node: Node) -> tuple[tuple[str, ...], str, tuple[HeredocFile, ...]]:
    keyword = node.keyword.upper()
    *sources, dest = node.words
    if _marker(dest) is not None:
        raise InvalidArgument(f"{keyword} cannot accept a heredoc as a destination")
    bodies = {heredoc.name: heredoc.content for heredoc in node.heredocs}
    paths: list[str] = []
    contents: list[HeredocFile] = []
    for source in sources:
        marker = _marker(source)
        if marker is None:
            paths.append(source)
            continue
        data = bodies.get(marker.name, "")
        contents.append(HeredocFile(marker.name, chomp(data) if marker.chomp else data,
                                    marker.expand, marker.fd))
    return tuple(paths), dest, tuple(contents)


def _optional_bool(flags: Flags, name: str) -> bool | None:
    return flags.flag(name) if flags.used(name) else None


def _add(node: Node) -> Add:
    _need_destination(node)
    flags = _flags(node, _ADD_FLAGS)
    sources, dest, contents = _sources_and_dest(node)
    return Add(sources=sources, dest=dest, contents=contents, chown=flags.string("chown"),
               chmod=flags.string("chmod"), link=flags.flag("link"),
               keep_git_dir=_optional_bool(flags, "keep-git-dir"),
               checksum=flags.string("checksum"), unpack=_optional_bool(flags, "unpack"),
               excludes=flags.strings("exclude"), **_where(node))


def _copy(node: Node) -> Copy:
    _need_destination(node)
    flags = _flags(node, _COPY_FLAGS)
    sources, dest, contents = _sources_and_dest(node)
    return Copy(sources=sources, dest=dest, contents=contents, from_=flags.string("from"),
                chown=flags.string("chown"), chmod=flags.string("chmod"),
                link=flags.flag("link"), parents=flags.flag("parents"),
                excludes=flags.strings("exclude"), **_where(node))


def _from(node: Node) -> From:
    words = node.words
    name = ""
    if len(words) == 3 and words[1].lower() == "as":
        name = words[2].lower()
        if not _STAGE_NAME.match(name):
            raise InvalidArgument(f'invalid name for build stage: "{words[2]}", name can\'t '
                                  "start with a number or contain symbols")
    elif len(words) != 1:
        raise InvalidArgument("FROM requires either one or three arguments: FROM image "
                              "[AS name]")
    flags = _flags(node, {"platform": "string"})
    return From(image=words[0], name=name, platform=flags.string("platform"), **_where(node))


def _onbuild(node: Node) -> Onbuild:
    child = node.child
    if child is None:
        raise InvalidArgument("ONBUILD requires at least one argument")
    _flags(node, _NO_FLAGS)
    trigger = trim_space(child.keyword).upper()
    if trigger == "ONBUILD":
        raise InvalidArgument("chaining ONBUILD via `ONBUILD ONBUILD` isn't allowed")
    if trigger in ("MAINTAINER", "FROM"):
        raise InvalidArgument(f"{trigger} isn't allowed as an ONBUILD trigger")
    expression = _ONBUILD_PREFIX.sub("", node.original, count=1)
    for heredoc in node.heredocs:
        expression += "\n" + heredoc.content + heredoc.name
    try:
        # The trigger runs in a later build, which parses it with the default escape.
        instruction: Instruction | None = parse_instruction(child)
    except InvalidArgument:
        instruction = None  # dockerd stores it and fails when the trigger runs
    return Onbuild(trigger=trigger, expression=expression, instruction=instruction,
                   **_where(node))


def _workdir(node: Node) -> Workdir:
    _exactly_one(node)
    _flags(node, _NO_FLAGS)
    return Workdir(path=node.words[0], **_where(node))


def _command(node: Node) -> tuple[str, ...]:
    """The command line: the JSON list, or the shell form as one string."""
    if not node.words or node.json:
        return node.words
    return (" ".join(node.words),)


def _run(node: Node) -> Run:
    flags = _flags(node, _RUN_FLAGS)
    network = flags.string("network", "default")
    if network not in NETWORK_MODES:
        raise InvalidArgument(f'invalid network mode "{network}": use default, none or host')
    security = flags.string("security", "sandbox")
    if security not in SECURITY_MODES:
        raise InvalidArgument(f'security "{security}" is not valid: use sandbox or insecure')
    files = tuple(HeredocFile(h.name, h.text, h.expand, h.fd) for h in node.heredocs)
    mounts = tuple(parse_mount(spec) for spec in flags.strings("mount"))
    return Run(command=_command(node), shell_form=not node.json, heredocs=files, mounts=mounts,
               network=network, security=security, **_where(node))


def _cmd(node: Node) -> Cmd:
    _flags(node, _NO_FLAGS)
    return Cmd(command=_command(node), shell_form=not node.json, **_where(node))


def _entrypoint(node: Node) -> Entrypoint:
    _flags(node, _NO_FLAGS)
    return Entrypoint(command=_command(node), shell_form=not node.json, **_where(node))


def _interval(flags: Flags, name: str) -> int:
    text = flags.string(name)
    if not text:
        return 0
    value = parse_duration(text)
    if value == 0:
        return 0
    if value < _MIN_INTERVAL:
        raise InvalidArgument(f"--{name} cannot be less than 1ms (got {text})")
    return value


def _retries(flags: Flags) -> int:
    text = flags.string("retries")
    if not text:
        return 0
    digits = text[1:] if text[:1] in "+-" else text
    if not digits.isascii() or not digits.isdigit():
        raise InvalidArgument(f'--retries must be a whole number, not "{text}"')
    value = int(text)
    if not _INT32[0] <= value <= _INT32[1]:
        raise InvalidArgument(f'--retries "{text}" is out of range')
    if value < 0:
        raise InvalidArgument(f"--retries cannot be negative ({value})")
    return value


def _healthcheck(node: Node) -> Healthcheck:
    _at_least_one(node)
    kind = node.words[0].upper()
    args = node.words[1:]
    if kind == "NONE":
        if args:
            raise InvalidArgument("HEALTHCHECK NONE takes no arguments")
        return Healthcheck(test=("NONE",), **_where(node))
    flags = _flags(node, _HEALTH_FLAGS)
    if kind != "CMD":
        raise InvalidArgument(f'unknown type "{kind}" in HEALTHCHECK (try CMD)')
    if not args:
        raise InvalidArgument("missing command after HEALTHCHECK CMD")
    test = ("CMD", *args) if node.json else ("CMD-SHELL", " ".join(args))
    return Healthcheck(test=test, interval=_interval(flags, "interval"),
                       timeout=_interval(flags, "timeout"),
                       start_period=_interval(flags, "start-period"),
                       start_interval=_interval(flags, "start-interval"),
                       retries=_retries(flags), **_where(node))


def _expose(node: Node) -> Expose:
    _at_least_one(node)
    _flags(node, _NO_FLAGS)
    return Expose(ports=tuple(sorted(node.words)), **_where(node))


def _user(node: Node) -> User:
    _exactly_one(node)
    _flags(node, _NO_FLAGS)
    return User(user=node.words[0], **_where(node))


def _volume(node: Node) -> Volume:
    _at_least_one(node)
    _flags(node, _NO_FLAGS)
    paths = tuple(trim_space(word) for word in node.words)
    if "" in paths:
        raise InvalidArgument("VOLUME specified can not be an empty string")
    return Volume(paths=paths, **_where(node))


def _stopsignal(node: Node) -> StopSignal:
    _exactly_one(node)
    return StopSignal(signal=node.words[0], **_where(node))


def _arg(node: Node) -> Arg:
    _at_least_one(node)
    decls = []
    for word in node.words:
        name, has_default, default = word.partition("=")
        if has_default and not name:
            raise InvalidArgument("ARG names can not be blank")
        decls.append(ArgDecl(name, default if has_default else None))
    return Arg(args=tuple(decls), **_where(node))


def _shell(node: Node) -> Shell:
    _flags(node, _NO_FLAGS)
    if not node.words:
        raise InvalidArgument("SHELL requires at least one argument")
    if not node.json:
        raise InvalidArgument('SHELL requires the arguments to be in JSON form: '
                              'SHELL ["executable", "parameters"]')
    return Shell(shell=node.words, **_where(node))


_HANDLERS: dict[str, Callable[[Node], Instruction]] = {
    "add": _add, "arg": _arg, "cmd": _cmd, "copy": _copy, "entrypoint": _entrypoint,
    "env": _env, "expose": _expose, "from": _from, "healthcheck": _healthcheck,
    "label": _label, "maintainer": _maintainer, "onbuild": _onbuild, "run": _run,
    "shell": _shell, "stopsignal": _stopsignal, "user": _user, "volume": _volume,
    "workdir": _workdir,
}
