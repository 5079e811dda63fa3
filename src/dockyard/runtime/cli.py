"""runc's command line: global flags, then a command with its flags and arguments.

Flags follow Go's ``flag`` package as runc's urfave/cli v1 uses it: ``-name`` and ``--name``
alike, a value as ``--name value`` or ``--name=value``, booleans as ``--name`` or
``--name=false``, repeated flags collect. For most commands flags may also follow the
arguments (urfave/cli moves them to the front); for ``exec`` and ``ps`` everything after the
container id belongs to the command to run (runc's ``SkipArgReorder``). ``--`` ends the flags.
"""

from __future__ import annotations

from types import MappingProxyType

from dockyard.errors import InvalidArgument
from dockyard.runtime.record import Record

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Mapping


class Flag(Record):
    name: str
    kind: str = "string"
    """"string", "bool", "int", "strings" (repeatable) or "ints" (repeatable)."""
    short: str = ""
    default: object = None


def _flags(*flags: Flag) -> dict[str, Flag]:
    table = {}
    for flag in flags:
        table[flag.name] = flag
        if flag.short:
            table[flag.short] = flag
    return table


_CREATE = (Flag(name="bundle", short="b", default=""), Flag(name="console-socket", default=""),
           Flag(name="pid-file", default=""), Flag(name="no-pivot", kind="bool"),
           Flag(name="no-new-keyring", kind="bool"),
           Flag(name="preserve-fds", kind="int", default=0))
GLOBAL = _flags(
    Flag(name="debug", kind="bool"), Flag(name="log", default=""),
    Flag(name="log-format", default="text"), Flag(name="root", default=""),
    Flag(name="criu", default="criu"), Flag(name="systemd-cgroup", kind="bool"),
    Flag(name="rootless", default="auto"), Flag(name="help", short="h", kind="bool"),
    Flag(name="version", short="v", kind="bool"),
)
COMMANDS: dict[str, dict[str, Flag]] = {
    "create": _flags(*_CREATE),
    "run": _flags(*_CREATE, Flag(name="detach", short="d", kind="bool"),
                  Flag(name="keep", kind="bool"), Flag(name="no-subreaper", kind="bool")),
    "start": {},
    "state": {},
    "kill": _flags(Flag(name="all", short="a", kind="bool")),
    "delete": _flags(Flag(name="force", short="f", kind="bool")),
    "exec": _flags(
        Flag(name="console-socket", default=""), Flag(name="cwd", default=""),
        Flag(name="env", short="e", kind="strings"), Flag(name="tty", short="t", kind="bool"),
        Flag(name="user", short="u", default=""),
        Flag(name="additional-gids", short="g", kind="ints"),
        Flag(name="process", short="p", default=""), Flag(name="detach", short="d", kind="bool"),
        Flag(name="pid-file", default=""), Flag(name="process-label", default=""),
        Flag(name="apparmor", default=""), Flag(name="no-new-privs", kind="bool"),
        Flag(name="cap", short="c", kind="strings"),
        Flag(name="preserve-fds", kind="int", default=0),
        Flag(name="cgroup", kind="strings"), Flag(name="ignore-paused", kind="bool"),
    ),
    "ps": _flags(Flag(name="format", short="f", default="table")),
    "list": _flags(Flag(name="format", short="f", default="table"),
                   Flag(name="quiet", short="q", kind="bool")),
    "pause": {},
    "resume": {},
    "update": _flags(
        Flag(name="resources", short="r", default=""), Flag(name="blkio-weight", kind="int",
                                                            default=0),
        *(Flag(name=name, default="") for name in (
            "cpu-period", "cpu-quota", "cpu-share", "cpu-shares", "cpu-rt-period",
            "cpu-rt-runtime", "cpuset-cpus", "cpuset-mems", "memory", "memory-reservation",
            "memory-swap", "kernel-memory", "kernel-memory-tcp", "l3-cache-schema",
            "mem-bw-schema")),
        Flag(name="pids-limit", kind="int", default=0),
    ),
    "events": _flags(Flag(name="interval", default="5s"), Flag(name="stats", kind="bool")),
    "spec": _flags(Flag(name="bundle", short="b", default=""),
                   Flag(name="rootless", kind="bool")),
    "features": {},
}
NO_REORDER = frozenset({"exec", "ps"})
UNSUPPORTED = frozenset({"checkpoint", "restore"})


