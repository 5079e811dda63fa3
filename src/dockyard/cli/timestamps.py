"""``--since`` and ``--until`` as the docker CLI sends them (moby api/types/time GetTimestamp).

A duration (``42m``) is relative to now and becomes unix seconds; an RFC 3339 time, a date or
a date with hours becomes ``seconds.nanoseconds``; a unix timestamp passes as it is.
"""

from __future__ import annotations

import re
import time

TYPE_CHECKING = False  # typing's import costs the CLI's start a few ms
if TYPE_CHECKING:
    from dockyard.cli.flags import Parsed

_UNIX = re.compile(r"^-?\d+(\.\d{1,9})?$")


def get_timestamp(value: str, now: float | None = None) -> str:
    from dockyard.cli.optvalues import duration_ns

    current = time.time() if now is None else now
    if value != "0":
        try:
            return str(int(current - duration_ns(value) / 1e9))
        except ValueError:
            pass
    if not value:
        return ""
    moment = _parse_time(value)
    if moment is None:
        if "-" in value:
            raise ValueError(f'parsing time "{value}": cannot parse "{value}" as a time')
        if not _UNIX.match(value):
            raise ValueError(f'failed to parse value as time or duration: "{value}"')
        return value
    seconds, nanos = moment
    return f"{seconds}.{nanos:09d}"


def since_until(parsed: Parsed, now: float) -> dict[str, str | list[str]]:
    """The ``since`` and ``until`` query parameters of the --since and --until given; a value
    that is no time is a StatusError with its text (``logs``, ``events``)."""
    from dockyard.cli.session import StatusError

    query: dict[str, str | list[str]] = {}
    for name in ("since", "until"):
        if parsed.string(name):
            try:
                query[name] = get_timestamp(parsed.string(name), now)
            except ValueError as exc:
                raise StatusError(str(exc)) from exc
    return query


def _parse_time(value: str) -> tuple[int, int] | None:
    """(unix seconds, nanoseconds) of an RFC 3339 time or date, local time when no zone."""
    import datetime

    text = value.replace("z", "Z")
    zoned = any(c in text for c in "Z+") or text.count("-") == 3
    head, dot, frac = text.partition(".")
    digits = ""
    if dot:
        digits = "".join(c for c in frac if c.isdigit())
        text = head + frac[len(digits):]
    if "T" in text:
        date, _, clock = text.partition("T")
        zone = ""
        for sep in ("Z", "+", "-"):
            if sep in clock:
                clock, found, rest = clock.partition(sep)
                zone = found + rest
                break
        parts = clock.split(":")
        clock = ":".join(parts + ["00"] * (3 - len(parts)))
        text = f"{date}T{clock}{zone}"
    try:
        moment = datetime.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    if not zoned:
        moment = moment.astimezone()  # the CLI's local zone, as ParseInLocation
    nanos = int((digits + "000000000")[:9]) if digits else 0
    return int(moment.timestamp()), nanos
