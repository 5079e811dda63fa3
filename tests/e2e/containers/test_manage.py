"""rename and top through the real docker CLI, with dockerd's answers: the new name in ps and
inspect, the ``rename`` event, refusals in dockerd's words; top's table for the default
``-ef`` (read from /proc) and for other ps arguments, compared with dockerd's."""

from __future__ import annotations

import subprocess
import time

import pytest

from ..comparison import DOCKERD_SOCKET, _alive
from ..conftest import DOCKER_CLI, Daemon
from .conftest import CLI

pytestmark = [pytest.mark.root, pytest.mark.slow]


def test_rename(engine: Daemon, cli: CLI) -> None:
    assert cli("create", "--name", "first", "busybox", "true")[0] == 0
    assert cli("create", "--name", "taken", "busybox", "true")[0] == 0
    since = f"{time.time() - 1:.3f}"
    assert cli("rename", "first", "second") == (0, "", "")
    assert cli("inspect", "-f", "{{.Name}}", "second")[1] == "/second\n"
    assert cli("inspect", "first")[0] == 1
    code, _, err = cli("rename", "second", "taken")
    assert code == 1 and err.startswith(
        'Error response from daemon: Error when allocating new name: Conflict. The container '
        'name "/taken" is already in use by container "')
    assert cli("rename", "second", "second")[2] == (
        "Error response from daemon: Renaming a container with the same name as its current "
        "name\nError: failed to rename container named second\n")
    assert "Invalid container name (/bad name)" in cli("rename", "second", "bad name")[2]
    code, out, _ = cli("events", "--since", since, "--until", f"{time.time() + 0.3:.3f}",
                       "--filter", "event=rename", "--format",
                       "{{.Actor.Attributes.name}} {{.Actor.Attributes.oldName}}")
    assert (code, out) == (0, "second /first\n")
    # the old name is free again
    assert cli("create", "--name", "first", "busybox", "true")[0] == 0


def _tables(run: CLI, name: str) -> dict[str, tuple[list[str], list[list[str]]]]:
    found = {}
    for args in ((), ("aux",), ("-o", "pid,args")):
        code, out, err = run("top", name, *args)
        assert code == 0, err
        lines = [line.split(None, 7 if not args else 10) for line in out.splitlines()]
        found[" ".join(args)] = (lines[0], [row for row in lines[1:]])
    return found


def test_top(engine: Daemon, cli: CLI) -> None:
    command = ["sh", "-c", "sleep 1000 & sleep 1001"]
    assert cli("run", "-d", "--name", "tops", "busybox", *command)[0] == 0
    assert cli("exec", "-d", "tops", "sleep", "1002")[0] == 0
    time.sleep(0.5)
    ours = _tables(cli, "tops")
    titles, rows = ours[""]
    assert titles == ["UID", "PID", "PPID", "C", "STIME", "TTY", "TIME", "CMD"]
    assert sorted(row[-1] for row in rows) == ["sleep 1000", "sleep 1001", "sleep 1002"] or \
        sorted(row[-1] for row in rows) == ["sh -c sleep 1000 & sleep 1001", "sleep 1000",
                                            "sleep 1002"]
    assert cli("top", "tops", "-o", "user=PID")[2] == \
        'Error response from daemon: specifying "user=PID" is not allowed\n'
    cli("stop", "-t", "0", "tops")
    code, _, err = cli("top", "tops")
    assert code == 1 and err.endswith("is not running\n")
    if not _alive(DOCKERD_SOCKET):
        return
    name = f"dyk-top-{time.time_ns()}"

    def dockerd(*args: str, stdin: bytes | None = None, timeout: float = 60.0) -> \
            tuple[int, str, str]:
        done = subprocess.run([str(DOCKER_CLI), "-H", f"unix://{DOCKERD_SOCKET}", *args],
                              capture_output=True, text=True, timeout=timeout, check=False)
        return done.returncode, done.stdout, done.stderr

    image = dockerd("images", "-q", "busybox")[1].split()
    if not image:
        return
    try:
        assert dockerd("run", "-d", "--name", name, image[0], *command)[0] == 0
        assert dockerd("exec", "-d", name, "sleep", "1002")[0] == 0
        time.sleep(0.5)
        theirs = _tables(dockerd, name)
    finally:
        dockerd("rm", "-f", name)
    for args, (their_titles, their_rows) in theirs.items():
        assert ours[args][0] == their_titles
        assert len(ours[args][1]) == len(their_rows), args


@pytest.mark.parametrize("runtime", ["dockyard", "runc"])
def test_pause(engine: Daemon, cli: CLI, runtime: str) -> None:
    assert cli("run", "-d", "--runtime", runtime, "--name", "ticker", "busybox", "sh", "-c",
               "i=0; while true; do i=$((i+1)); echo $i > /t; sleep 0.05; done")[0] == 0
    time.sleep(0.3)
    assert cli("pause", "ticker") == (0, "ticker\n", "")
    assert cli("inspect", "-f", "{{.State.Status}} {{.State.Running}} {{.State.Paused}}",
               "ticker")[1] == "paused true true\n"
    assert cli("ps", "--format", "{{.Status}}")[1].endswith("(Paused)\n")
    code, _, err = cli("pause", "ticker")
    assert code == 1 and err.endswith("is already paused\n")
    assert cli("commit", "ticker", "paused:1")[0] == 0  # pause=true on a paused container
    assert cli("unpause", "ticker") == (0, "ticker\n", "")
    code, _, err = cli("unpause", "ticker")
    assert code == 1 and err.endswith("is not paused\n")
    first = cli("exec", "ticker", "cat", "/t")[1]
    time.sleep(0.3)
    assert cli("exec", "ticker", "cat", "/t")[1] != first  # ticking again
    assert cli("commit", "ticker", "running:1")[0] == 0  # paused during the commit, then not
    assert cli("inspect", "-f", "{{.State.Status}}", "ticker")[1] == "running\n"
    assert cli("pause", "ticker")[0] == 0
    started = time.monotonic()
    assert cli("stop", "-t", "1", "ticker")[0] == 0  # thawed so that the signals arrive
    assert time.monotonic() - started < 10
    assert cli("inspect", "-f", "{{.State.Status}}", "ticker")[1] == "exited\n"
    code, _, err = cli("pause", "ticker")
    assert code == 1 and err.endswith("is not running\n")
