"""``docker import --change`` and ``commit --change``: Dockerfile instructions applied to a
container config, as dockerd 20.10's ``BuildFromConfig`` does.

Each change is one instruction among CMD, ENTRYPOINT, ENV, EXPOSE, HEALTHCHECK, LABEL, ONBUILD,
STOPSIGNAL, USER, VOLUME and WORKDIR; all are checked before any is applied, and anything else
is ``<instruction> is not a valid change command``. The changes are read as the lines of one
Dockerfile (``\\`` continues a line, ``#`` starts a comment line).

Words go through a small shell lexer: single quotes are literal, double quotes allow ``\\"``,
``\\$`` and ``\\\\``, a backslash escapes outside quotes, and ``$V``, ``${V}``, ``${V:-word}``
and ``${V:+word}`` expand from the variables the changes' own ENV instructions set. CMD and
ENTRYPOINT take a JSON array (exec form) or the rest of the line, run with ``/bin/sh -c``.
"""

from __future__ import annotations

import dataclasses
import json
import posixpath
import re
import signal
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from dockyard.errors import InvalidArgument
from dockyard.oci.config import ContainerConfig, Healthcheck
from dockyard.services.image_filters import parse_go_duration

CHANGE_COMMANDS = frozenset({"cmd", "entrypoint", "healthcheck", "env", "expose", "label",
                             "onbuild", "stopsignal", "user", "volume", "workdir"})
DEFAULT_SHELL = ("/bin/sh", "-c")
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_WHITESPACE = " \t\r\n\v\f"
_PORT = re.compile(r"([0-9]+)(?:-([0-9]+))?")


@dataclass
class _State:
    """The config being changed, replaced by each instruction."""

    config: ContainerConfig
    cmd_set: bool = False

    def variables(self) -> dict[str, str]:
        return dict(item.partition("=")[::2] for item in self.config.env)

    def change(self, **fields: Any) -> None:
        self.config = dataclasses.replace(self.config, **fields)


def apply_changes(changes: Sequence[str], base: ContainerConfig | None = None) -> ContainerConfig:
    """``base`` (default: an empty config) with ``changes`` applied; InvalidArgument naming the
    instruction for a bad one."""
    instructions = [_split(line) for line in logical_lines(changes)]
    for name, _ in instructions:
        if name.lower() not in CHANGE_COMMANDS:
            raise InvalidArgument(f"{name.lower()} is not a valid change command")
    state = _State(base or ContainerConfig())
    for name, rest in instructions:
        _DISPATCH[name.lower()](state, rest, name.upper())
    return state.config


def logical_lines(changes: Sequence[str]) -> list[str]:
    """The instructions in ``changes`` read as Dockerfile lines: continuations joined, blank
    and comment lines dropped."""
    out: list[str] = []
    pending = ""
    for line in "\n".join(changes).split("\n"):
        stripped = line.strip(_WHITESPACE)
        if not pending and (not stripped or stripped.startswith("#")):
            continue
        if line.rstrip(_WHITESPACE).endswith("\\"):
            pending += line.rstrip(_WHITESPACE)[:-1]
            continue
        out.append(pending + line)
        pending = ""
    if pending.strip(_WHITESPACE):
        out.append(pending)
    return out


def _split(line: str) -> tuple[str, str]:
    text = line.strip(_WHITESPACE)
    for index, char in enumerate(text):
        if char in _WHITESPACE:
            return text[:index], text[index:].strip(_WHITESPACE)
    return text, ""


# -- the shell lexer ------------------------------------------------------------------------


