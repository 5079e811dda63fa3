"""Go's formatting of the values the classic builder writes into history lines.

dockerd 20.10 records each step as ``fmt.Sprintf`` output (``CMD %q``, ``VOLUME %v``,
``HEALTHCHECK %q`` of a struct pointer), so matching its ``docker history`` means formatting as
Go's fmt does: strings quoted by ``strconv.Quote``, slices in brackets separated by spaces,
``time.Duration`` by its ``String`` method, an ``int`` under ``%q`` as a quoted rune.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

from dockyard.build.chars import go_quote
from dockyard.oci.config import Healthcheck

_RUNE_ESCAPES = {"\a": "\\a", "\b": "\\b", "\f": "\\f", "\n": "\\n", "\r": "\\r", "\t": "\\t",
                 "\v": "\\v", "\\": "\\\\", "'": "\\'"}


def quote_list(values: Sequence[str] | None) -> str:
    """``%q`` of a ``[]string``: ``["a" "b"]``; ``[]`` for nil or empty."""
    return "[" + " ".join(go_quote(v) for v in values or ()) + "]"


def value_list(values: Sequence[str] | None) -> str:
    """``%v`` of a ``[]string``: ``[a b]``."""
    return "[" + " ".join(values or ()) + "]"


def quote_rune(value: int) -> str:
    """``%q`` of an int: ``strconv.QuoteRune``."""
    if value < 0 or value > 0x10FFFF or 0xD800 <= value <= 0xDFFF:
        return "'\\ufffd'"
    ch = chr(value)
    if ch in _RUNE_ESCAPES:
        return f"'{_RUNE_ESCAPES[ch]}'"
    if ch.isprintable():
        return f"'{ch}'"
    if value < 0x80:
        return f"'\\x{value:02x}'"
    if value <= 0xFFFF:
        return f"'\\u{value:04x}'"
    return f"'\\U{value:08x}'"


def _fraction(value: int, precision: int) -> str:
    whole, frac = divmod(value, 10**precision)
    digits = f"{frac:0{precision}d}".rstrip("0")
    return f"{whole}.{digits}" if digits else str(whole)


def duration(ns: int) -> str:
    """Go's ``time.Duration.String``: ``1h2m3.5s``, ``300ms``, ``0s``."""
    if ns == 0:
        return "0s"
    sign = "-" if ns < 0 else ""
    value = abs(ns)
    if value < 1_000:
        return f"{sign}{value}ns"
    if value < 1_000_000:
        return f"{sign}{_fraction(value, 3)}\u00b5s"
    if value < 1_000_000_000:
        return f"{sign}{_fraction(value, 6)}ms"
    seconds, nanos = divmod(value, 1_000_000_000)
    text = _fraction((seconds % 60) * 1_000_000_000 + nanos, 9) + "s"
    minutes = seconds // 60
    if minutes:
        text = f"{minutes % 60}m{text}"
        if minutes // 60:
            text = f"{minutes // 60}h{text}"
    return sign + text


def health_struct(health: Healthcheck) -> str:
    """``%q`` of a ``*container.HealthConfig`` as dockerd 20.10 prints it (``StartInterval``,
    a later field, only when it is set)."""
    durations = [health.interval, health.timeout, health.start_period]
    if health.start_interval:
        durations.append(health.start_interval)
    parts = [quote_list(health.test), *(go_quote(duration(d)) for d in durations),
             quote_rune(health.retries)]
    return "&{" + " ".join(parts) + "}"


def rfc3339_nano(ns: int) -> str:
    """Go's ``time.RFC3339Nano`` of a UTC time given in nanoseconds since the epoch."""
    seconds, frac = divmod(ns, 1_000_000_000)
    text = datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%dT%H:%M:%S")
    if frac:
        text += "." + f"{frac:09d}".rstrip("0")
    return text + "Z"
