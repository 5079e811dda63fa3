"""The pure parts of ps filters and prune: Go's Match, port specs, until, unknown keys."""

from __future__ import annotations

import pytest

from dockyard.errors import InvalidArgument
from dockyard.services.container_filters import (
    LIST_FILTERS,
    PRUNE_FILTERS,
    _match,
    _port_match,
    check,
    parse_until,
)


def test_match_is_equal_or_a_regexp_found() -> None:
    assert _match(["web"], "my-web-1")
    assert _match(["^/web"], "/web")
    assert not _match(["^web"], "/web")
    assert _match(["[bad"], "[bad")  # an invalid expression still matches itself
    assert not _match(["[bad"], "other")


def test_ports() -> None:
    ports = {(80, "tcp"), (53, "udp")}
    assert _port_match("80", ports)
    assert _port_match("80/tcp", ports)
    assert not _port_match("80/udp", ports)
    assert _port_match("50-60/udp", ports)
    with pytest.raises(InvalidArgument):
        _port_match("x", ports)


def test_until() -> None:
    now = 1_000_000.0
    assert parse_until("10m", now) == int((now - 600) * 10**9)
    assert parse_until("1h30m", now) == int((now - 5400) * 10**9)
    assert parse_until("1795811163.5", now) == 1795811163_500_000_000
    assert parse_until("2026-11-27T20:00:00Z", now) == 1795809600 * 10**9
    with pytest.raises(InvalidArgument, match="failed to parse value as time or duration"):
        parse_until("yesterday", now)


def test_keys() -> None:
    check({"status": ["exited"]}, LIST_FILTERS)
    check({"until": ["1h"], "label!": ["a"]}, PRUNE_FILTERS)
    with pytest.raises(InvalidArgument, match=r"^Invalid filter 'name'$"):
        check({"name": ["x"]}, PRUNE_FILTERS)
