"""Human sizes, durations and times exactly as docker prints them (docker/go-units, Go's time).

``HumanSizeWithPrecision(size, 3)`` for image sizes (1.98MB), ``HumanSize`` (precision 4) for
``system df`` (226.4MB), ``BytesSize`` with binary units for ``info`` (23.54GiB), and
``HumanDuration`` for "CREATED" columns ("About an hour", "2 weeks"). Go's ``%.*g`` and
Python's agree on these values: shortest digits up to the precision, trailing zeros dropped,
an exponent (``1e+03``) only when the value rounds up to 1000.
"""

from __future__ import annotations

import time

_DECIMAL = ("B", "kB", "MB", "GB", "TB", "PB", "EB", "ZB", "YB")
_BINARY = ("B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB", "ZiB", "YiB")


def _size_and_unit(size: float, base: float, units: tuple[str, ...]) -> tuple[float, str]:
    i = 0
    while size >= base and i < len(units) - 1:
        size /= base
        i += 1
    return size, units[i]


def human_size(size: float, precision: int = 4) -> str:
    """go-units HumanSizeWithPrecision: decimal units (kB = 1000 B)."""
    value, unit = _size_and_unit(float(size), 1000.0, _DECIMAL)
    return f"{value:.{precision}g}{unit}"


def bytes_size(size: float) -> str:
    """go-units BytesSize: binary units (KiB = 1024 B), precision 4."""
    value, unit = _size_and_unit(float(size), 1024.0, _BINARY)
    return f"{value:.4g}{unit}"


def human_duration(seconds: float) -> str:
    """go-units HumanDuration for a duration in seconds."""
    whole = int(seconds)
    if whole < 1:
        return "Less than a second"
    if whole == 1:
        return "1 second"
    if whole < 60:
        return f"{whole} seconds"
    minutes = int(seconds / 60)
    if minutes == 1:
        return "About a minute"
    if minutes < 60:
        return f"{minutes} minutes"
    hours = int(seconds / 3600 + 0.5)
    if hours == 1:
        return "About an hour"
    if hours < 48:
        return f"{hours} hours"
    if hours < 24 * 7 * 2:
        return f"{hours // 24} days"
    if hours < 24 * 30 * 2:
        return f"{hours // 24 // 7} weeks"
    if hours < 24 * 365 * 2:
        return f"{hours // 24 // 30} months"
    return f"{int(seconds / 3600) // 24 // 365} years"


def since(unix: float, now: float | None = None) -> str:
    """"2 weeks ago" for a unix time, as the CREATED columns show it."""
    current = time.time() if now is None else now
    return human_duration(current - unix) + " ago"


def _offset(tm: time.struct_time, sep: str) -> str:
    off = tm.tm_gmtoff or 0
    sign = "+" if off >= 0 else "-"
    off = abs(off)
    return f"{sign}{off // 3600:02d}{sep}{off % 3600 // 60:02d}"


def go_time_string(unix: int) -> str:
    """Go's ``time.Unix(t, 0).String()`` in local time: ``2026-11-27 21:39:19 +0000 UTC``."""
    tm = time.localtime(unix)
    return time.strftime("%Y-%m-%d %H:%M:%S ", tm) + _offset(tm, "") + " " + (tm.tm_zone or "")


def rfc3339(unix: int) -> str:
    """Go's ``time.RFC3339`` in local time: ``2026-11-27T21:39:19Z`` or ``...+01:00``."""
    tm = time.localtime(unix)
    zone = "Z" if not tm.tm_gmtoff else _offset(tm, ":")
    return time.strftime("%Y-%m-%dT%H:%M:%S", tm) + zone


def ansic(iso: str) -> str:
    """Go's ``time.ANSIC`` (``Thu May  7 21:09:36 2026``) for an RFC 3339 time; else as is."""
    import datetime

    text = iso.strip()
    try:
        head, _, frac = text.partition(".")
        if frac:
            digits = frac.rstrip("Z").split("+")[0].split("-")[0]
            text = head + frac[len(digits):]
        moment = datetime.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return iso
    return f"{moment:%a %b} {moment.day:2d} {moment:%H:%M:%S %Y}"
