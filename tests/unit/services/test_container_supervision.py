"""Restart policies and health checks, their pure parts: dockerd's decisions, backoff, the
Health after a probe, probe commands and output."""

from __future__ import annotations

import struct

from dockyard.containers.config import ContainerConfig, HostConfig
from dockyard.containers.record import Container, State
from dockyard.services.container_health import next_health, output_of, probe_command
from dockyard.services.container_restart import next_delay, should_restart


def container(policy: str, *, retries: int = 0, code: int = 0, stopped: bool = False,
              count: int = 0) -> Container:
    return Container("c" * 64, "/c", "2026-11-27T20:00:00Z", "sha256:" + "0" * 64,
                     ContainerConfig(), HostConfig(restart_policy=policy,
                                                   restart_retries=retries),
                     State(status="exited", exit_code=code), restart_count=count,
                     manually_stopped=stopped)


def test_should_restart() -> None:
    cases = [
        (container("no", code=1), False, False),
        (container("always"), True, True),
        (container("always", stopped=True), False, True),  # daemon start: always restarts
        (container("unless-stopped"), True, True),
        (container("unless-stopped", stopped=True), False, False),
        (container("on-failure", code=0), False, False),
        (container("on-failure", code=1), True, True),
        (container("on-failure", code=1, retries=2, count=1), True, True),
        (container("on-failure", code=1, retries=2, count=2), False, False),
        (container("on-failure", code=1, stopped=True), False, False),
    ]
    assert [(should_restart(c), should_restart(c, at_daemon_start=True)) for c, _, _ in cases] \
        == [(run, start) for _, run, start in cases]


def test_backoff() -> None:
    delays = []
    delay = 0.0
    for _ in range(12):
        delay = next_delay(delay, 1.0)
        delays.append(delay)
    assert delays[:4] == [0.1, 0.2, 0.4, 0.8]
    assert delays[-1] == 60.0
    assert next_delay(60.0, 10.0) == 0.1  # ran for 10 s: back to the first delay


def result(code: int) -> dict[str, object]:
    return {"Start": "s", "End": "e", "ExitCode": code, "Output": ""}


def test_health_as_dockerd() -> None:
    health: dict[str, object] = {"Status": "starting", "FailingStreak": 0, "Log": []}
    health = next_health(health, result(1), retries=2, in_start_period=True)
    assert (health["Status"], health["FailingStreak"]) == ("starting", 0)
    health = next_health(health, result(1), retries=2, in_start_period=False)
    assert (health["Status"], health["FailingStreak"]) == ("starting", 1)
    health = next_health(health, result(-1), retries=2, in_start_period=False)
    assert (health["Status"], health["FailingStreak"]) == ("unhealthy", 2)
    health = next_health(health, result(0), retries=2, in_start_period=False)
    assert (health["Status"], health["FailingStreak"]) == ("healthy", 0)
    for _ in range(6):  # the start period counts only until the first success
        health = next_health(health, result(1), retries=5, in_start_period=True)
    assert len(health["Log"]) == 5  # type: ignore[arg-type]
    assert (health["Status"], health["FailingStreak"]) == ("unhealthy", 6)


def test_probe_commands_and_output() -> None:
    assert probe_command({"Test": ["CMD", "true", "x"]}, None) == ("true", "x")
    assert probe_command({"Test": ["CMD-SHELL", "exit 1"]}, None) == ("/bin/sh", "-c", "exit 1")
    assert probe_command({"Test": ["CMD-SHELL", "x"]}, ("/bin/bash", "-c")) == \
        ("/bin/bash", "-c", "x")
    assert probe_command({"Test": ["NONE"]}, None) == ()
    assert probe_command({}, None) == ()
    frames = struct.pack(">BxxxI", 1, 3) + b"out" + struct.pack(">BxxxI", 2, 3) + b"err"
    assert output_of(frames) == "outerr"
    big = struct.pack(">BxxxI", 1, 5000) + b"x" * 5000
    assert output_of(big) == "x" * 4096 + "..."


def test_healthcheck_checks_at_create() -> None:
    import pytest

    from dockyard.containers.health import check_healthcheck
    from dockyard.errors import InvalidArgument

    check_healthcheck(None)
    check_healthcheck({"Test": ["CMD", "true"], "Interval": 10**9, "Retries": 3})
    for check, message in (
            ({"Interval": 1000}, "Interval in Healthcheck cannot be less than 1ms"),
            ({"Timeout": 5}, "Timeout in Healthcheck cannot be less than 1ms"),
            ({"StartPeriod": 999_999}, "StartPeriod in Healthcheck cannot be less than 1ms"),
            ({"Retries": -1}, "Retries in Healthcheck cannot be negative")):
        with pytest.raises(InvalidArgument) as caught:
            check_healthcheck(check)
        assert str(caught.value) == message
