"""Go's ``time.ParseDuration``, for HEALTHCHECK's ``--interval`` and friends, in nanoseconds."""

from __future__ import annotations

from dockyard.build.chars import go_quote
from dockyard.errors import InvalidArgument

_UNITS = {
    "ns": 1,
    "us": 1_000,
    "\u00b5s": 1_000,  # micro sign
    "\u03bcs": 1_000,  # Greek small letter mu
    "ms": 1_000_000,
    "s": 1_000_000_000,
    "m": 60_000_000_000,
    "h": 3_600_000_000_000,
}
_LIMIT = 1 << 63


def parse_duration(text: str) -> int:
    """Nanoseconds of a duration such as ``1h2m3.5s``, ``-1.5h`` or ``300ms``.

    ``[-+]?([0-9]*(\\.[0-9]*)?[a-z]+)+``; a bare ``0`` is allowed; the result must fit in an
    int64. Raises InvalidArgument otherwise.
    """
    invalid = InvalidArgument(f"time: invalid duration {go_quote(text)}")
    rest = text
    negative = False
    if rest[:1] in ("-", "+"):
        negative, rest = rest[0] == "-", rest[1:]
    if rest == "0":
        return 0
    if not rest:
        raise invalid
    total = 0
    while rest:
        value, rest = _component(rest, text, invalid)
        total += value
        if total > _LIMIT:
            raise invalid
    if negative:
        return -total
    if total > _LIMIT - 1:
        raise invalid
    return total


def _component(rest: str, text: str, invalid: InvalidArgument) -> tuple[int, str]:
    """One number-and-unit of a duration, in nanoseconds, and what follows it."""
    digits = _leading(rest, "0123456789")
    whole = digits
    rest = rest[len(digits):]
    fraction = ""
    has_point = rest.startswith(".")
    if has_point:
        fraction = _leading(rest[1:], "0123456789")
        rest = rest[1 + len(fraction):]
    if not digits and not fraction:
        raise invalid
    if whole and int(whole) > _LIMIT:
        raise invalid
    unit = _leading_not(rest, ".0123456789")
    if not unit:
        raise InvalidArgument(f"time: missing unit in duration {go_quote(text)}")
    rest = rest[len(unit):]
    if unit not in _UNITS:
        raise InvalidArgument(f"time: unknown unit {go_quote(unit)} in duration {go_quote(text)}")
    scale = _UNITS[unit]
    value = int(whole or "0")
    if value > _LIMIT // scale:
        raise invalid
    value *= scale
    if fraction:
        # Go accumulates at most the digits that fit in an int64 and works in float64.
        kept = _fraction_digits(fraction)
        if kept:
            value += int(float(int(kept)) * (scale / float(10 ** len(kept))))
        if value > _LIMIT:
            raise invalid
    return value, rest


def _fraction_digits(fraction: str) -> str:
    kept = ""
    for digit in fraction:
        if kept and int(kept) > (_LIMIT - 1) // 10:
            break
        kept += digit
    return kept


def _leading(text: str, allowed: str) -> str:
    size = 0
    while size < len(text) and text[size] in allowed:
        size += 1
    return text[:size]


def _leading_not(text: str, stop: str) -> str:
    size = 0
    while size < len(text) and text[size] not in stop:
        size += 1
    return text[:size]
