"""Image data in the JSON shapes dockerd 20.10 answers with (Go's encoding of its API types).

Go decodes an image config into typed structs and encodes the struct again, so what a client sees
is not the stored JSON: every field of ``container.Config`` appears (zero values included) in the
struct's order, ``omitempty`` fields vanish when empty, keys match case-insensitively on the way
in, ``[]`` stays ``[]`` while an absent list is ``null``, and times are re-formatted as RFC 3339
with nanoseconds. :func:`container_config` and :class:`GoTime` reproduce that.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

ZERO_TIME = "0001-01-01T00:00:00Z"
_ZERO_UNIX = -62135596800
_RFC3339 = re.compile(
    r"(\d{4})-(\d{2})-(\d{2})[Tt](\d{2}):(\d{2}):(\d{2})(?:\.(\d+))?(?:([Zz])|([+-])(\d{2}):(\d{2}))"
)


@dataclass(frozen=True, slots=True)
class GoTime:
    """A time as Go's ``time.Time`` holds one read from JSON: seconds, nanoseconds and the
    offset it was written with (minutes east of UTC)."""

    unix: int = _ZERO_UNIX
    nanos: int = 0
    offset: int = 0

    @classmethod
    def parse(cls, text: object) -> GoTime:
        """RFC 3339 text (any fraction length); the zero time for anything else, which is
        what an image without ``created`` shows."""
        match = _RFC3339.fullmatch(text) if isinstance(text, str) else None
        if match is None:
            return cls()
        year, month, day, hour, minute, second = (int(g) for g in match.group(1, 2, 3, 4, 5, 6))
        fraction = (match.group(7) or "")[:9].ljust(9, "0")
        offset = 0
        if match.group(9):
            sign = -1 if match.group(9) == "-" else 1
            offset = sign * (int(match.group(10)) * 60 + int(match.group(11)))
        try:
            moment = datetime(year, month, day, hour, minute, second, tzinfo=UTC)
        except ValueError:
            return cls()
        return cls(int(moment.timestamp()) - offset * 60, int(fraction), offset)

    @classmethod
    def from_timestamp(cls, seconds: float) -> GoTime:
        """A UTC time from float seconds (record times)."""
        whole = int(seconds // 1)
        return cls(whole, round((seconds - whole) * 1e9) % 1_000_000_000)

    def rfc3339_nano(self) -> str:
        """Go's ``time.RFC3339Nano``: fraction without trailing zeros, ``Z`` for offset 0."""
        if self.unix == _ZERO_UNIX and self.nanos == 0:
            return ZERO_TIME
        local = datetime.fromtimestamp(self.unix + self.offset * 60, UTC)
        text = local.strftime("%Y-%m-%dT%H:%M:%S")
        if self.nanos:
            text += f".{self.nanos:09d}".rstrip("0")
        if self.offset == 0:
            return text + "Z"
        sign = "-" if self.offset < 0 else "+"
        hours, minutes = divmod(abs(self.offset), 60)
        return f"{text}{sign}{hours:02d}:{minutes:02d}"


def field(obj: Mapping[str, Any], name: str) -> Any:
    """``obj[name]`` as Go's decoder finds it: the exact key, else one differing in case."""
    if name in obj:
        return obj[name]
    lowered = name.lower()
    for key, value in obj.items():
        if key.lower() == lowered:
            return value
    return None


def string(value: Any) -> str:
    return value if isinstance(value, str) else ""


def _bool(value: Any) -> bool:
    return value if isinstance(value, bool) else False


def _strings(value: Any) -> list[str] | None:
    if isinstance(value, list):
        return [v for v in value if isinstance(v, str)]
    return None


def _str_slice(value: Any) -> list[str] | None:
    """``strslice.StrSlice``: a list, or one string meaning a list of one."""
    if isinstance(value, str):
        return [value]
    return _strings(value)


def _set(value: Any) -> dict[str, dict[str, Any]] | None:
    if isinstance(value, dict):
        return {key: {} for key in sorted(value)}
    return None


def string_map(value: Any) -> dict[str, str] | None:
    if isinstance(value, dict):
        return {key: value[key] for key in sorted(value) if isinstance(value[key], str)}
    return None


def _healthcheck(value: Any) -> dict[str, Any] | None:
    """``container.HealthConfig`` of API 1.41: every field ``omitempty``."""
    if not isinstance(value, dict):
        return None
    out: dict[str, Any] = {}
    test = _strings(field(value, "Test"))
    if test:
        out["Test"] = test
    for name in ("Interval", "Timeout", "StartPeriod", "Retries"):
        number = field(value, name)
        if isinstance(number, int) and not isinstance(number, bool) and number:
            out[name] = number
    return out


def container_config(raw: Any) -> dict[str, Any] | None:
    """``container.Config`` (API 1.41) as Go encodes it after decoding ``raw``; None for a
    missing or null config."""
    if not isinstance(raw, dict):
        return None
    return _render(raw)


def _render(raw: dict[str, Any]) -> dict[str, Any]:
    def get(name: str) -> Any:
        return field(raw, name)

    out: dict[str, Any] = {
        "Hostname": string(get("Hostname")),
        "Domainname": string(get("Domainname")),
        "User": string(get("User")),
        "AttachStdin": _bool(get("AttachStdin")),
        "AttachStdout": _bool(get("AttachStdout")),
        "AttachStderr": _bool(get("AttachStderr")),
    }
    ports = _set(get("ExposedPorts"))
    if ports:
        out["ExposedPorts"] = ports
    out.update(
        Tty=_bool(get("Tty")),
        OpenStdin=_bool(get("OpenStdin")),
        StdinOnce=_bool(get("StdinOnce")),
        Env=_strings(get("Env")),
        Cmd=_str_slice(get("Cmd")),
    )
    health = _healthcheck(get("Healthcheck"))
    if health is not None:
        out["Healthcheck"] = health
    if _bool(get("ArgsEscaped")):
        out["ArgsEscaped"] = True
    out.update(
        Image=string(get("Image")),
        Volumes=_set(get("Volumes")),
        WorkingDir=string(get("WorkingDir")),
        Entrypoint=_str_slice(get("Entrypoint")),
    )
    if _bool(get("NetworkDisabled")):
        out["NetworkDisabled"] = True
    if string(get("MacAddress")):
        out["MacAddress"] = get("MacAddress")
    out.update(OnBuild=_strings(get("OnBuild")), Labels=string_map(get("Labels")))
    _put_tail(out, get)
    return out


def _put_tail(out: dict[str, Any], get: Any) -> None:
    if string(get("StopSignal")):
        out["StopSignal"] = get("StopSignal")
    timeout = get("StopTimeout")
    if isinstance(timeout, int) and not isinstance(timeout, bool):
        out["StopTimeout"] = timeout
    shell = _str_slice(get("Shell"))
    if shell:
        out["Shell"] = shell


def zero_container_config() -> dict[str, Any]:
    """The encoding of an empty ``container.Config`` (``ContainerConfig`` of most images)."""
    return _render({})


def config_labels(config: Mapping[str, Any]) -> dict[str, str] | None:
    """The image's labels as the list shows them: null without a config or labels."""
    container = field(config, "config")
    if not isinstance(container, dict):
        return None
    return string_map(field(container, "Labels"))
