"""The "did you mean" hint of buildkit's util/suggest: the closest option within distance 2."""

from __future__ import annotations

from collections.abc import Iterable


def distance(a: str, b: str) -> int:
    """The Levenshtein distance between two strings."""
    previous = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        current = [i]
        for j, cb in enumerate(b, 1):
            current.append(min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (ca != cb)))
        previous = current
    return previous[-1]


def suggest(value: str, options: Iterable[str], case_sensitive: bool = True) -> str | None:
    """The option closest to ``value`` (fewer than 3 edits), or None (also on an exact match).

    Without case sensitivity the answer takes the case of ``value`` when that is all upper or
    all lower case.
    """
    wanted = value if case_sensitive else value.lower()
    best: str | None = None
    best_distance = 3
    for option in sorted(options):
        candidate = option if case_sensitive else option.lower()
        if candidate == wanted:
            return None
        dist = distance(wanted, candidate)
        if dist < best_distance:
            best, best_distance = candidate, dist
    if best is None or case_sensitive:
        return best
    if value == value.lower():
        return best.lower()
    if value == value.upper():
        return best.upper()
    return best


def did_you_mean(message: str, value: str, options: Iterable[str], case_sensitive: bool = True,
                 prefix: str = "") -> str:
    """``message`` with `` (did you mean X?)`` appended when a close option exists."""
    match = suggest(value, options, case_sensitive)
    return message if match is None else f"{message} (did you mean {prefix}{match}?)"
