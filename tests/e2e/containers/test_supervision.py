"""Restart policies and health checks through the docker CLI, as dockerd behaves: always,
unless-stopped and on-failure:N with RestartCount, no restart after a stop or kill, a stop
that ends a restart wait at once, "Restarting (1) ..." in ps; policies applied when the
daemon starts again; health status, failing streak, log, timeouts, ``(healthy)`` in ps and
``health_status`` events."""

from __future__ import annotations

import json
import time

import pytest

from ..conftest import Daemon, start_daemon, stop
from .conftest import CLI

pytestmark = [pytest.mark.root, pytest.mark.slow]


def inspect(cli: CLI, name: str, template: str) -> str:
    code, out, err = cli("inspect", "-f", template, name)
    assert code == 0, err
    return out.strip()


def wait_for(predicate, timeout: float = 10.0) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.1)


def test_restart_policies(engine: Daemon, cli: CLI) -> None:
    cli("run", "-d", "--name", "always", "--restart", "always", "busybox", "sh", "-c",
        "sleep 0.5; exit 1")
    cli("run", "-d", "--name", "killed", "--restart", "always", "busybox", "sleep", "100")
    cli("run", "-d", "--name", "failing", "--restart", "on-failure:2", "busybox", "sh", "-c",
        "exit 1")
    cli("run", "-d", "--name", "fine", "--restart", "on-failure", "busybox", "true")
    cli("run", "-d", "--name", "unless", "--restart", "unless-stopped", "busybox", "sleep",
        "100")
    wait_for(lambda: inspect(cli, "failing", "{{.RestartCount}} {{.State.Status}}") ==
             "2 exited")
    wait_for(lambda: int(inspect(cli, "always", "{{.RestartCount}}")) >= 2)
    assert inspect(cli, "fine", "{{.RestartCount}} {{.State.Status}}") == "0 exited"
    assert cli("kill", "killed")[0] == 0
    assert cli("stop", "-t", "0", "unless")[0] == 0
    time.sleep(1)
    assert inspect(cli, "killed", "{{.RestartCount}} {{.State.Status}}") == "0 exited"
    assert inspect(cli, "unless", "{{.RestartCount}} {{.State.Status}}") == "0 exited"
    wait_for(lambda: inspect(cli, "always", "{{.State.Status}}") == "restarting", 20)
    _, out, _ = cli("ps", "--filter", "name=always", "--format", "{{.Status}}")
    assert out.startswith("Restarting (1) ")
    state = json.loads(inspect(cli, "always", "{{json .State}}"))
    assert (state["Running"], state["Restarting"]) == (True, True)
    started = time.monotonic()
    assert cli("stop", "always")[0] == 0  # ends the wait: no signal to send, no timeout
    assert time.monotonic() - started < 5
    assert inspect(cli, "always", "{{.State.Status}}") == "exited"
    # a start through the API resets the count
    assert cli("start", "failing")[0] == 0
    wait_for(lambda: inspect(cli, "failing", "{{.RestartCount}} {{.State.Status}}") ==
             "2 exited")


def test_policies_at_daemon_start(engine: Daemon, cli: CLI) -> None:
    cli("run", "-d", "--name", "always", "--restart", "always", "busybox", "sleep", "100")
    cli("run", "-d", "--name", "unless", "--restart", "unless-stopped", "busybox", "sleep",
        "100")
    cli("run", "-d", "--name", "never", "busybox", "sleep", "100")
    cli("stop", "-t", "0", "always", "unless", "never")
    assert stop(engine.process) == 0
    restarted = start_daemon(engine.workdir)
    engine.process = restarted.process
    wait_for(lambda: inspect(cli, "always", "{{.State.Status}}") == "running")
    assert inspect(cli, "unless", "{{.State.Status}}") == "exited"
    assert inspect(cli, "never", "{{.State.Status}}") == "exited"


def test_healthcheck(engine: Daemon, cli: CLI) -> None:
    since = f"{time.time() - 1:.3f}"
    code, _, err = cli("run", "-d", "--name", "hc", "--health-cmd",
                       "test -f /ok || (echo not yet; exit 1)", "--health-interval", "1s",
                       "--health-retries", "2", "--health-timeout", "2s", "busybox", "sh",
                       "-c", "sleep 3; touch /ok; sleep 100")
    assert code == 0, err
    assert cli("ps", "--format", "{{.Status}}")[1].endswith("(health: starting)\n")
    wait_for(lambda: inspect(cli, "hc", "{{.State.Health.Status}}") == "unhealthy")
    health = json.loads(inspect(cli, "hc", "{{json .State.Health}}"))
    assert health["FailingStreak"] == 2
    assert [(e["ExitCode"], e["Output"]) for e in health["Log"]] == [(1, "not yet\n")] * 2
    wait_for(lambda: inspect(cli, "hc", "{{.State.Health.Status}}") == "healthy")
    assert cli("ps", "--format", "{{.Status}}")[1].endswith("(healthy)\n")
    code, out, _ = cli("events", "--since", since, "--until", f"{time.time():.3f}",
                       "--filter", "event=health_status", "--format", "{{.Action}}")
    assert out.splitlines() == ["health_status: unhealthy", "health_status: healthy"]
    assert cli("stop", "-t", "0", "hc")[0] == 0
    assert inspect(cli, "hc", "{{.State.Health.Status}}") == "unhealthy"
    cli("run", "-d", "--name", "slow", "--health-cmd", "sleep 5", "--health-interval", "1s",
        "--health-timeout", "1s", "busybox", "sleep", "100")
    wait_for(lambda: inspect(cli, "slow", "{{len .State.Health.Log}}") == "1")
    health = json.loads(inspect(cli, "slow", "{{json .State.Health}}"))
    assert (health["Status"], health["FailingStreak"], health["Log"][0]["ExitCode"],
            health["Log"][0]["Output"]) == ("starting", 1, -1,
                                            "Health check exceeded timeout (1s)")
    assert cli("run", "-d", "--name", "none", "--no-healthcheck", "busybox", "sleep",
               "100")[0] == 0
    assert inspect(cli, "none", "{{json .State.Health}}") == "null"
