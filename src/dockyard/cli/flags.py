"""Command-line parsing with the rules of spf13/pflag and cobra, as the docker CLI has them.

Why not argparse: docker's grammar differs in ways users notice (``-aq`` bundles, ``--flag=v``,
``-fvalue``, flags after arguments, ``--no-trunc=false``), its error texts are fixed
("unknown flag: --foo", "flag needs an argument: 'f' in -f") and its exit codes are 125 for a
flag error but 1 for a wrong argument count (cli/required.go). A table of :class:`Flag` per
:class:`Command` and one parse function keep all of that in one place, at no import cost.
"""

from __future__ import annotations

TYPE_CHECKING = False  # typing's import costs the CLI's start a few ms
if TYPE_CHECKING:
    from collections.abc import Sequence
    from typing import Literal

    Kind = Literal["bool", "string", "list", "int"]

PROG = "dockyard"


class UsageError(Exception):
    """A command line that cannot be run; ``str()`` is the whole text docker would print."""

    def __init__(self, text: str, exit_code: int) -> None:
        super().__init__(text)
        self.exit_code = exit_code


class HelpRequested(Exception):
    """``--help`` was given: print the command's help and exit 0."""


class Flag:
    """A flag: long and short names, value kind, help text and default (pflag's Flag)."""

    __slots__ = ("default", "help", "kind", "long", "metavar", "short")

    def __init__(self, long: str, short: str = "", kind: Kind = "bool", help: str = "",  # noqa: PLR0917
                 default: bool | str | int | None = None, metavar: str = "") -> None:
        self.long = long
        self.short = short
        self.kind = kind
        self.help = help
        self.default = default
        self.metavar = metavar

    @property
    def dest(self) -> str:
        return self.long.replace("-", "_")

    def initial(self) -> bool | str | int | list[str]:
        if self.kind == "list":
            return []
        if self.default is not None:
            return self.default
        zero: bool | str | int
        zero = False if self.kind == "bool" else 0 if self.kind == "int" else ""
        return zero


class Command:
    """One leaf command: its path ("image ls"), usage tail, flags and argument bounds."""

    __slots__ = ("aliases", "flags", "interspersed", "max_args", "min_args", "path", "short",
                 "usage")

    def __init__(self, path: str, usage: str, short: str,  # noqa: PLR0917
                 flags: tuple[Flag, ...] = (), min_args: int = 0, max_args: int | None = None,
                 interspersed: bool = True, aliases: str = "") -> None:
        self.path = path
        self.usage = usage
        self.short = short
        self.flags = flags
        self.min_args = min_args
        self.max_args = max_args
        self.interspersed = interspersed
        self.aliases = aliases

    @property
    def command_path(self) -> str:
        return f"{PROG} {self.path}"

    def use_line(self) -> str:
        return f"{self.command_path} {self.usage}".rstrip()

    def lookup(self, name: str, short: bool) -> Flag | None:
        for flag in (*self.flags, HELP):
            if (flag.short if short else flag.long) == name:
                return flag
        return None


HELP = Flag("help", "", help="Print usage")


class Parsed:
    __slots__ = ("args", "changed", "values")

    def __init__(self, values: dict[str, object] | None = None,
                 args: list[str] | None = None) -> None:
        self.values = values if values is not None else {}
        self.args = args if args is not None else []
        self.changed: set[str] = set()  # dests given on the command line (pflag's Changed)

    def flag(self, name: str) -> bool:
        return bool(self.values[name])

    def string(self, name: str) -> str:
        value = self.values[name]
        assert isinstance(value, str)
        return value

    def strings(self, name: str) -> list[str]:
        value = self.values[name]
        assert isinstance(value, list)
        return value


def _flag_error(command: Command, message: str) -> UsageError:
    text = (f"{message}\n\nUsage:  {command.use_line()}\n\n"
            f"Run '{command.command_path} --help' for more information")
    return UsageError(text, 125)


def _parse_bool(command: Command, flag: Flag, text: str) -> bool:
    lowered = text
    if lowered in ("1", "t", "T", "TRUE", "true", "True"):
        return True
    if lowered in ("0", "f", "F", "FALSE", "false", "False"):
        return False
    raise _flag_error(command, f'invalid argument "{text}" for "{_flag_name(flag)}" flag: '
                               f'strconv.ParseBool: parsing "{text}": invalid syntax')


def _flag_name(flag: Flag) -> str:
    return f"-{flag.short}, --{flag.long}" if flag.short else f"--{flag.long}"


def _store(command: Command, parsed: Parsed, flag: Flag, value: str) -> None:
    parsed.changed.add(flag.dest)
    if flag.kind == "list":
        parsed.strings(flag.dest).append(value)
    elif flag.kind == "int":
        try:
            parsed.values[flag.dest] = int(value, 0)
        except ValueError as exc:
            message = (f'invalid argument "{value}" for "{_flag_name(flag)}" flag: '
                       f'strconv.ParseInt: parsing "{value}": invalid syntax')
            raise _flag_error(command, message) from exc
    elif flag.kind == "bool":
        parsed.values[flag.dest] = _parse_bool(command, flag, value)
    else:
        parsed.values[flag.dest] = value


