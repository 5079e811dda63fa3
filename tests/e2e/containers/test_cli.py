"""The dockyard CLI's container commands against a real dockyardd, compared with the docker CLI
28 against the same daemon: the same output and exit status ("docker" read as "dockyard" in
messages), for run, ps, logs, exec, inspect, top, diff, port, wait, stop/kill/rm, rename, cp,
export, commit and events; and ``dockyard run -it`` in a real terminal (tmux)."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import time
from pathlib import Path

import pytest

from ..conftest import Daemon, docker
from ..test_cli_system import DOCKYARD, dockyard

pytestmark = [pytest.mark.root, pytest.mark.slow]
_PROG = re.compile(r"\bdocker(?=[: ])")  # the program's name in messages, not docker.io
_TIMES = re.compile(r"(\d+ seconds?|Less than a second|About a minute)( ago)?")


def _same(text: str) -> str:
    """Ages ("3 seconds ago") and the column padding they change, made equal."""
    return re.sub(r"(?<=\S) {2,}", "  ", _TIMES.sub("T", text))


def both(engine: Daemon, *args: str, stdin: bytes | None = None) -> tuple[int, str, str]:
    """Run the command with each CLI; assert they agree; the dockyard CLI's result."""
    ours = _dockyard(engine, *args, stdin=stdin)
    theirs = docker(engine, *args, stdin=stdin)
    expected = (theirs[0], _same(theirs[1]), _same(_PROG.sub("dockyard", theirs[2])))
    assert (ours[0], _same(ours[1]), _same(ours[2])) == expected
    return ours


def _dockyard(engine: Daemon, *args: str, stdin: bytes | None = None) -> tuple[int, str, str]:
    if stdin is None:
        return dockyard(engine, *args)
    proc = subprocess.run([str(DOCKYARD), *args], input=stdin, capture_output=True,
                          env={"PATH": "/usr/bin:/bin", "DOCKYARD_HOST": engine.host},
                          timeout=120, check=False)
    return proc.returncode, proc.stdout.decode(), proc.stderr.decode()


def test_run_outputs_and_exit_statuses(engine: Daemon) -> None:
    assert both(engine, "run", "--rm", "busybox", "sh", "-c",
                "echo out; echo err >&2; exit 3") == (3, "out\n", "err\n")
    assert both(engine, "run", "--rm", "-e", "A=1", "-w", "/tmp", "-u", "1:2", "--hostname",
                "hh", "busybox", "sh", "-c", "echo $A $(pwd) $(id -u):$(id -g) $(hostname)") \
        == (0, "1 /tmp 1:2 hh\n", "")
    assert both(engine, "run", "--rm", "-i", "busybox", "cat", stdin=b"piped\n") == (
        0, "piped\n", "")
    code, _, err = both(engine, "run", "--rm", "busybox", "nosuchcmd")
    assert code == 127 and "executable file not found" in err
    code, _, err = both(engine, "run", "--rm", "--entrypoint", "/etc", "busybox")
    assert code in (126, 127), err
    code, _, err = both(engine, "run", "--rm", "-m", "1x", "busybox")
    assert code == 125 and err.startswith('invalid argument "1x" for "-m, --memory" flag')
    code, _, err = both(engine, "run", "--rm", "nosuch/image:1")
    assert code == 125 and err.startswith("Unable to find image 'nosuch/image:1' locally\n")


