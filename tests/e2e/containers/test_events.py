"""``docker events`` and docker-py's ``events()`` against dockyardd: a filtered listener sees a
run's create, attach, start, die (exitCode) and destroy as dockerd prints them; exec events
carry their command; ``--since``/``--until`` replay the past and end."""

from __future__ import annotations

import json
import os
import re
import subprocess
import time
from pathlib import Path

import pytest

from ..conftest import DOCKER_CLI, Daemon
from .conftest import CLI

pytestmark = [pytest.mark.root, pytest.mark.slow]

LINE = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d+Z container (.+?) ([0-9a-f]{64}) "
                  r"\((.*)\)$")


def listen(daemon: Daemon, *args: str) -> subprocess.Popen[str]:
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(daemon.workdir),
           "DOCKER_HOST": daemon.host, "DOCKER_CONFIG": str(daemon.workdir / "docker-config")}
    process = subprocess.Popen([str(DOCKER_CLI), "events", *args], stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True, env=env)
    time.sleep(0.5)  # the CLI has connected (dockerd's headers come at once)
    return process


def collect(process: subprocess.Popen[str]) -> list[tuple[str, str, str]]:
    process.terminate()
    out, _ = process.communicate(10)
    found = []
    for line in out.splitlines():
        match = LINE.match(line)
        assert match, line
        found.append((match.group(1), match.group(2), match.group(3)))
    return found


def test_run_events_as_dockerd_prints_them(engine: Daemon, cli: CLI) -> None:
    listener = listen(engine, "--filter", "container=tev", "--filter", "type=container")
    other = listen(engine, "--filter", "event=die", "--filter", "label=k=v")
    try:
        assert cli("run", "--rm", "--name", "tev", "busybox", "true")[0] == 0
        assert cli("run", "--rm", "--name", "nolabel", "busybox", "sh", "-c", "exit 3")[0] == 3
        assert cli("run", "--rm", "-l", "k=v", "busybox", "sh", "-c", "exit 4")[0] == 4
        time.sleep(0.5)
    finally:
        seen = collect(listener)
        dies = collect(other)
    container_id = seen[0][1]
    assert [(action, attrs) for action, cid, attrs in seen if cid == container_id] == [
        ("create", "image=busybox, name=tev"), ("attach", "image=busybox, name=tev"),
        ("start", "image=busybox, name=tev"), ("die", "exitCode=0, image=busybox, name=tev"),
        ("destroy", "image=busybox, name=tev")]
    assert [(a, attrs.split(", ")[0]) for a, _, attrs in dies] == [("die", "exitCode=4")]


def test_exec_and_kill_events_then_replay(engine: Daemon, cli: CLI) -> None:
    start = time.time()  # pid 1 ignores a TERM it has no handler for: the trap is one
    cli("run", "-d", "--name", "t2", "busybox", "sh", "-c",
        "trap 'exit 0' TERM; sleep 100 & wait")
    cli("exec", "t2", "true")
    cli("exec", "t2", "sh", "-c", "exit 2")
    cli("kill", "-s", "TERM", "t2")
    assert cli("wait", "t2")[1] == "0\n"  # the die event may follow the exit by a few ms
    until = f"{time.time() + 0.5:.3f}"
    code, out, err = cli("events", "--since", f"{start - 1:.3f}", "--until", until,
                         "--filter", "container=t2")
    assert code == 0, err
    actions = [LINE.match(line).group(1) for line in out.splitlines()]  # type: ignore[union-attr]
    assert actions == ["create", "start", "exec_create: true ", "exec_start: true ", "exec_die",
                       "exec_create: sh -c exit 2", "exec_start: sh -c exit 2", "exec_die",
                       "kill", "die"]
    assert "exitCode=2" in out.splitlines()[7] and "signal=15" in out.splitlines()[8]
    code, _, err = cli("events", "--since", "10", "--until", "5")
    assert (code, err.strip()) == (1, "Error response from daemon: `since` time (10) cannot be "
                                      "after `until` time (5)")


def test_docker_py_events(engine: Daemon, cli: CLI) -> None:
    docker = pytest.importorskip("docker")
    client = docker.DockerClient(base_url=engine.host)
    try:
        since = time.time()
        cli("create", "--name", "made", "-l", "a=b", "busybox", "true")
        cli("rm", "made")
        events = list(client.events(since=since - 1, until=time.time() + 0.5, decode=True,
                                    filters={"label": ["a=b"]}))
        assert [(e["status"], e["Type"], e["Actor"]["Attributes"]) for e in events] == [
            ("create", "container", {"a": "b", "image": "busybox", "name": "made"}),
            ("destroy", "container", {"a": "b", "image": "busybox", "name": "made"})]
        assert set(events[0]) == {"status", "id", "from", "Type", "Action", "Actor", "scope",
                                  "time", "timeNano"}
        assert json.loads(json.dumps(events[0]))["from"] == "busybox"
    finally:
        client.close()


def test_restart_and_image_events(engine: Daemon, cli: CLI, tmp_path: Path) -> None:
    start = time.time()
    cli("run", "-d", "--name", "ev", "busybox", "sleep", "100")
    assert cli("restart", "-t", "0", "ev")[0] == 0
    assert cli("tag", "busybox", "bb:evt")[0] == 0
    assert cli("rmi", "bb:evt")[0] == 0
    image_id = cli("image", "inspect", "-f", "{{.Id}}", "busybox")[1].strip()
    archive = tmp_path / "bb.tar"
    assert cli("save", "-o", str(archive), "busybox")[0] == 0
    assert cli("load", "-i", str(archive))[0] == 0
    code, out, err = cli("events", "--since", f"{start - 1:.3f}", "--until",
                         f"{time.time() + 0.5:.3f}", "--filter", "container=ev", "--format",
                         "{{.Action}} {{index .Actor.Attributes \"signal\"}}")
    assert code == 0, err
    assert [line.strip() for line in out.splitlines()] == [
        "create", "start", "kill 15", "kill 9", "die", "stop", "start", "restart"]
    code, out, err = cli("events", "--since", f"{start - 1:.3f}", "--until",
                         f"{time.time() + 0.5:.3f}", "--filter", "type=image", "--filter",
                         "event=tag", "--filter", "event=untag", "--filter", "event=save",
                         "--filter", "event=load", "--format",
                         "{{.Action}} {{.Actor.ID}} {{.Actor.Attributes.name}}")
    assert out.splitlines() == [f"tag {image_id} bb:evt", f"untag {image_id} {image_id}",
                                f"save {image_id} {image_id}", f"load {image_id} {image_id}"]
