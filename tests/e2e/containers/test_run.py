"""Containers through dockyardd with the real docker CLI 28, as the api-traces show them:
run (attached, detached, -i, -t), create/start -a, ps, logs, exec, stop, kill, wait, rm,
inspect, network modes and the /etc files, and a missing image."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import time

import pytest

from ..conftest import Daemon
from .conftest import CLI

pytestmark = [pytest.mark.root, pytest.mark.slow]


def test_run_rm_echo(cli: CLI) -> None:
    assert cli("run", "--rm", "busybox", "echo", "hi") == (0, "hi\n", "")
    assert cli("ps", "-aq") == (0, "", "")


def test_exit_codes(cli: CLI) -> None:
    assert cli("run", "--rm", "busybox", "sh", "-c", "exit 3")[0] == 3
    code, _out, err = cli("run", "--rm", "busybox", "nosuchcmd")
    assert code == 127
    assert 'exec: "nosuchcmd": executable file not found in $PATH' in err
    assert cli("ps", "-aq") == (0, "", "")


def test_stdout_and_stderr(cli: CLI) -> None:
    code, out, err = cli("run", "--rm", "busybox", "sh", "-c", "echo out; echo err >&2")
    assert (code, out, err) == (0, "out\n", "err\n")


def test_stdin_pipe(cli: CLI) -> None:
    code, out, err = cli("run", "-i", "--rm", "busybox", "sh", "-c",
                         "cat; echo done >&2; exit 4", stdin=b"one\ntwo\n")
    assert (code, out, err) == (4, "one\ntwo\n", "done\n")


def test_detached_lifecycle(cli: CLI) -> None:
    code, out, _ = cli("run", "-d", "--name", "web", "busybox", "sh", "-c",
                       "i=0; while true; do echo line $i; echo err $i >&2; i=$((i+1)); "
                       "sleep 0.2; done")
    assert code == 0 and re.fullmatch(r"[0-9a-f]{64}\n", out)
    container_id = out.strip()
    time.sleep(1)
    code, out, _ = cli("ps")
    assert code == 0 and "web" in out and "Up " in out and container_id[:12] in out
    code, out, err = cli("logs", "web")
    assert out.startswith("line 0\nline 1\n") and err.startswith("err 0\nerr 1\n")
    code, out, err = cli("logs", "--tail", "1", "-t", "web")  # the last line of either stream
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z (line|err) \d+\n", out + err)
    assert cli("exec", "web", "echo", "hi") == (0, "hi\n", "")
    assert cli("exec", "web", "sh", "-c", "echo $FOO; exit 5")[0] == 5
    assert cli("exec", "-e", "FOO=bar", "-w", "/tmp", "-u", "65534", "web", "sh", "-c",
               "echo $FOO $(pwd) $(id -u)") == (0, "bar /tmp 65534\n", "")
    assert cli("exec", "-d", "web", "sleep", "1") == (0, "", "")
    assert cli("exec", "web", "nosuchcmd") == (
        126, 'OCI runtime exec failed: exec failed: unable to start container process: exec: '
        '"nosuchcmd": executable file not found in $PATH: unknown\r\n', "")
    code, out, _ = cli("inspect", "web")
    inspected = json.loads(out)[0]
    assert inspected["Id"] == container_id and inspected["Name"] == "/web"
    assert inspected["State"]["Running"] and inspected["State"]["Pid"] > 0
    assert inspected["Config"]["Hostname"] == container_id[:12]
    assert inspected["Path"] == "sh" and inspected["HostConfig"]["LogConfig"]["Type"] == \
        "json-file"
    code, _, err = cli("rm", "web")
    assert code == 1 and "You cannot remove a running container" in err
    assert cli("stop", "-t", "1", "web") == (0, "web\n", "")
    assert cli("stop", "web") == (0, "web\n", "")  # 304: already stopped
    assert cli("wait", "web") == (0, "137\n", "")
    code, out, _ = cli("ps", "-a")
    assert "Exited (137)" in out
    assert cli("start", "web") == (0, "web\n", "")
    assert cli("start", "web") == (0, "web\n", "")  # 304: already running
    assert cli("kill", "web") == (0, "web\n", "")
    assert cli("inspect", "-f", "{{.State.Status}} {{.State.ExitCode}}", "web") == (
        0, "exited 137\n", "")
    assert cli("rm", "web") == (0, "web\n", "")
    assert cli("ps", "-aq") == (0, "", "")


def test_rm_force_and_errors(cli: CLI) -> None:
    cli("run", "-d", "--name", "gone", "busybox", "sleep", "100")
    assert cli("rm", "-f", "gone") == (0, "gone\n", "")
    for args in (("logs", "nosuch"), ("stop", "nosuch"), ("rm", "nosuch"),
                 ("exec", "nosuch", "true")):
        assert cli(*args) == (1, "", "Error response from daemon: No such container: nosuch\n")
    cli("create", "--name", "dup", "busybox", "true")
    code, _, err = cli("create", "--name", "dup", "busybox", "true")
    assert code == 1 and 'The container name "/dup" is already in use' in err
    code, _, err = cli("exec", "dup", "true")
    assert code == 1 and "is not running" in err


def test_create_start_attach(cli: CLI) -> None:
    code, _out, _ = cli("create", "--name", "once", "busybox", "echo", "created")
    assert code == 0
    assert cli("start", "-a", "once") == (0, "created\n", "")
    assert cli("start", "-a", "once") == (0, "created\n", "")
    assert cli("logs", "once") == (0, "created\ncreated\n", "")


def test_logs_follow_ends_with_container(cli: CLI) -> None:
    cli("run", "-d", "--name", "short", "busybox", "sh", "-c",
        "for i in 1 2 3; do echo $i; sleep 0.3; done")
    started = time.monotonic()
    assert cli("logs", "-f", "short") == (0, "1\n2\n3\n", "")
    assert time.monotonic() - started < 5


def test_missing_image(cli: CLI) -> None:
    code, _out, err = cli("run", "--rm", "127.0.0.1:9/nosuch", "true")
    assert code == 125
    assert "Unable to find image '127.0.0.1:9/nosuch:latest' locally" in err
    assert cli("ps", "-aq") == (0, "", "")  # nothing half-created


def test_network_modes_and_etc_files(cli: CLI) -> None:
    code, out, _ = cli("run", "--rm", "--network", "none", "busybox", "ip", "-o", "link")
    assert code == 0 and [line.split(":")[1].strip() for line in out.splitlines()] == ["lo"]
    assert "LOWER_UP" in out or "UP" in out
    code, out, _ = cli("run", "--rm", "busybox", "ip", "-o", "link")  # the default bridge
    assert code == 0 and [line.split(":")[1].strip().split("@")[0]
                          for line in out.splitlines()] == ["lo", "eth0"]
    assert cli("run", "--rm", "--network", "none", "busybox", "ping", "-c1", "-W1",
               "127.0.0.1")[0] == 0
    code, out, _ = cli("run", "--rm", "--network", "host", "busybox", "ip", "-o", "link")
    assert len(out.splitlines()) > 1
    code, out, _ = cli("run", "--rm", "--hostname", "box", "--add-host", "db:10.1.2.3",
                       "busybox", "sh", "-c", "hostname; cat /etc/hosts")
    assert out.startswith("box\n127.0.0.1\tlocalhost\n") and "\n10.1.2.3\tdb\n" in out
    assert out.endswith("\tbox\n")  # the container's own address line comes last, as dockerd
    code, out, _ = cli("run", "--rm", "--dns", "10.9.9.9", "busybox", "cat", "/etc/resolv.conf")
    assert "nameserver 10.9.9.9\n" in out
    code, _, err = cli("run", "--rm", "--network", "nosuchnet", "busybox", "true")
    assert code == 125 and "network nosuchnet not found" in err


def test_a_none_container_has_a_namespace_others_can_join(engine: Daemon, cli: CLI) -> None:
    """--network none: the runtime makes the namespace (the daemon pins nothing); inspect
    names it by the process, and --network container: joins it."""
    assert cli("run", "-d", "--name", "lonely", "--network", "none", "busybox", "sleep",
               "1000")[0] == 0
    try:
        pid = int(cli("inspect", "-f", "{{.State.Pid}}", "lonely")[1])
        key = cli("inspect", "-f", "{{.NetworkSettings.SandboxKey}}", "lonely")[1].strip()
        assert key == f"/proc/{pid}/ns/net"
        assert os.listdir(engine.exec_root / "netns") == []
        code, out, err = cli("run", "--rm", "--network", "container:lonely", "busybox", "sh",
                             "-c", "readlink /proc/self/ns/net; ip -o link")
        assert code == 0, err
        inode, *links = out.splitlines()
        assert inode == os.readlink(key)
        assert [line.split(":")[1].strip() for line in links] == ["lo"]
    finally:
        cli("rm", "-f", "lonely")


@pytest.mark.skipif(shutil.which("tmux") is None, reason="needs tmux")
def test_run_it_in_a_terminal(engine: Daemon, cli: CLI) -> None:
    session = f"dy-e2e-{engine.process.pid}"
    done = engine.workdir / "rc"
    script = (f"DOCKER_HOST={engine.host} DOCKER_CONFIG={engine.workdir}/docker-config "
              "docker run -it --rm busybox sh -c 'echo x; stty size; read a; echo got $a; "
              f"exit 3'; echo rc=$? > {done}; sleep 30")
    subprocess.run(["tmux", "new-session", "-d", "-s", session, "-x", "90", "-y", "25", script],
                   check=True)
    try:
        _wait_for(lambda: "25 90" in _pane(session))
        subprocess.run(["tmux", "send-keys", "-t", session, "abc", "Enter"], check=True)
        _wait_for(done.exists)
        assert done.read_text() == "rc=3\n"
        assert "got abc" in _pane(session)
    finally:
        subprocess.run(["tmux", "kill-session", "-t", session], check=False)


def _pane(session: str) -> str:
    return subprocess.run(["tmux", "capture-pane", "-p", "-t", session], capture_output=True,
                          text=True, check=False).stdout


def _wait_for(condition, timeout: float = 15.0) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("timed out")
        time.sleep(0.05)


@pytest.mark.skipif(shutil.which("tmux") is None, reason="needs tmux")
def test_detach_keys_and_attach(engine: Daemon, cli: CLI) -> None:
    """ctrl-p ctrl-q leaves `docker run -it` with the container running; `docker attach`
    reaches the same shell, whose exit code the CLI then returns."""
    session = f"dy-e2e-{engine.process.pid}"
    env = f"DOCKER_HOST={engine.host} DOCKER_CONFIG={engine.workdir}/docker-config"
    first, second = engine.workdir / "rc1", engine.workdir / "rc2"
    subprocess.run(["tmux", "new-session", "-d", "-s", session, "-x", "90", "-y", "25",
                    f"{env} docker run -it --name det busybox sh; echo rc=$? > {first}; "
                    f"{env} docker attach det; echo rc=$? > {second}; sleep 30"], check=True)
    try:
        _wait_for(lambda: "/ #" in _pane(session))
        subprocess.run(["tmux", "send-keys", "-t", session, "C-p", "C-q"], check=True)
        _wait_for(first.exists)
        assert first.read_text() == "rc=0\n"
        assert cli("inspect", "-f", "{{.State.Running}}", "det") == (0, "true\n", "")
        time.sleep(0.5)
        subprocess.run(["tmux", "send-keys", "-t", session, "echo again; exit 9", "Enter"],
                       check=True)
        _wait_for(second.exists)
        assert second.read_text() == "rc=9\n"
        assert "again" in _pane(session)
    finally:
        subprocess.run(["tmux", "kill-session", "-t", session], check=False)
