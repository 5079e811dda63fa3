"""The image filters of ``GET /images/json`` and ``POST /images/prune``, as dockerd 20.10 reads
them (daemon/images/images.go, image_prune.go; api/types/filters).

* ``reference``: Go ``path.Match`` globs (``*`` and ``?`` stop at ``/``, ``[a-z]``, ``[^x]``,
  ``\\`` escapes), tried against ``name:tag`` and then against the bare name, in familiar form.
* ``label``: ``key`` or ``key=value``, all of them must match; ``label!`` (prune) must not.
* ``dangling``: ``true`` or ``false`` (prune also takes ``1`` and ``0``).
* ``before`` / ``since``: an image; keeps images created strictly before / after it.
* ``until`` (prune): a Go duration before now, a unix time, or an RFC 3339 date or time.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime

from dockyard.errors import InvalidArgument
from dockyard.events import match_labels
from dockyard.oci.reference import Reference

# match_labels (Go's MatchKVList) is the events filter's, shared by every resource's filters.
__all__ = ["LIST_FILTERS", "PRUNE_FILTERS", "check_keys", "dangling_only", "go_path_match",
           "invalid_filter", "match_labels", "match_prune_labels", "match_reference",
           "parse_go_duration", "parse_timestamp", "parse_until"]

LIST_FILTERS = frozenset({"dangling", "label", "before", "since", "reference"})
PRUNE_FILTERS = frozenset({"dangling", "label", "label!", "until"})

_DURATION_UNITS = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "μs": 1e-6, "ms": 1e-3, "s": 1.0,
                   "m": 60.0, "h": 3600.0}
_DURATION_PART = re.compile(r"([0-9]*(?:\.[0-9]*)?)(ns|us|µs|μs|ms|s|m|h)")
_TIME_LAYOUTS = ("%Y-%m-%dT%H:%M:%S.%f%z", "%Y-%m-%dT%H:%M:%S%z", "%Y-%m-%dT%H:%M:%S.%f",
                 "%Y-%m-%dT%H:%M:%S", "%Y-%m-%dT%H:%M%z", "%Y-%m-%dT%H:%M", "%Y-%m-%dT%H%z",
                 "%Y-%m-%dT%H", "%Y-%m-%d%z", "%Y-%m-%d")
_BAD_PATTERN = "syntax error in pattern"


def invalid_filter(key: str, values: Sequence[str] | None = None) -> InvalidArgument:
    """dockerd's ``invalidFilter`` text: ``Invalid filter 'key'`` or ``'key=[v1 v2]'``."""
    if values is None:
        return InvalidArgument(f"Invalid filter '{key}'")
    return InvalidArgument(f"Invalid filter '{key}=[{' '.join(values)}]'")


def check_keys(filters: Mapping[str, Sequence[str]], allowed: frozenset[str]) -> None:
    for key in filters:
        if key not in allowed:
            raise invalid_filter(key)


def dangling_only(filters: Mapping[str, Sequence[str]], *, prune: bool) -> bool:
    """Whether only dangling images are wanted. ``images`` defaults to all, prune to dangling."""
    values = filters.get("dangling")
    if values is None:
        return prune
    yes, no = ({"true", "1"}, {"false", "0"}) if prune else ({"true"}, {"false"})
    if any(v in yes for v in values):
        return True
    if any(v in no for v in values):
        return False
    raise invalid_filter("dangling", values)


def match_prune_labels(filters: Mapping[str, Sequence[str]], labels: Mapping[str, str]) -> bool:
    if not match_labels(filters.get("label", []), labels):
        return False
    negated = filters.get("label!", [])
    return not (negated and match_labels(negated, labels))


def match_reference(patterns: Sequence[str], reference: Reference) -> bool:
    """distribution's ``FamiliarMatch`` against any of ``patterns``."""
    for pattern in patterns:
        if go_path_match(pattern, reference.familiar()):
            return True
        if go_path_match(pattern, reference.familiar_name()):
            return True
    return False


