"""A container's record: its options, its state, and how both are stored (``config.v2.json``).

State transitions (``State.status``), as dockerd's container state moves::

    created --start--> running --exit--> exited --start--> running ...
       |                  |                 |
       +------rm-------> removing <---rm----+        (rm -f of a running one: kill, then rm)
    running --(daemon restart, monitor gone, no exit file)--> exited 255 "monitor gone"
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from dockyard.containers.config import ContainerConfig, HostConfig, MountSpec, Ulimit
from dockyard.errors import DataCorrupt

ZERO_TIME = "0001-01-01T00:00:00Z"
CREATED, RUNNING, EXITED, REMOVING, DEAD, RESTARTING = (
    "created", "running", "exited", "removing", "dead", "restarting")
PAUSED = "paused"  # running, its processes frozen (docker pause)


def new_id() -> str:
    return secrets.token_hex(32)


def format_time(ns: int) -> str:
    """Go's ``time.RFC3339Nano`` in UTC (trailing zeros of the fraction dropped)."""
    seconds, nanos = divmod(ns, 10**9)
    text = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(seconds))
    if nanos:
        text += "." + f"{nanos:09d}".rstrip("0")
    return text + "Z"


def parse_time(text: str) -> int:
    """Nanoseconds since the epoch of an RFC 3339 time with up to 9 fraction digits; 0 for
    the zero time."""
    if not text or text.startswith("0001-01-01"):
        return 0
    try:
        main, _, rest = text.partition(".")
        if rest:
            digits = "".join(c for c in rest if c.isdigit())
            zone = rest[len(digits):]
        else:
            main, zone, digits = text[:19], text[19:], ""
        stamp = datetime.strptime(main[:19] + (zone if zone != "Z" else "+00:00"),
                                  "%Y-%m-%dT%H:%M:%S%z")
    except ValueError as exc:
        raise DataCorrupt(f"bad time {text!r}") from exc
    return int(stamp.timestamp()) * 10**9 + int((digits + "000000000")[:9] or 0)


@dataclass(frozen=True, slots=True)
class State:
    status: str = CREATED
    pid: int = 0
    exit_code: int = 0
    error: str = ""
    oom_killed: bool = False
    started_at: str = ZERO_TIME
    finished_at: str = ZERO_TIME
    health: Mapping[str, Any] | None = None

    @property
    def running(self) -> bool:
        return self.status in (RUNNING, RESTARTING, PAUSED)

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "Status": self.status, "Running": self.running, "Paused": self.status == PAUSED,
            "Restarting": self.status == RESTARTING, "OOMKilled": self.oom_killed,
            "Dead": self.status == DEAD, "Pid": self.pid, "ExitCode": self.exit_code,
            "Error": self.error, "StartedAt": self.started_at, "FinishedAt": self.finished_at,
        }
        if self.health is not None:
            out["Health"] = dict(self.health)
        return out

    @classmethod
    def from_json(cls, obj: Mapping[str, Any]) -> State:
        health = obj.get("Health")
        return cls(status=str(obj.get("Status", CREATED)), pid=int(obj.get("Pid", 0)),
                   exit_code=int(obj.get("ExitCode", 0)), error=str(obj.get("Error", "")),
                   oom_killed=bool(obj.get("OOMKilled")),
                   started_at=str(obj.get("StartedAt", ZERO_TIME)),
                   finished_at=str(obj.get("FinishedAt", ZERO_TIME)),
                   health=dict(health) if isinstance(health, dict) else None)