class _Lexer:
    """moby's shell lexer, reduced to what instruction arguments use."""

    def __init__(self, text: str, variables: dict[str, str]) -> None:
        self.text = text
        self.variables = variables
        self.pos = 0

    def words(self, *, split: bool) -> list[str]:
        words: list[str] = []
        current: list[str] = []
        started = False
        while self.pos < len(self.text):
            char = self.text[self.pos]
            if split and char in _WHITESPACE:
                if started:
                    words.append("".join(current))
                    current, started = [], False
                self.pos += 1
                continue
            if split and char == "$":
                # An unquoted expansion splits into words too (EXPOSE $PORTS).
                self.pos += 1
                value = self._variable()
                pieces = re.split(r"[ \t\r\n\v\f]+", value)
                for piece in pieces[:-1]:
                    current.append(piece)
                    if started or piece:
                        words.append("".join(current))
                    current, started = [], False
                current.append(pieces[-1])
                started = started or bool(pieces[-1])
                continue
            started = True
            current.append(self._piece(char))
        if started or not split:
            words.append("".join(current))
        return words

    def _piece(self, char: str) -> str:
        self.pos += 1
        if char == "\\":
            if self.pos < len(self.text):
                self.pos += 1
                return self.text[self.pos - 1]
            return "\\"
        if char == "'":
            end = self.text.find("'", self.pos)
            if end < 0:
                raise InvalidArgument("unexpected end of statement while looking for matching '")
            piece, self.pos = self.text[self.pos : end], end + 1
            return piece
        if char == '"':
            return self._double_quoted()
        if char == "$":
            return self._variable()
        return char

    def _double_quoted(self) -> str:
        out: list[str] = []
        while self.pos < len(self.text):
            char = self.text[self.pos]
            self.pos += 1
            if char == '"':
                return "".join(out)
            if char == "\\" and self.pos < len(self.text) and self.text[self.pos] in '"$\\':
                out.append(self.text[self.pos])
                self.pos += 1
            elif char == "$":
                out.append(self._variable())
            else:
                out.append(char)
        raise InvalidArgument('unexpected end of statement while looking for matching "')

    def _variable(self) -> str:
        if self.text.startswith("{", self.pos):
            return self._braced()
        match = _NAME.match(self.text, self.pos)
        if match is None:
            return "$"
        self.pos = match.end()
        return self.variables.get(match.group(), "")

    def _braced(self) -> str:
        end = self.text.find("}", self.pos)
        match = _NAME.match(self.text, self.pos + 1)
        if end < 0 or match is None:
            raise InvalidArgument(f"missing '}}' or bad substitution in {self.text!r}")
        name, rest = match.group(), self.text[match.end() : end]
        self.pos = end + 1
        value = self.variables.get(name)
        if rest == "":
            return value or ""
        if rest.startswith(":-"):
            return value or _Lexer(rest[2:], self.variables).words(split=False)[0]
        if rest.startswith(":+"):
            return _Lexer(rest[2:], self.variables).words(split=False)[0] if value else ""
        raise InvalidArgument(f"unsupported modifier ({rest[:2]}) in substitution {self.text!r}")


def expand(word: str, variables: dict[str, str]) -> str:
    """moby's ``ProcessWord``: quotes removed, variables expanded, whitespace kept."""
    return _Lexer(word, variables).words(split=False)[0]


def expand_words(text: str, variables: dict[str, str]) -> list[str]:
    """moby's ``ProcessWords``: as :func:`expand`, split at unquoted whitespace."""
    return _Lexer(text, variables).words(split=True)


def raw_words(text: str) -> list[str]:
    """The Dockerfile parser's ``parseWords``: split at unquoted whitespace, quotes kept."""
    words: list[str] = []
    current: list[str] = []
    quote = ""
    escaped = False
    for char in text:
        if escaped:
            current.append(char)
            escaped = False
        elif char == "\\" and quote != "'":
            current.append(char)
            escaped = True
        elif quote:
            current.append(char)
            quote = "" if char == quote else quote
        elif char in "'\"":
            current.append(char)
            quote = char
        elif char in _WHITESPACE:
            if current:
                words.append("".join(current))
                current = []
        else:
            current.append(char)
    if current:
        words.append("".join(current))
    return words


# -- the instructions -----------------------------------------------------------------------


def _exec_form(rest: str) -> tuple[str, ...] | None:
    """A JSON array of strings, else None (the Dockerfile parser's ``parseMaybeJSON``)."""
    if not rest.startswith("["):
        return None
    try:
        value = json.loads(rest)
    except ValueError:
        return None
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return tuple(value)
    return None


