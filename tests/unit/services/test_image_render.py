"""Go-shaped image JSON: times as Go re-formats them, container.Config as Go encodes it."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from dockyard.services.image_render import (
    ZERO_TIME,
    GoTime,
    config_labels,
    container_config,
    zero_container_config,
)

ZERO_CONFIG = {
    "Hostname": "", "Domainname": "", "User": "", "AttachStdin": False, "AttachStdout": False,
    "AttachStderr": False, "Tty": False, "OpenStdin": False, "StdinOnce": False, "Env": None,
    "Cmd": None, "Image": "", "Volumes": None, "WorkingDir": "", "Entrypoint": None,
    "OnBuild": None, "Labels": None,
}


@pytest.mark.parametrize(
    ("text", "unix", "formatted"),
    [
        ("2026-11-27T20:27:20.45862501Z", 1795811240, "2026-11-27T20:27:20.45862501Z"),
        ("2026-11-27T20:27:20.458625010Z", 1795811240, "2026-11-27T20:27:20.45862501Z"),
        ("2026-11-27T20:27:20.000Z", 1795811240, "2026-11-27T20:27:20Z"),
        ("2026-11-27T21:27:20+01:00", 1795811240, "2026-11-27T21:27:20+01:00"),
        ("2026-11-27T20:27:20+00:00", 1795811240, "2026-11-27T20:27:20Z"),
        ("2026-11-27T20:27:20.1234567891Z", 1795811240, "2026-11-27T20:27:20.123456789Z"),
        (None, -62135596800, ZERO_TIME),
        ("yesterday", -62135596800, ZERO_TIME),
    ],
)
def test_go_times(text: str | None, unix: int, formatted: str) -> None:
    moment = GoTime.parse(text)
    assert (moment.unix, moment.rfc3339_nano()) == (unix, formatted)


@given(st.datetimes(min_value=datetime(1971, 1, 1), max_value=datetime(2200, 1, 1)),
       st.integers(min_value=0, max_value=999_999_999))
def test_go_time_round_trips(moment: datetime, nanos: int) -> None:
    text = moment.replace(microsecond=0).strftime("%Y-%m-%dT%H:%M:%S") + f".{nanos:09d}Z"
    parsed = GoTime.parse(text)
    assert parsed.unix == int(moment.replace(microsecond=0, tzinfo=UTC).timestamp())
    assert GoTime.parse(parsed.rfc3339_nano()) == parsed


def test_record_times() -> None:
    assert GoTime.from_timestamp(1795811248.5).rfc3339_nano() == "2026-11-27T20:27:28.5Z"


def test_zero_config_is_dockerds() -> None:
    assert zero_container_config() == ZERO_CONFIG
    assert list(zero_container_config()) == list(ZERO_CONFIG)
    assert container_config(None) is None
    assert container_config({}) == ZERO_CONFIG


def test_config_fields_in_go_order_with_omitempty() -> None:
    raw = {
        "cmd": "sh",  # Go matches keys case-insensitively; a string is a one-item StrSlice
        "Env": [],
        "ExposedPorts": {"80/tcp": {}},
        "Volumes": {},
        "Labels": {"b": "2", "a": "1"},
        "Healthcheck": {"Test": ["NONE"], "Interval": 0},
        "StopSignal": "SIGINT",
        "Shell": [],
        "OnBuild": ["RUN x"],
        "Unknown": 1,
    }
    config = container_config(raw)
    assert config == {
        **ZERO_CONFIG, "ExposedPorts": {"80/tcp": {}}, "Env": [], "Cmd": ["sh"],
        "Healthcheck": {"Test": ["NONE"]}, "Volumes": {}, "OnBuild": ["RUN x"],
        "Labels": {"a": "1", "b": "2"}, "StopSignal": "SIGINT",
    }
    assert list(config or {}) == [
        "Hostname", "Domainname", "User", "AttachStdin", "AttachStdout", "AttachStderr",
        "ExposedPorts", "Tty", "OpenStdin", "StdinOnce", "Env", "Cmd", "Healthcheck", "Image",
        "Volumes", "WorkingDir", "Entrypoint", "OnBuild", "Labels", "StopSignal",
    ]


def test_labels_of_a_config() -> None:
    assert config_labels({}) is None
    assert config_labels({"config": {}}) is None
    assert config_labels({"config": {"Labels": {}}}) == {}
    assert config_labels({"config": {"Labels": {"a": "b"}}}) == {"a": "b"}