def parse(command: Command, argv: Sequence[str]) -> Parsed:
    """Parse ``argv`` (the words after the command name). Raises UsageError or HelpRequested."""
    parsed = Parsed({f.dest: f.initial() for f in command.flags})
    i = 0
    while i < len(argv):
        word = argv[i]
        i += 1
        if word == "--":
            parsed.args.extend(argv[i:])
            break
        if not word.startswith("-") or word == "-":
            parsed.args.append(word)
            if not command.interspersed:
                parsed.args.extend(argv[i:])
                break
            continue
        if word.startswith("--"):
            i = _parse_long(command, parsed, word, argv, i)
        else:
            i = _parse_shorts(command, parsed, word, argv, i)
    _check_args(command, parsed.args)
    return parsed


def _parse_long(command: Command, parsed: Parsed, word: str, argv: Sequence[str], i: int) -> int:
    name, has_value, value = word[2:].partition("=")
    flag = command.lookup(name, short=False)
    if flag is None:
        raise _flag_error(command, f"unknown flag: --{name}")
    if flag is HELP:
        raise HelpRequested()
    if flag.kind == "bool":
        _store(command, parsed, flag, value if has_value else "true")
        return i
    if not has_value:
        if i >= len(argv):
            raise _flag_error(command, f"flag needs an argument: --{name}")
        value = argv[i]
        i += 1
    _store(command, parsed, flag, value)
    return i


def _parse_shorts(command: Command, parsed: Parsed, word: str, argv: Sequence[str], i: int) -> int:
    letters = word[1:]
    j = 0
    while j < len(letters):
        letter = letters[j]
        flag = command.lookup(letter, short=True)
        if flag is None:
            if letter == "h":
                raise HelpRequested()
            raise _flag_error(command, f"unknown shorthand flag: '{letter}' in {word}")
        rest = letters[j + 1:]
        if flag.kind == "bool":
            if rest.startswith("="):
                _store(command, parsed, flag, rest[1:])
                return i
            _store(command, parsed, flag, "true")
            j += 1
            continue
        if rest:
            _store(command, parsed, flag, rest.removeprefix("="))
            return i
        if i >= len(argv):
            raise _flag_error(command, f"flag needs an argument: '{letter}' in {word}")
        _store(command, parsed, flag, argv[i])
        return i + 1
    return i


def _plural(n: int) -> str:
    return "argument" if n == 1 else "arguments"


def _check_args(command: Command, args: list[str]) -> None:
    """Argument counts as cli/required.go words them (exit status 1, not 125)."""
    lo, hi, n = command.min_args, command.max_args, len(args)
    path, tail = command.command_path, f"\n\nUsage:  {command.use_line()}\n\n"
    run = f"Run '{path} --help' for more information"
    if hi == 0 and n > 0:
        message = f"{PROG}: '{path}' accepts no arguments{tail}{run}"
    elif lo == hi and n != lo:
        message = f"{PROG}: '{path}' requires {lo} {_plural(lo)}{tail}{run}"
    elif n < lo and hi is None:
        message = f"{PROG}: '{path}' requires at least {lo} {_plural(lo)}{tail}" \
                  f"See '{path} --help' for more information"
    elif hi is not None and n > hi and lo == 0:
        message = f"{PROG}: '{path}' requires at most {hi} {_plural(hi)}{tail}{run}"
    elif n < lo or (hi is not None and n > hi):
        message = (f"{PROG}: '{path}' requires at least {lo} and at most {hi} "
                   f"{_plural(hi or 0)}{tail}{run}")
    else:
        return
    raise UsageError(message, 1)


def help_text(command: Command) -> str:
    """The ``--help`` page in cobra's layout: usage, description, aliases, options."""
    lines = [f"Usage:  {command.use_line()}", "", command.short, ""]
    if command.aliases:
        lines += ["Aliases:", f"  {command.aliases}", ""]
    if command.flags:
        lines += ["Options:", *flag_usages(command.flags), ""]
    return "\n".join(lines)


def flag_usages(flags: Sequence[Flag]) -> list[str]:
    """pflag's FlagUsages: names, value name, then the help aligned in one column."""
    rows: list[tuple[str, str]] = []
    for flag in sorted(flags, key=lambda f: f.long):
        left = f"  -{flag.short}, --{flag.long}" if flag.short else f"      --{flag.long}"
        if flag.kind != "bool":
            left += " " + (flag.metavar or {"list": "list", "int": "int"}.get(flag.kind, "string"))
        usage = flag.help
        if flag.default not in (None, False, "", 0):
            shown = "true" if flag.default is True else flag.default
            usage += f' (default {shown!s})' if flag.kind != "string" else f' (default "{shown}")'
        rows.append((left, usage))
    width = max(len(left) for left, _ in rows)
    return [f"{left}{' ' * (width - len(left))}   {usage}".rstrip() for left, usage in rows]