def _command_line(state: _State, rest: str, name: str) -> tuple[str, ...]:
    exec_form = _exec_form(rest)
    if exec_form is not None:
        return exec_form
    if not rest:
        raise InvalidArgument(f"{name} requires at least one argument")
    return (*(state.config.shell or DEFAULT_SHELL), rest)


def _cmd(state: _State, rest: str, name: str) -> None:
    state.change(cmd=_command_line(state, rest, name))
    state.cmd_set = True


def _entrypoint(state: _State, rest: str, name: str) -> None:
    entrypoint = _command_line(state, rest, name)
    if state.cmd_set:
        state.change(entrypoint=entrypoint)
    else:
        state.change(entrypoint=entrypoint, cmd=None)


def _pairs(rest: str, name: str) -> list[tuple[str, str]]:
    """``NAME k=v ...`` or the legacy ``NAME k value``, before expansion."""
    words = raw_words(rest)
    if not words:
        raise InvalidArgument(f"{name} requires at least one argument")
    if "=" not in words[0]:
        parts = re.split(r"[\t\v\f\r ]+", rest, maxsplit=1)
        if len(parts) < 2:
            raise InvalidArgument(f"{name} must have two arguments")
        return [(parts[0], parts[1])]
    pairs = []
    for word in words:
        if "=" not in word:
            raise InvalidArgument(
                f'Syntax error - can\'t find = in "{word}". Must be of the form: name=value'
            )
        key, _, value = word.partition("=")
        pairs.append((key, value))
    return pairs


def _env(state: _State, rest: str, name: str) -> None:
    variables = state.variables()
    env = list(state.config.env)
    for raw_key, raw_value in _pairs(rest, name):
        if not raw_key:
            raise InvalidArgument(f"{name} names can not be blank")
        key, value = expand(raw_key, variables), expand(raw_value, variables)
        entry = f"{key}={value}"
        for index, existing in enumerate(env):
            if existing.partition("=")[0] == key:
                env[index] = entry
                break
        else:
            env.append(entry)
    state.change(env=tuple(env))


def _label(state: _State, rest: str, name: str) -> None:
    variables = state.variables()
    labels = dict(state.config.labels)
    for raw_key, raw_value in _pairs(rest, name):
        if not raw_key:
            raise InvalidArgument(f"{name} names can not be blank")
        labels[expand(raw_key, variables)] = expand(raw_value, variables)
    state.change(labels=labels)


def _expose(state: _State, rest: str, name: str) -> None:
    ports = [p for word in rest.split() for p in expand_words(word, state.variables())]
    if not ports:
        raise InvalidArgument(f"{name} requires at least one argument")
    exposed = set(state.config.exposed_ports)
    for spec in ports:
        number, _, proto = spec.partition("/")
        proto = (proto or "tcp").lower()
        if proto not in ("tcp", "udp", "sctp"):
            raise InvalidArgument(f"invalid proto: {proto}")
        match = _PORT.fullmatch(number)
        if match is None:
            raise InvalidArgument(f"Invalid containerPort: {number}")
        low = int(match.group(1))
        high = int(match.group(2) or low)
        if high < low or high > 65535:
            raise InvalidArgument(f"Invalid range format for --expose: {spec}, error: bad range")
        exposed.update(f"{port}/{proto}" for port in range(low, high + 1))
    state.change(exposed_ports=tuple(exposed))


def _volume(state: _State, rest: str, name: str) -> None:
    try:
        parsed = json.loads(rest) if rest.startswith("[") else None
    except ValueError:
        parsed = None
    words = parsed if isinstance(parsed, list) else rest.split()
    if not words:
        raise InvalidArgument(f"{name} requires at least one argument")
    volumes = set(state.config.volumes)
    for word in words:
        volume = expand(str(word), state.variables()).strip(_WHITESPACE)
        if not volume:
            raise InvalidArgument(f"{name} specified can not be an empty string")
        volumes.add(volume)
    state.change(volumes=tuple(volumes))


def _single(rest: str, name: str, state: _State) -> str:
    if not rest:
        raise InvalidArgument(f"{name} requires exactly one argument")
    return expand(rest, state.variables())


def _user(state: _State, rest: str, name: str) -> None:
    state.change(user=_single(rest, name, state))


