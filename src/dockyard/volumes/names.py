"""Volume names as dockerd's local driver accepts them, and names for anonymous volumes.

A name becomes a directory under the volumes root, so only ``[a-zA-Z0-9][a-zA-Z0-9_.-]+`` is
allowed (moby ``daemon/names``): no slash, no leading dot, at least two characters. An
anonymous volume is named like a container ID: 64 random hex digits whose 12-digit short form
is not all decimal digits (moby ``stringid.GenerateRandomID``).
"""

from __future__ import annotations

import re
import secrets

from dockyard.errors import InvalidArgument

NAME_CHARS = "[a-zA-Z0-9][a-zA-Z0-9_.-]"
_NAME = re.compile(f"{NAME_CHARS}+")


def validate_name(name: str) -> None:
    """InvalidArgument, worded as dockerd's, unless ``name`` is a valid local volume name."""
    if len(name) == 1:
        raise InvalidArgument(
            "volume name is too short, names should be at least two alphanumeric characters")
    if not _NAME.fullmatch(name):
        raise InvalidArgument(
            f'"{_go_escape(name)}" includes invalid characters for a local volume name, only '
            f'"{NAME_CHARS}" are allowed. If you intended to pass a host directory, use '
            "absolute path")


def is_valid_name(name: str) -> bool:
    return len(name) > 1 and _NAME.fullmatch(name) is not None


def anonymous_name() -> str:
    """64 random hex digits, never with an all-decimal short ID."""
    while True:
        name = secrets.token_hex(32)
        if not name[:12].isdigit():
            return name


def _go_escape(text: str) -> str:
    """The inside of Go's %q for the characters a name may hold (quotes and backslashes)."""
    out = []
    for ch in text:
        if ch in '"\\':
            out.append("\\" + ch)
        elif ch == "\n":
            out.append("\\n")
        elif ch == "\t":
            out.append("\\t")
        elif ord(ch) < 0x20 or ord(ch) == 0x7F:
            out.append(f"\\x{ord(ch):02x}")
        else:
            out.append(ch)
    return "".join(out)
