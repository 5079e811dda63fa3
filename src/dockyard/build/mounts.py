"""``RUN --mount=...`` options, parsed and checked as buildkit does
(frontend/dockerfile/instructions/commands_runmount.go).

The value is one CSV record of ``key=value`` fields (``type=cache,target=/root/.cache,id=x``).
Types: bind (the default; read-only unless ``rw``), cache and tmpfs (read-write), secret and
ssh (read-only). Values may use build variables; the parser keeps such values as written and
checks them once `dockyard.build.expand` has replaced the variables.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any, cast

from dockyard.build.suggest import did_you_mean
from dockyard.errors import InvalidArgument

MOUNT_TYPES = ("bind", "cache", "tmpfs", "secret", "ssh")
SHARING_MODES = ("shared", "private", "locked")
_KEYS = ("type", "from", "source", "target", "readonly", "id", "sharing", "required", "size",
         "mode", "uid", "gid", "src", "dst", "destination", "ro", "rw", "readwrite", "env")
_TRUE = ("1", "t", "T", "TRUE", "true", "True")
_FALSE = ("0", "f", "F", "FALSE", "false", "False")
_FLOAT = re.compile(r"[+-]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][+-]?[0-9]+)?\Z")
_RAM_UNITS = {"k": 1 << 10, "m": 1 << 20, "g": 1 << 30, "t": 1 << 40, "p": 1 << 50}
_UINT32 = (1 << 32) - 1


@dataclass(frozen=True, slots=True)
class Mount:
    """One ``--mount``; ``spec`` is the value as written, kept to expand it later."""

    type: str = "bind"
    source: str = ""
    target: str = ""
    from_: str = ""
    readonly: bool = True
    size: int = 0
    id: str = ""
    sharing: str = ""
    required: bool = False
    env: str | None = None
    mode: int | None = None
    uid: int | None = None
    gid: int | None = None
    spec: str = ""


def csv_fields(text: str) -> list[str]:
    """The fields of one CSV record (RFC 4180 quoting, no bare quotes), as go-csvvalue reads."""
    if text.endswith("\r\n"):
        text = text[:-2]
    elif text.endswith("\n"):
        text = text[:-1]
    if not text:
        raise InvalidArgument("failed to parse csv mounts: the --mount value is empty")
    fields: list[str] = []
    pos = 0
    while True:
        if not text.startswith('"', pos):
            end = text.find(",", pos)
            piece = text[pos:] if end < 0 else text[pos:end]
            if '"' in piece:
                raise InvalidArgument(f'failed to parse csv mounts: bare " in non-quoted field '
                                      f"{piece!r}")
            fields.append(piece)
            if end < 0:
                return fields
            pos = end + 1
            continue
        piece, pos = _quoted_field(text, pos + 1)
        fields.append(piece)
        if pos >= len(text):
            return fields
        pos += 1  # the comma after the closing quote


def _quoted_field(text: str, pos: int) -> tuple[str, int]:
    out: list[str] = []
    while True:
        end = text.find('"', pos)
        if end < 0:
            raise InvalidArgument('failed to parse csv mounts: extraneous or missing " in '
                                  'quoted-field')
        out.append(text[pos:end])
        pos = end + 1
        if text.startswith('"', pos):
            out.append('"')
            pos += 1
            continue
        if pos == len(text) or text[pos] == ",":
            return "".join(out), pos
        raise InvalidArgument('failed to parse csv mounts: extraneous or missing " in quoted-field')


def parse_mount(spec: str, expand: Callable[[str], str] | None = None) -> Mount:
    """Parse one ``--mount`` value.

    Without ``expand`` (at parse time) a value holding a ``$`` is kept as written and not
    checked, and ``from`` may not use variables; with it, every value is expanded first and the
    whole mount is checked.
    """
    mount = Mount(spec=spec)
    auto_readonly = True
    deferred = False
    for item in csv_fields(spec):
        key, has_value, value = item.partition("=")
        key = key.lower()
        if not has_value:
            mount, explicit = _bare_option(mount, key, item)
            auto_readonly = auto_readonly and not explicit
            continue
        if expand is not None:
            value = expand(value)
        elif key == "from":
            if "$" in value[:-1]:
                raise InvalidArgument("'from' doesn't support variable expansion, define alias "
                                      "stage instead")
        elif "$" in value:
            deferred = True
            mount = _deferred(mount, key, value)
            continue
        mount = _option(mount, key, value, item)
        if key in ("readonly", "ro", "readwrite", "rw"):
            auto_readonly = False
    if auto_readonly:
        mount = replace(mount, readonly=mount.type not in ("cache", "tmpfs"))
    if not deferred:
        _check(mount)
    return mount


def _bare_option(mount: Mount, key: str, item: str) -> tuple[Mount, bool]:
    """An option given without ``=value``; the bool says whether it set read-only-ness."""
    if key in ("readonly", "ro"):
        return replace(mount, readonly=True), True
    if key in ("readwrite", "rw"):
        return replace(mount, readonly=False), True
    if key == "required":
        if mount.type in ("secret", "ssh"):
            return replace(mount, required=True), False
        raise InvalidArgument(f"unexpected key '{key}' for mount type '{mount.type}'")
    raise InvalidArgument(f"invalid field '{item}' must be a key=value pair")


def _deferred(mount: Mount, key: str, value: str) -> Mount:
    """Keep a value with variables as written where the field is text; check it later."""
    if key == "type":
        return replace(mount, type=value)
    if key == "sharing":
        return replace(mount, sharing=value)
    if key in ("from", "source", "src", "target", "dst", "destination", "id", "env"):
        return _option(mount, key, value, f"{key}={value}")
    if key not in _KEYS:
        raise InvalidArgument(did_you_mean(f"unexpected key '{key}' in '{key}={value}'", key,
                                           _KEYS))
    return mount


_TEXT_FIELDS = {"from": "from_", "source": "source", "src": "source", "target": "target",
                "dst": "target", "destination": "target", "id": "id", "env": "env"}


def _option(mount: Mount, key: str, value: str, item: str) -> Mount:
    if key in _TEXT_FIELDS:
        return replace(mount, **cast(dict[str, Any], {_TEXT_FIELDS[key]: value}))
    if key in ("readonly", "ro", "readwrite", "rw"):
        return replace(mount, readonly=_bool(key, value) == (key in ("readonly", "ro")))
    if key == "type":
        kind = value.lower()
        if kind not in MOUNT_TYPES:
            raise InvalidArgument(did_you_mean(f'unsupported mount type "{value}"', value,
                                               MOUNT_TYPES))
        return replace(mount, type=kind)
    if key == "sharing":
        sharing = value.lower()
        if sharing not in SHARING_MODES:
            raise InvalidArgument(did_you_mean(f'unsupported sharing value "{value}"', value,
                                               SHARING_MODES))
        return replace(mount, sharing=sharing)
    if key == "required" and mount.type in ("secret", "ssh"):
        return replace(mount, required=_bool(key, value))
    if key == "size" and mount.type == "tmpfs":
        return replace(mount, size=ram_in_bytes(value, key))
    if key in ("required", "size"):
        raise InvalidArgument(f"unexpected key '{key}' for mount type '{mount.type}'")
    if key in ("mode", "uid", "gid"):
        number = _uint32(value, 8 if key == "mode" else 10, key)
        return replace(mount, **cast(dict[str, Any], {key: number}))
    raise InvalidArgument(did_you_mean(f"unexpected key '{key}' in '{item}'", key, _KEYS))


def _check(mount: Mount) -> None:
    if mount.type not in ("secret", "ssh", "cache"):
        for name in ("mode", "uid", "gid"):
            if getattr(mount, name) is not None:
                raise InvalidArgument(f'{name} not allowed for "{mount.type}" type mounts')
    if mount.type == "secret":
        if mount.from_:
            raise InvalidArgument("secret mount should not have a from")
        if mount.sharing:
            raise InvalidArgument("secret mount should not define sharing")
        if not (mount.source or mount.target or mount.id):
            raise InvalidArgument("invalid secret mount. one of source, target required")
        if mount.source and mount.id:
            raise InvalidArgument("both source and id can't be set")
    if mount.sharing and mount.type != "cache":
        raise InvalidArgument(f"invalid cache sharing set for {mount.type} mount")


def _bool(key: str, value: str) -> bool:
    """Go's strconv.ParseBool."""
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise InvalidArgument(f"invalid value for {key}: {value}")


def _uint32(value: str, base: int, key: str) -> int:
    """Go's strconv.ParseUint(value, base, 32)."""
    digits = "01234567" if base == 8 else "0123456789"
    if not value or any(ch not in digits for ch in value) or int(value, base) > _UINT32:
        raise InvalidArgument(f"invalid value {value} for {key}")
    return int(value, base)


def ram_in_bytes(text: str, key: str = "size") -> int:
    """go-units RAMInBytes: ``64m``, ``1.5g``, ``512 KiB``, ``100`` (binary multiples)."""
    invalid = InvalidArgument(f"invalid value for {key}: {text}")
    sep = max(text.rfind(ch) for ch in "0123456789. ")
    if sep < 0:
        raise invalid
    number, suffix = (text[: sep + 1], text[sep + 1:]) if text[sep] != " " else (
        text[:sep], text[sep + 1:])
    if not _FLOAT.match(number):
        raise invalid
    size = float(number)
    if size < 0:
        raise invalid
    suffix = suffix.lower()
    if not suffix or suffix == "b":
        return int(size)
    multiple = _RAM_UNITS.get(suffix[0])
    if multiple is None or len(suffix) > 3 or suffix[1:] not in ("", "b", "ib"):
        raise invalid
    return int(size * multiple)