def _workdir(state: _State, rest: str, name: str) -> None:
    requested = _single(rest, name, state)
    if not requested.startswith("/"):
        current = state.config.working_dir
        requested = posixpath.normpath(posixpath.join("/", current, requested))
    state.change(working_dir=requested)


def _stopsignal(state: _State, rest: str, name: str) -> None:
    value = _single(rest, name, state)
    if not valid_signal(value):
        raise InvalidArgument(f"Invalid signal: {value}")
    state.change(stop_signal=value)


def valid_signal(text: str) -> bool:
    """docker's ``signal.ParseSignal``: a number, or a name with or without ``SIG``."""
    if text.isdigit():
        return 0 < int(text) <= signal.SIGRTMAX
    name = text.upper().removeprefix("SIG")
    realtime = re.fullmatch(r"RTM(IN|AX)([+-][0-9]+)?", name)
    if realtime:
        return True
    return f"SIG{name}" in signal.Signals.__members__


def _onbuild(state: _State, rest: str, name: str) -> None:
    trigger = rest.split(maxsplit=1)[0].upper() if rest else ""
    if not trigger:
        raise InvalidArgument(f"{name} requires at least one argument")
    if trigger == "ONBUILD":
        raise InvalidArgument("Chaining ONBUILD via `ONBUILD ONBUILD` isn't allowed")
    if trigger in ("MAINTAINER", "FROM"):
        raise InvalidArgument(f"{trigger} isn't allowed as an ONBUILD trigger")
    state.change(on_build=(*state.config.on_build, rest))


def _healthcheck(state: _State, rest: str, name: str) -> None:
    flags, rest = _flags(rest, name, ("interval", "timeout", "start-period", "retries"))
    kind, _, args = rest.partition(" ")
    kind, args = kind.upper(), args.strip(_WHITESPACE)
    if not kind:
        raise InvalidArgument(f"{name} requires at least one argument")
    if kind == "NONE":
        if args:
            raise InvalidArgument("HEALTHCHECK NONE takes no arguments")
        state.change(healthcheck=Healthcheck(test=("NONE",)))
        return
    if kind != "CMD":
        raise InvalidArgument(f'Unknown type "{kind}" in HEALTHCHECK (try CMD)')
    exec_form = _exec_form(args)
    if exec_form == () or not args:
        raise InvalidArgument("Missing command after HEALTHCHECK CMD")
    test = ("CMD", *exec_form) if exec_form is not None else ("CMD-SHELL", args)
    retries = flags.get("retries", "")
    if retries and (not retries.isdigit() or int(retries) < 1):
        raise InvalidArgument(f"--retries must be at least 1 (not {retries})")
    state.change(healthcheck=Healthcheck(
        test=test,
        interval=_interval(flags, "interval"),
        timeout=_interval(flags, "timeout"),
        start_period=_interval(flags, "start-period"),
        retries=int(retries or 0),
    ))


def _interval(flags: dict[str, str], key: str) -> int:
    text = flags.get(key, "")
    if not text:
        return 0
    seconds = parse_go_duration(text)
    if seconds < 0.001:
        raise InvalidArgument(f'Interval "{key}" cannot be less than 1ms')
    return round(seconds * 1_000_000_000)


def _flags(rest: str, name: str, known: Sequence[str]) -> tuple[dict[str, str], str]:
    """Leading ``--flag=value`` words."""
    flags: dict[str, str] = {}
    while rest.startswith("--"):
        word, _, rest = rest.partition(" ")
        rest = rest.strip(_WHITESPACE)
        key, _, value = word[2:].partition("=")
        if key not in known:
            raise InvalidArgument(f"Unknown flag: {key} (in {name})")
        flags[key] = value
    return flags, rest


_DISPATCH: dict[str, Callable[[_State, str, str], None]] = {
    "cmd": _cmd, "entrypoint": _entrypoint, "env": _env, "label": _label, "expose": _expose,
    "volume": _volume, "user": _user, "workdir": _workdir, "stopsignal": _stopsignal,
    "onbuild": _onbuild, "healthcheck": _healthcheck,
}
