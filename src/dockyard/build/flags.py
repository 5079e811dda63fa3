"""Instruction flags (``--name=value``) checked against what each instruction accepts.

The rules are buildkit's BFlags (frontend/dockerfile/instructions/bflag.go): a bool flag may be
given bare (``--link``) or as ``--link=true|false``; a string flag needs ``=value``; a list flag
(``--exclude``, ``--mount``) may repeat, any other flag may not; a bare ``--`` ends the flags.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal

from dockyard.build.suggest import did_you_mean
from dockyard.errors import InvalidArgument

FlagKind = Literal["bool", "string", "list"]


@dataclass(frozen=True, slots=True)
class Flags:
    """The flags given to one instruction, by name (without the dashes)."""

    values: Mapping[str, bool | str | tuple[str, ...]] = field(default_factory=dict)

    def used(self, name: str) -> bool:
        return name in self.values

    def flag(self, name: str, default: bool = False) -> bool:
        value = self.values.get(name, default)
        return value if isinstance(value, bool) else default

    def string(self, name: str, default: str = "") -> str:
        value = self.values.get(name, default)
        return value if isinstance(value, str) else default

    def strings(self, name: str) -> tuple[str, ...]:
        value = self.values.get(name, ())
        return value if isinstance(value, tuple) else ()


def parse_flags(keyword: str, words: Sequence[str], accepted: Mapping[str, FlagKind]) -> Flags:
    """Check ``words`` (``--name=value``) against the flags ``keyword`` accepts."""
    values: dict[str, bool | str | tuple[str, ...]] = {}
    for word in words:
        if word == "--":
            break
        if not word.startswith("--"):
            raise InvalidArgument(f"{keyword} flag {word!r} should start with --")
        flag, has_value, value = word.partition("=")
        name = flag[2:]
        kind = accepted.get(name)
        if kind is None:
            message = f"unknown flag {flag} for {keyword}"
            if not accepted:
                raise InvalidArgument(f"{message}: {keyword} takes no flags")
            raise InvalidArgument(did_you_mean(message, name, accepted, True, prefix="--"))
        if name in values and kind != "list":
            raise InvalidArgument(f"duplicate flag specified: {flag}")
        values[name] = _value(flag, kind, bool(has_value), value, values.get(name, ()))
    return Flags(values)


def _value(flag: str, kind: FlagKind, has_value: bool, value: str,
           previous: bool | str | tuple[str, ...]) -> bool | str | tuple[str, ...]:
    if kind == "bool":
        if has_value and value == "":
            raise InvalidArgument(f"missing a value on flag: {flag}")
        if value.lower() in ("true", ""):
            return True
        if value.lower() == "false":
            return False
        raise InvalidArgument(f"expecting boolean value for flag {flag}, not: {value}")
    if not has_value:
        raise InvalidArgument(f"missing a value on flag: {flag}")
    if kind == "string":
        return value
    return (*(previous if isinstance(previous, tuple) else ()), value)