class Command(Record):
    """A parsed command line."""

    options: Mapping[str, object]
    """Global flags by name."""
    command: str = ""
    flags: Mapping[str, object] = MappingProxyType({})
    """The command's flags by name (unset ones absent)."""
    args: tuple[str, ...] = ()

    def flag(self, name: str) -> object:
        if name in self.flags:
            return self.flags[name]
        table = COMMANDS.get(self.command, {})
        flag = table.get(name)
        if flag is None:
            return None
        return {"bool": False, "strings": (), "ints": ()}.get(flag.kind, flag.default)

    def option(self, name: str) -> object:
        return self.options.get(name, GLOBAL[name].default)


def parse(argv: list[str]) -> Command:
    options, rest = _parse_flags(argv, GLOBAL, reorder=False, where="")
    if not rest:
        return Command(options=options)
    command, rest = rest[0], rest[1:]
    if command in UNSUPPORTED:
        from dockyard.errors import Unsupported

        raise Unsupported(f"command {command!r} is not supported by dockyard-runtime")
    if command not in COMMANDS:
        raise InvalidArgument(f"No help topic for '{command}'")
    flags, args = _parse_flags(rest, COMMANDS[command], reorder=command not in NO_REORDER,
                               where=command)
    return Command(options=options, command=command, flags=flags, args=tuple(args))


def _parse_flags(argv: list[str], table: dict[str, Flag], *, reorder: bool, where: str) \
        -> tuple[dict[str, object], list[str]]:
    values: dict[str, object] = {}
    positional: list[str] = []
    index = 0
    while index < len(argv):
        arg = argv[index]
        index += 1
        if arg == "--":
            positional += argv[index:]
            break
        if not arg.startswith("-") or arg == "-":
            positional.append(arg)
            if not reorder:
                positional += argv[index:]
                break
            continue
        name, has_value, value = arg.lstrip("-").partition("=")
        flag = table.get(name)
        if flag is None:
            prefix = f"{where}: " if where else ""
            raise InvalidArgument(f"{prefix}flag provided but not defined: -{name}")
        if not has_value and flag.kind != "bool":
            if index >= len(argv):
                raise InvalidArgument(f"flag needs an argument: -{name}")
            value, index = argv[index], index + 1
        _store(values, flag, value if has_value or flag.kind != "bool" else "true")
    return values, positional


def _store(values: dict[str, object], flag: Flag, text: str) -> None:
    if flag.kind == "bool":
        if text.lower() not in ("true", "false", "1", "0", "t", "f"):
            raise InvalidArgument(f"invalid boolean value {text!r} for -{flag.name}")
        values[flag.name] = text.lower() in ("true", "1", "t")
    elif flag.kind in ("int", "ints"):
        try:
            number = int(text)
        except ValueError as exc:
            raise InvalidArgument(f"invalid value {text!r} for flag -{flag.name}") from exc
        if flag.kind == "int":
            values[flag.name] = number
        else:
            values[flag.name] = (*values.get(flag.name, ()), number)  # type: ignore[misc]
    elif flag.kind == "strings":
        values[flag.name] = (*values.get(flag.name, ()), text)  # type: ignore[misc]
    else:
        values[flag.name] = text


def exactly(command: Command, count: int) -> None:
    """runc's checkArgs(exactArgs)."""
    if len(command.args) != count:
        raise InvalidArgument(
            f"{command.command}: {command.command!r} requires exactly {count} argument(s)")


def at_least(command: Command, count: int) -> None:
    if len(command.args) < count:
        raise InvalidArgument(
            f"{command.command}: {command.command!r} requires a minimum of {count} argument(s)")