def go_path_match(pattern: str, name: str) -> bool:
    """Go's ``path.Match``; a malformed pattern is InvalidArgument."""
    return _compile_glob(pattern).fullmatch(name) is not None


def _compile_glob(pattern: str) -> re.Pattern[str]:
    out: list[str] = []
    i = 0
    while i < len(pattern):
        char = pattern[i]
        if char == "*":
            out.append("[^/]*")
        elif char == "?":
            out.append("[^/]")
        elif char == "\\":
            if i + 1 >= len(pattern):
                raise InvalidArgument(_BAD_PATTERN)
            i += 1
            out.append(re.escape(pattern[i]))
        elif char == "[":
            cls, i = _glob_class(pattern, i + 1)
            out.append(cls)
            continue
        else:
            out.append(re.escape(char))
        i += 1
    return re.compile("".join(out), re.DOTALL)


def _glob_class(pattern: str, i: int) -> tuple[str, int]:
    """A ``[...]`` class starting after its ``[``; returns the regex and the index after ``]``."""
    negate = i < len(pattern) and pattern[i] == "^"
    i += negate
    ranges: list[str] = []
    while True:
        if i >= len(pattern):
            raise InvalidArgument(_BAD_PATTERN)
        if pattern[i] == "]" and ranges:
            break
        low, i = _class_char(pattern, i)
        high = low
        if i < len(pattern) and pattern[i] == "-":
            high, i = _class_char(pattern, i + 1)
            if high < low:
                raise InvalidArgument(_BAD_PATTERN)
        ranges.append(f"{re.escape(low)}-{re.escape(high)}")
    return f"[{'^' if negate else ''}{''.join(ranges)}]", i + 1


def _class_char(pattern: str, i: int) -> tuple[str, int]:
    if i >= len(pattern) or pattern[i] in "-]":
        raise InvalidArgument(_BAD_PATTERN)
    if pattern[i] == "\\":
        i += 1
        if i >= len(pattern):
            raise InvalidArgument(_BAD_PATTERN)
    return pattern[i], i + 1


def parse_go_duration(text: str) -> float:
    """Go's ``time.ParseDuration`` in seconds (``1h30m``, ``-1.5s``, ``300ms``)."""
    body = text.lstrip("+-")
    sign = -1.0 if text.startswith("-") else 1.0
    if body == "0":
        return 0.0
    position, total = 0, 0.0
    while position < len(body):
        match = _DURATION_PART.match(body, position)
        if match is None or match.group(1) in ("", "."):
            raise InvalidArgument(f"time: invalid duration {text!r}")
        total += float(match.group(1)) * _DURATION_UNITS[match.group(2)]
        position = match.end()
    if not body:
        raise InvalidArgument(f"time: invalid duration {text!r}")
    return sign * total


def parse_until(filters: Mapping[str, Sequence[str]], now: float) -> float | None:
    """The prune ``until`` filter as unix seconds, or None without one."""
    values = filters.get("until", [])
    if not values:
        return None
    if len(values) > 1:
        raise InvalidArgument("more than one until filter specified")
    return parse_timestamp(values[0], now)


def parse_timestamp(value: str, now: float) -> float:
    """docker's ``timetypes.GetTimestamp``: a duration before ``now``, unix seconds with an
    optional fraction, or an RFC 3339 date or time (local times are taken as UTC)."""
    try:
        return now - parse_go_duration(value)
    except InvalidArgument:
        pass
    if re.fullmatch(r"-?[0-9]+(?:\.[0-9]+)?", value):
        return float(value)
    text = value[:-1] + "+0000" if value.endswith(("Z", "z")) else value
    text = re.sub(r"([+-]\d{2}):(\d{2})$", r"\1\2", text)
    for layout in _TIME_LAYOUTS:
        try:
            moment = datetime.strptime(text, layout)
        except ValueError:
            continue
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=UTC)
        return moment.timestamp()
    raise InvalidArgument(f"failed to parse value as time or duration: {value!r}")