def test_run_detached_then_the_lifecycle(engine: Daemon) -> None:
    code, out, err = dockyard(engine, "run", "-d", "--name", "life", "-l", "k=v", "busybox",
                              "sh", "-c", "echo started; echo oops >&2; sleep 300")
    assert (code, err) == (0, "") and re.fullmatch(r"[0-9a-f]{64}\n", out)
    cid = out.strip()
    time.sleep(0.5)
    both(engine, "ps")
    both(engine, "ps", "-a", "--no-trunc")
    both(engine, "ps", "-q")
    both(engine, "ps", "-s", "--format", "{{.Names}} {{.Size}} {{.Labels}}")
    both(engine, "ps", "--filter", "label=k=v", "--format", "json")
    both(engine, "ps", "-a", "--filter", "name=lif", "--format", "table {{.ID}}\t{{.Status}}")
    assert both(engine, "logs", "life") == (0, "started\n", "oops\n")
    both(engine, "logs", "--tail", "1", "-t", "life")
    both(engine, "inspect", "life")
    both(engine, "inspect", "--format", "{{.Name}} {{.Config.Labels}} {{.State.Running}}",
         "life", "busybox")
    both(engine, "container", "inspect", "--format", "{{.Id}}", "life")
    assert both(engine, "inspect", "nosuch")[0] == 1
    assert both(engine, "container", "inspect", "nosuch")[0] == 1
    both(engine, "top", "life")
    assert both(engine, "exec", "life", "sh", "-c", "echo in; echo err >&2; exit 4") == (
        4, "in\n", "err\n")
    assert both(engine, "exec", "-e", "X=y", "-u", "1", "-w", "/tmp", "life", "sh", "-c",
                "echo $X $(id -u) $(pwd)") == (0, "y 1 /tmp\n", "")
    assert both(engine, "exec", "-d", "life", "touch", "/tmp/made") == (0, "", "")
    assert both(engine, "exec", "nosuch", "true")[0] == 1
    time.sleep(0.3)
    both(engine, "diff", "life")
    both(engine, "port", "life")
    assert dockyard(engine, "rename", "life", "life2") == (0, "", "")
    assert dockyard(engine, "kill", "-s", "USR1", "life2") == (0, "life2\n", "")
    assert dockyard(engine, "stop", "-t", "1", "life2") == (0, "life2\n", "")
    both(engine, "wait", "life2")
    both(engine, "ps", "-a", "--format", "{{.Names}} {{.State}} {{.Status}}")
    assert dockyard(engine, "restart", "-t", "0", "life2") == (0, "life2\n", "")
    code, _, err = dockyard(engine, "rm", "life2")
    assert code == 1 and "cannot remove a running container" in err
    assert dockyard(engine, "rm", "-f", "life2", "nosuch") == (
        0, "life2\n", "Error response from daemon: No such container: nosuch\n")
    assert both(engine, "rm", "nosuch")[0] == 1
    del cid


def test_create_start_attach_and_wait(engine: Daemon) -> None:
    code, out, _ = dockyard(engine, "create", "--name", "made", "busybox", "sh", "-c",
                            "echo hi; exit 2")
    assert code == 0 and len(out.strip()) == 64
    assert dockyard(engine, "start", "-a", "made") == (2, "hi\n", "")
    assert dockyard(engine, "start", "made") == (0, "made\n", "")
    assert both(engine, "wait", "made") == (0, "2\n", "")
    assert both(engine, "start", "nosuch")[0] == 1
    code, _, err = both(engine, "attach", "made")
    assert code == 1 and "You cannot attach to a stopped container" in err


def test_cp_export_commit_and_events(engine: Daemon, tmp_path: Path) -> None:
    since = str(int(time.time()) - 1)
    dockyard(engine, "run", "-d", "--name", "files", "busybox", "sleep", "300")
    (tmp_path / "in.txt").write_text("hello\n")
    (tmp_path / "dir" / "sub").mkdir(parents=True)
    (tmp_path / "dir" / "sub" / "f").write_text("x")
    assert dockyard(engine, "cp", str(tmp_path / "in.txt"), "files:/tmp/") == (0, "", "")
    assert dockyard(engine, "cp", str(tmp_path / "dir"), "files:/tmp/copied") == (0, "", "")
    found = both(engine, "exec", "files", "find", "/tmp")[1].split()
    assert sorted(found) == ["/tmp", "/tmp/copied", "/tmp/copied/sub", "/tmp/copied/sub/f",
                             "/tmp/in.txt"]
    assert dockyard(engine, "cp", "files:/tmp/copied", str(tmp_path / "back")) == (0, "", "")
    assert (tmp_path / "back" / "sub" / "f").read_text() == "x"
    code, out, _ = dockyard(engine, "cp", "files:/tmp/in.txt", "-")
    assert code == 0 and "hello" in out
    assert both(engine, "cp", "files:/nope", str(tmp_path / "x"))[0] == 1
    assert dockyard(engine, "export", "-o", str(tmp_path / "fs.tar"), "files") == (0, "", "")
    listing = subprocess.run(["tar", "tf", str(tmp_path / "fs.tar")], capture_output=True,
                             text=True, check=True).stdout.split()
    assert "tmp/in.txt" in listing and "bin/busybox" in listing
    code, out, _ = dockyard(engine, "commit", "-m", "msg", "-c", "ENV A=b", "files",
                              "committed:1")
    if code == 0:
        assert out.startswith("sha256:")
        assert both(engine, "image", "inspect", "--format", "{{.Config.Env}} {{.Comment}}",
                    "committed:1")[1].endswith(" msg\n")
    until = str(int(time.time()) + 1)
    time.sleep(1.2)
    events = both(engine, "events", "--since", since, "--until", until, "--filter",
                  "container=files")[1]
    assert " container create " in events and " container start " in events
    both(engine, "events", "--since", since, "--until", until, "--format", "json")
    both(engine, "events", "--since", since, "--until", until, "--format",
         "{{.Type}} {{.Action}} {{.Actor.Attributes.name}}")


