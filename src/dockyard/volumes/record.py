"""A volume's stored records: ``meta.json`` (what it is, written once) and ``refs.json`` (who
uses it, rewritten as containers come and go). Both are replaced atomically (a temp file, then
rename), so a crash leaves the old or the new record, never a torn one.

``meta.json``::

    {"Name": "pgdata", "Driver": "local", "Scope": "local", "CreatedAt": <ns since the epoch>,
     "Labels": {"k": "v"} | null, "Options": {"type": "tmpfs", ...} | null, "Anonymous": false}

``refs.json``::

    {"Users": ["<container id>", ...], "Mounts": ["<container id>", ...]}

``Users`` are the containers that reference the volume (from their creation to their removal):
the volume is "in use" while there is one. ``Mounts`` are the containers that hold a mount of a
volume with mount options (tmpfs, bind, ...): the filesystem is mounted while there is one.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from dockyard.errors import DataCorrupt

META = "meta.json"
REFS = "refs.json"
DATA = "_data"
DRIVER = "local"
SCOPE = "local"


@dataclass(frozen=True, slots=True)
class Volume:
    """One volume as the store knows it. ``labels`` and ``options`` are None when none were
    given (dockerd shows them as null then)."""

    name: str
    mountpoint: Path  # <root>/<name>/_data: what a container binds
    created: int  # nanoseconds since the epoch
    labels: dict[str, str] | None = field(default=None, hash=False)
    options: dict[str, str] | None = field(default=None, hash=False)
    anonymous: bool = False
    driver: str = DRIVER
    scope: str = SCOPE

    def to_json(self) -> dict[str, Any]:
        return {
            "Name": self.name, "Driver": self.driver, "Scope": self.scope,
            "CreatedAt": self.created, "Labels": self.labels, "Options": self.options,
            "Anonymous": self.anonymous,
        }

    @classmethod
    def from_json(cls, data: Any, mountpoint: Path) -> Volume:
        try:
            return cls(
                name=str(data["Name"]), mountpoint=mountpoint, created=int(data["CreatedAt"]),
                labels=_strings(data.get("Labels")), options=_strings(data.get("Options")),
                anonymous=bool(data.get("Anonymous", False)),
                driver=str(data.get("Driver", DRIVER)), scope=str(data.get("Scope", SCOPE)),
            )
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise DataCorrupt(f"volume record {mountpoint.parent / META}: {exc!r}") from exc


@dataclass
class Refs:
    """Who uses a volume; dicts as ordered sets (dockerd lists users in the order they came)."""

    users: dict[str, None] = field(default_factory=dict)
    mounts: dict[str, None] = field(default_factory=dict)

    def to_json(self) -> dict[str, list[str]]:
        return {"Users": list(self.users), "Mounts": list(self.mounts)}

    @classmethod
    def from_json(cls, data: Any) -> Refs:
        users = data.get("Users") or [] if isinstance(data, dict) else []
        mounts = data.get("Mounts") or [] if isinstance(data, dict) else []
        return cls(dict.fromkeys(str(u) for u in users), dict.fromkeys(str(m) for m in mounts))


def _strings(value: Any) -> dict[str, str] | None:
    if value is None:
        return None
    return {str(k): str(v) for k, v in dict(value).items()}


def read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_bytes())
    except ValueError as exc:
        raise DataCorrupt(f"volume record {path}: {exc}") from exc


def write_json(path: Path, value: object, *, sync: bool = False) -> None:
    """Replace ``path`` atomically; ``sync`` makes the new content durable first."""
    temp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    data = json.dumps(value, separators=(",", ":")).encode()
    fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o600)
    try:
        os.write(fd, data)
        if sync:
            os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(temp, path)
