"""--since and --until of ``events`` and ``logs``: the query they send, and a bad value."""

from __future__ import annotations

from typing import Any

from ..client import fake_daemon as fake
from .test_commands import cli

NOW = 1795811262.831


def test_events_sends_since_and_until(daemon: Any) -> None:
    daemon.routes[("GET", "/events")] = lambda r: (200, {"Content-Type": "application/json"}, [])
    assert cli(daemon, "events", "--since", "1h", "--until", "1795811000", now=NOW) == (0, "", "")
    assert daemon.requests[-1].query == "since=1795807662&until=1795811000"


def _container(daemon: Any) -> None:
    daemon.routes[("GET", "/containers/c1/json")] = lambda r: fake.json_reply(
        {"Id": "c1", "Config": {"Tty": True}})
    daemon.routes[("GET", "/containers/c1/logs")] = lambda r: (200, {}, b"")


def test_logs_sends_since(daemon: Any) -> None:
    _container(daemon)
    assert cli(daemon, "logs", "--since", "10m", "c1", now=NOW)[0] == 0
    assert daemon.requests[-1].query == "since=1795810662&stderr=1&stdout=1&tail=all"


def test_a_bad_time_is_refused_before_the_stream(daemon: Any) -> None:
    message = 'failed to parse value as time or duration: "soon"\n'
    assert cli(daemon, "events", "--until", "soon") == (1, "", message)
    assert daemon.requests == []
    _container(daemon)
    assert cli(daemon, "logs", "--since", "soon", "c1") == (1, "", message)
    assert daemon.requests[-1].path == "/containers/c1/json"