def test_run_it_gives_a_working_shell_in_tmux(engine: Daemon, tmp_path: Path) -> None:
    if shutil.which("tmux") is None:
        pytest.skip("needs tmux")
    session = f"dy-it-{tmp_path.name}"[:40]
    screen = tmp_path / "screen.txt"
    cli = f"env DOCKYARD_HOST={engine.host} {DOCKYARD}"
    subprocess.run(["tmux", "new-session", "-d", "-s", session, "-x", "90", "-y", "25",
                    "env PS1='$ ' bash --norc --noprofile"], check=True)
    try:
        _keys(session, f"{cli} run -it --name itest busybox sh; echo EXIT=$?", "Enter")
        _wait_for(session, "/ #")
        _keys(session, "echo $((6*7)) $(stty size)", "Enter")
        _wait_for(session, "42 25 90")
        subprocess.run(["tmux", "resize-window", "-t", session, "-x", "100", "-y", "30"],
                       check=True)
        _keys(session, "stty size", "Enter")
        _wait_for(session, "30 100")
        _keys(session, "C-p", "C-q")
        _wait_for(session, "EXIT=0")
        assert json.loads(dockyard(engine, "inspect", "itest")[1])[0]["State"]["Running"]
        _keys(session, f"clear; {cli} attach itest; echo EXIT=$?", "Enter")
        time.sleep(1)
        _keys(session, "C-p", "C-q")
        _wait_for(session, "read escape sequence")
        _wait_for(session, "EXIT=1")
        _keys(session, f"clear; {cli} exec -it itest sh -c 'exit 7'; echo EXIT=$?", "Enter")
        _wait_for(session, "EXIT=7")
        _keys(session, f"clear; {cli} attach itest; echo EXIT=$?", "Enter")
        time.sleep(1)
        _keys(session, "exit 5", "Enter")
        _wait_for(session, "EXIT=5")
    finally:
        screen.write_text(_capture(session))
        subprocess.run(["tmux", "kill-session", "-t", session], check=False)


def _keys(session: str, *keys: str) -> None:
    subprocess.run(["tmux", "send-keys", "-t", session, *keys], check=True)


def _capture(session: str) -> str:
    return subprocess.run(["tmux", "capture-pane", "-p", "-t", session], capture_output=True,
                          text=True, check=False).stdout


def _wait_for(session: str, text: str, timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if text in _capture(session):
            return
        time.sleep(0.1)
    raise AssertionError(f"{text!r} never showed:\n{_capture(session)}")


def test_signals_reach_an_attached_container(engine: Daemon) -> None:
    """sig-proxy: a signal sent to ``dockyard run`` (no tty) is forwarded as a kill."""
    import signal

    script = 'trap "echo got; exit 9" USR1; echo ready; while true; do sleep 0.1; done'
    proc = subprocess.Popen([str(DOCKYARD), "run", "--rm", "busybox", "sh", "-c", script],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            env={"PATH": "/usr/bin:/bin", "DOCKYARD_HOST": engine.host})
    try:
        assert proc.stdout is not None
        assert proc.stdout.readline() == b"ready\n"
        proc.send_signal(signal.SIGUSR1)
        out, _ = proc.communicate(timeout=20)
        assert (proc.returncode, out) == (9, b"got\n")
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()


def test_run_pulls_a_missing_image_as_docker_does(engine: Daemon, tmp_path: Path) -> None:
    """An image missing at ``dockyard run``: "Unable to find image", the pull through the
    daemon (its messages on stderr), then the container runs."""
    import os
    import signal
    import sys

    from ..conftest import REPO

    process = subprocess.Popen(
        [sys.executable, "-m", "dockyard.registry", "--log-level", "warning", "serve",
         "--root", str(tmp_path / "registry"), "--addr", "127.0.0.1:0"],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
        env={**os.environ, "PYTHONPATH": str(REPO / "src")})
    assert process.stdout is not None
    try:
        address = process.stdout.readline().split("://")[-1].strip()
        name = f"{address}/cli/autopull:1"
        assert docker(engine, "tag", "busybox", name)[0] == 0
        assert docker(engine, "push", name)[0] == 0
        assert docker(engine, "rmi", name)[0] == 0
        code, out, err = dockyard(engine, "run", "--rm", name, "echo", "pulled and ran")
        assert (code, out) == (0, "pulled and ran\n"), err
        assert err.startswith(f"Unable to find image '{name}' locally\n1: Pulling from "
                              "cli/autopull\n")
        assert err.endswith(f"Status: Downloaded newer image for {name}\n")
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=15)
        process.stdout.close()
