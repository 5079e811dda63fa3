"""Entry names: cleaning them into paths relative to the target, and reading whiteouts.

Cleaning follows moby: the name is cleaned lexically (``a/./b`` -> ``a/b``, ``a/../b`` -> ``b``),
a leading ``/`` makes it relative to the target (``/etc/passwd`` lands at ``<target>/etc/passwd``),
and a name that still climbs (``../x``, ``a/../../x``) is a breakout. The empty string names the
target itself.

Whiteouts are the image-spec's (layer.md, "Whiteouts"): ``.wh.<name>`` removes ``<name>`` from
the lower layers, ``.wh..wh..opq`` makes its directory opaque. Other ``.wh..wh.`` names are AUFS
bookkeeping (``.wh..wh.plnk``, ``.wh..wh.aufs``) and are skipped, as moby skips them.
"""

from __future__ import annotations

import posixpath
from dataclasses import dataclass
from typing import Literal

from dockyard.errors import Breakout, InvalidArgument

WHITEOUT_PREFIX = ".wh."
WHITEOUT_META_PREFIX = ".wh..wh."
WHITEOUT_OPAQUE = ".wh..wh..opq"


def clean_path(name: str, layer: str = "layer") -> str:
    """``name`` cleaned and made relative to the target: ``""`` is the target itself."""
    if "\0" in name:
        raise InvalidArgument(f"layer {layer}: entry {name!r} has a NUL byte in its name")
    path = posixpath.normpath(name).lstrip("/")
    if path == ".":
        return ""
    if path == ".." or path.startswith("../"):
        raise Breakout(f"layer {layer}: entry {name!r} points outside the target")
    return path


def parent_of(path: str) -> str:
    """The parent of a cleaned relative path (``""`` for a top-level name)."""
    return path.rpartition("/")[0]


def join(parent: str, name: str) -> str:
    return f"{parent}/{name}" if parent else name


@dataclass(frozen=True, slots=True)
class Whiteout:
    """What a whiteout entry means: remove ``path``, make the directory ``path`` opaque, or
    nothing (AUFS metadata, ``path`` is the entry's own)."""

    kind: Literal["remove", "opaque", "skip"]
    path: str


def parse_whiteout(path: str, layer: str = "layer") -> Whiteout | None:
    """The whiteout a cleaned entry path stands for, or None for an ordinary entry."""
    parent, _, base = path.rpartition("/")
    if not base.startswith(WHITEOUT_PREFIX):
        return None
    if base == WHITEOUT_OPAQUE:
        return Whiteout("opaque", parent)
    if base.startswith(WHITEOUT_META_PREFIX):
        return Whiteout("skip", path)
    name = base[len(WHITEOUT_PREFIX) :]
    if name == "..":
        raise Breakout(f"layer {layer}: whiteout {path!r} points outside its directory")
    if name in ("", "."):
        raise InvalidArgument(f"layer {layer}: whiteout {path!r} names no entry")
    return Whiteout("remove", join(parent, name))


def is_aufs_metadata(path: str) -> bool:
    """Entries under a top-level ``.wh..wh.*`` directory (AUFS's plnk, aufs, orph)."""
    return path.startswith(WHITEOUT_META_PREFIX) and path != WHITEOUT_OPAQUE