@dataclass(frozen=True, slots=True)
class Container:
    """Everything the engine keeps about one container."""

    id: str
    name: str                     # "/name"
    created: str                  # RFC3339Nano
    image_id: str                 # "sha256:<hex>": the image's config digest
    config: ContainerConfig
    host: HostConfig
    state: State = field(default_factory=State)
    restart_count: int = 0
    has_started: bool = False     # dockerd's HasBeenStartedBefore
    manually_stopped: bool = False
    snapshot: str = ""            # the snapshot key of its root filesystem
    labels_extra: Mapping[str, str] = field(default_factory=dict)

    @property
    def short_id(self) -> str:
        return self.id[:12]

    @property
    def path(self) -> str:
        return self.config.command()[0] if self.config.entrypoint or self.config.cmd else ""

    @property
    def args(self) -> tuple[str, ...]:
        return self.config.command()[1:] if self.config.entrypoint or self.config.cmd else ()

    def with_state(self, **changes: Any) -> Container:
        return replace(self, state=replace(self.state, **changes))

    def to_json(self) -> dict[str, Any]:
        return {
            "ID": self.id, "Name": self.name, "Created": self.created, "Image": self.image_id,
            "Config": self.config.to_json(), "HostConfig": _host_record(self.host),
            "State": self.state.to_json(), "RestartCount": self.restart_count,
            "HasBeenStartedBefore": self.has_started,
            "HasBeenManuallyStopped": self.manually_stopped, "Snapshot": self.snapshot,
        }

    @classmethod
    def from_json(cls, obj: Mapping[str, Any]) -> Container:
        try:
            return cls(
                id=str(obj["ID"]), name=str(obj["Name"]), created=str(obj["Created"]),
                image_id=str(obj["Image"]), config=ContainerConfig.from_json(obj["Config"]),
                host=_host_from_record(obj["HostConfig"]),
                state=State.from_json(obj.get("State") or {}),
                restart_count=int(obj.get("RestartCount", 0)),
                has_started=bool(obj.get("HasBeenStartedBefore")),
                manually_stopped=bool(obj.get("HasBeenManuallyStopped")),
                snapshot=str(obj.get("Snapshot", "")),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise DataCorrupt(f"container record: {exc!r}") from exc


_HOST_FIELDS = tuple(f for f in HostConfig.__dataclass_fields__ if f not in ("echo", "mounts",
                                                                               "ulimits"))


def _host_record(host: HostConfig) -> dict[str, Any]:
    """The whole HostConfig value (typed fields and echo) for the record file."""
    out: dict[str, Any] = {name: _plain(getattr(host, name)) for name in _HOST_FIELDS}
    out["echo"] = dict(host.echo)
    out["mounts"] = [{"type": m.type, "target": m.target, "source": m.source,
                      "readonly": m.readonly, "options": list(m.options), "mode": m.mode,
                      "name": m.name, "nocopy": m.nocopy}
                     for m in host.mounts]
    out["ulimits"] = [[u.name, u.soft, u.hard] for u in host.ulimits]
    return out


def _plain(value: Any) -> Any:
    if isinstance(value, tuple):
        return [_plain(v) for v in value]
    if isinstance(value, Mapping):
        return dict(value)
    return value


def _host_from_record(obj: Mapping[str, Any]) -> HostConfig:
    values: dict[str, Any] = {}
    defaults = HostConfig()
    for name in _HOST_FIELDS:
        if name not in obj:
            continue
        value = obj[name]
        default = getattr(defaults, name)
        if isinstance(value, list) and (isinstance(default, tuple) or name in (
                "masked_paths", "readonly_paths")):
            value = tuple(tuple(v) if isinstance(v, list) else v for v in value)
        values[name] = value
    values["echo"] = dict(obj.get("echo") or {})
    values["mounts"] = tuple(
        MountSpec(m["type"], m["target"], m.get("source", ""), bool(m.get("readonly")),
                  tuple(m.get("options") or ()), m.get("mode", ""), m.get("name", ""),
                  bool(m.get("nocopy")))
        for m in obj.get("mounts") or ())
    values["ulimits"] = tuple(Ulimit(str(u[0]), int(u[1]), int(u[2]))
                              for u in obj.get("ulimits") or ())
    return HostConfig(**values)
