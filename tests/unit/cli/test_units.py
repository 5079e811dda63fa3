"""go-units sizes and durations, and Go time formats."""

from __future__ import annotations

import pytest

from dockyard.cli import units


@pytest.mark.parametrize(("size", "precision", "expected"), [
    (0, 3, "0B"), (2, 3, "2B"), (999, 3, "999B"), (1000, 3, "1kB"), (1982319, 3, "1.98MB"),
    (1985857, 3, "1.99MB"), (1982319, 4, "1.982MB"), (226431422, 4, "226.4MB"),
    (224400000, 4, "224.4MB"), (232, 4, "232B"), (999999, 3, "1e+03kB"),
    (10**24, 3, "1YB"), (5 * 10**27, 3, "5e+03YB"),
])
def test_human_size(size: int, precision: int, expected: str) -> None:
    assert units.human_size(size, precision) == expected


def test_bytes_size_is_binary() -> None:
    assert units.bytes_size(25276514304) == "23.54GiB"
    assert units.bytes_size(1023) == "1023B"


@pytest.mark.parametrize(("seconds", "expected"), [
    (0.5, "Less than a second"), (-5, "Less than a second"), (1, "1 second"),
    (59, "59 seconds"), (60, "About a minute"), (119, "About a minute"),
    (120, "2 minutes"), (3599, "59 minutes"), (3600, "About an hour"),
    (5399, "About an hour"), (5400, "2 hours"), (47 * 3600, "47 hours"),
    (48 * 3600, "2 days"), (13 * 86400, "13 days"), (14 * 86400, "2 weeks"),
    (59 * 86400, "8 weeks"), (60 * 86400, "2 months"), (729 * 86400, "24 months"),
    (730 * 86400, "2 years"),
])
def test_human_duration(seconds: float, expected: str) -> None:
    assert units.human_duration(seconds) == expected


def test_since() -> None:
    assert units.since(1795811262, now=1795811262.83) == "Less than a second ago"
    assert units.since(1795811240, now=1795811262.83) == "22 seconds ago"


def test_time_formats_in_utc(monkeypatch: pytest.MonkeyPatch) -> None:
    import time

    monkeypatch.setenv("TZ", "UTC")
    time.tzset()
    try:
        assert units.go_time_string(1795815559) == "2026-11-27 21:39:19 +0000 UTC"
        assert units.rfc3339(1795815559) == "2026-11-27T21:39:19Z"
    finally:
        monkeypatch.undo()
        time.tzset()


def test_ansic() -> None:
    assert units.ansic("2026-05-07T21:09:36.000000000+00:00") == "Thu May  7 21:09:36 2026"
    assert units.ansic("not a time") == "not a time"
