"""create, start, state, kill, delete, list, ps and exec, with runc's outputs and errors."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from .corebundle import DOCKYARD, RUNC, Runtime, host_picture, make_bundle, runc_spec

pytestmark = pytest.mark.root
QUIET = {"capture_output": False, "stdout": subprocess.DEVNULL, "stderr": subprocess.DEVNULL}


@pytest.fixture
def runtimes(tmp_path: Path) -> Iterator[tuple[Runtime, Runtime]]:
    ours, theirs = Runtime(DOCKYARD, tmp_path / "dy"), Runtime(RUNC, tmp_path / "runc")
    try:
        yield ours, theirs
    finally:
        ours.cleanup()
        theirs.cleanup()


def wait_gone(pid: int, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while Path(f"/proc/{pid}").exists() and time.monotonic() < deadline:
        try:  # the test process may have become its reaper
            os.waitpid(pid, os.WNOHANG)
        except ChildProcessError:
            time.sleep(0.01)
    assert not Path(f"/proc/{pid}").exists()


def created(runtime: Runtime, bundle: Path, cid: str) -> int:
    """create (stdio to /dev/null: the init keeps it) and the pid from --pid-file."""
    pid_file = bundle / "init.pid"
    done = runtime("create", "--bundle", str(bundle), "--pid-file", str(pid_file), cid, **QUIET)
    assert done.returncode == 0
    return int(pid_file.read_text())


def test_lifecycle_states_match_runc(tmp_path: Path, runtimes: tuple[Runtime, Runtime]) -> None:
    config = runc_spec(args=["sleep", "100"])
    config["annotations"] = {"org.example/b": "2", "a": "<x>"}
    seen = []
    for runtime in runtimes:
        cid = f"life-{uuid.uuid4().hex[:6]}"
        bundle = make_bundle(tmp_path / "bundles" / runtime.root.name, config)
        pid = created(runtime, bundle, cid)
        states = [json.loads(runtime("state", cid).stdout)]
        listed = runtime("list").stdout
        assert runtime("start", cid).returncode == 0
        states.append(json.loads(runtime("state", cid).stdout))
        again = runtime("start", cid)
        assert runtime("kill", cid, "KILL").returncode == 0
        wait_gone(pid)
        states.append(json.loads(runtime("state", cid).stdout))
        killed_again = runtime("kill", cid)
        assert runtime("delete", cid).returncode == 0
        missing = runtime("state", cid)
        for state in states:
            assert state.pop("pid") in (pid, 0)
            assert state.pop("created").endswith("Z")
            assert state.pop("id") == cid
            assert state.pop("bundle") == str(bundle)
            assert state.pop("rootfs") == str(bundle / "rootfs")
        header, row = listed.splitlines()
        seen.append(
            {
                "states": states,
                "list": [header.split(), row.split()[2:3] + row.split()[5:]],
                "start again": (again.returncode, again.stderr.split("msg=")[-1]),
                "kill stopped": (killed_again.returncode, killed_again.stderr.split("msg=")[-1]),
                "missing": (missing.returncode, missing.stderr.split("msg=")[-1]),
            }
        )
        assert host_picture(cid)["cgroups"] == []
    assert seen[0] == seen[1]
    assert [s["status"] for s in seen[0]["states"]] == ["created", "running", "stopped"]


def test_delete_refuses_a_running_container_unless_forced(
    tmp_path: Path, runtimes: tuple[Runtime, Runtime]
) -> None:
    ours, _ = runtimes
    bundle = make_bundle(tmp_path / "b", runc_spec(args=["sleep", "100"]))
    cid = f"del-{uuid.uuid4().hex[:6]}"
    pid = created(ours, bundle, cid)
    assert ours("start", cid).returncode == 0
    refused = ours("delete", cid)
    assert refused.returncode == 1
    assert f"cannot delete container {cid} that is not stopped: running" in refused.stderr
    assert ours("delete", "--force", cid).returncode == 0
    wait_gone(pid)
    assert host_picture(cid)["cgroups"] == []
    assert ours("delete", "--force", cid).returncode == 0  # gone: --force succeeds
    assert ours("delete", cid).returncode == 1


def test_deleting_a_created_container_kills_its_init(
    tmp_path: Path, runtimes: tuple[Runtime, Runtime]
) -> None:
    ours, _ = runtimes
    bundle = make_bundle(tmp_path / "b", runc_spec(args=["sleep", "100"]))
    cid = f"delc-{uuid.uuid4().hex[:6]}"
    pid = created(ours, bundle, cid)
    assert ours("delete", cid).returncode == 0
    wait_gone(pid)
    assert host_picture(cid, tmp_path) == {"mounts": [], "cgroups": [], "processes": []}


def test_kill_all_ps_and_list_formats(tmp_path: Path, runtimes: tuple[Runtime, Runtime]) -> None:
    ours, _ = runtimes
    bundle = make_bundle(
        tmp_path / "b", runc_spec(args=["sh", "-c", "sleep 100 & sleep 100 & wait"])
    )
    cid = f"all-{uuid.uuid4().hex[:6]}"
    pid = created(ours, bundle, cid)
    assert ours("start", cid).returncode == 0
    deadline = time.monotonic() + 5
    while len(json.loads(ours("ps", "--format", "json", cid).stdout)) < 3:
        assert time.monotonic() < deadline
        time.sleep(0.02)
    pids = json.loads(ours("ps", "-f", "json", cid).stdout)
    assert pid in pids
    table = ours("ps", cid).stdout.splitlines()
    assert table[0].split()[:3] == ["UID", "PID", "PPID"] and len(table) == 4
    assert ours("list", "-q").stdout == f"{cid}\n"
    assert json.loads(ours("list", "--format", "json").stdout)[0]["status"] == "running"
    assert ours("kill", "--all", cid, "KILL").returncode == 0
    wait_gone(pid)
    assert ours("delete", cid).returncode == 0


def test_exec_argv_process_file_and_detach(
    tmp_path: Path, runtimes: tuple[Runtime, Runtime]
) -> None:
    results = []
    for runtime in runtimes:
        bundle = make_bundle(
            tmp_path / "bundles" / runtime.root.name,
            runc_spec(args=["sleep", "100"], env=["PATH=/bin", "A=1"]),
        )
        cid = f"ex-{uuid.uuid4().hex[:6]}"
        created(runtime, bundle, cid)
        assert runtime("start", cid).returncode == 0
        argv = runtime(
            "exec",
            "--env",
            "B=2",
            "--cwd",
            "/tmp",
            "-u",
            "1000:1000",
            "--additional-gids",
            "10",
            cid,
            "sh",
            "-c",
            "id; pwd; env | sort; exit 7",
        )
        (tmp_path / "p.json").write_text(
            json.dumps(
                {
                    "args": ["sh", "-c", "echo from-file; cat /proc/self/status | grep ^NoNew"],
                    "cwd": "/",
                    "env": ["PATH=/bin"],
                    "user": {"uid": 0, "gid": 0},
                    "noNewPrivileges": True,
                }
            )
        )
        from_file = runtime("exec", "--process", str(tmp_path / "p.json"), cid)
        pid_file = tmp_path / f"{runtime.root.name}.pid"
        detached = runtime("exec", "-d", "--pid-file", str(pid_file), cid, "sleep", "50", **QUIET)
        exec_pid = int(pid_file.read_text())
        in_ps = exec_pid in json.loads(runtime("ps", "-f", "json", cid).stdout)
        assert runtime("delete", "-f", cid).returncode == 0
        stopped = runtime("exec", cid, "true")
        results.append(
            [
                (argv.returncode, argv.stdout),
                (from_file.returncode, from_file.stdout),
                detached.returncode,
                in_ps,
                (stopped.returncode, stopped.stderr.split("msg=")[-1].strip()),
            ]
        )
    assert results[0] == results[1]
    assert results[0][0] == (
        7,
        "uid=1000(user) gid=1000(user) groups=10(wheel)\n/tmp\nA=1\nB=2\n"
        "HOME=/home/user\nPATH=/bin\nPWD=/tmp\nSHLVL=1\n",
    )
    assert results[0][4] == (255, '"exec failed: container does not exist"')


def test_exec_with_a_terminal_over_the_console_socket(
    tmp_path: Path, runtimes: tuple[Runtime, Runtime]
) -> None:
    ours, _ = runtimes
    bundle = make_bundle(tmp_path / "b", runc_spec(args=["sleep", "100"]))
    cid = f"tty-{uuid.uuid4().hex[:6]}"
    created(ours, bundle, cid)
    assert ours("start", cid).returncode == 0
    path = str(tmp_path / "console.sock")
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as listener:
        listener.bind(path)
        listener.listen(1)
        done = ours(
            "exec", "-t", "-d", "--console-socket", path, cid, "sh", "-c", "tty; echo done", **QUIET
        )
        assert done.returncode == 0
        listener.settimeout(10)
        conn, _ = listener.accept()
        with conn:
            _, fds, _, _ = socket.recv_fds(conn, 4096, 1)
    output = b""
    try:
        deadline = time.monotonic() + 10
        while b"done" not in output and time.monotonic() < deadline:
            try:
                output += os.read(fds[0], 4096)
            except OSError:
                break
    finally:
        os.close(fds[0])
    assert output.replace(b"\r\n", b"\n") == b"/dev/pts/0\ndone\n"


def test_signals_to_a_created_container_as_runc(
    tmp_path: Path, runtimes: tuple[Runtime, Runtime]
) -> None:
    """runc's init (Go) dies of HUP/INT/TERM with status 2 and ignores USR1 until start."""
    import ctypes

    ctypes.CDLL(None).prctl(36, 1, 0, 0, 0)  # subreaper: the inits become our children
    seen = []
    try:
        for runtime in runtimes:
            bundle = make_bundle(tmp_path / "bundles" / runtime.root.name,
                                 runc_spec(args=["sleep", "100"]))
            outcome = []
            for signal in ("TERM", "USR1", "HUP"):
                cid = f"sig-{signal.lower()}-{uuid.uuid4().hex[:6]}"
                pid = created(runtime, bundle, cid)
                assert runtime("kill", cid, signal).returncode == 0
                deadline = time.monotonic() + 1.0
                reaped, status = 0, 0
                while not reaped and time.monotonic() < deadline:
                    reaped, status = os.waitpid(pid, os.WNOHANG)
                    time.sleep(0.01)
                state = json.loads(runtime("state", cid).stdout)["status"]
                outcome.append((signal, os.waitstatus_to_exitcode(status) if reaped else None,
                                state))
                assert runtime("delete", "--force", cid).returncode == 0
                if not reaped:
                    os.waitpid(pid, 0)
            seen.append(outcome)
    finally:
        ctypes.CDLL(None).prctl(36, 0, 0, 0, 0)
    assert seen[0] == seen[1] == [("TERM", 2, "stopped"), ("USR1", None, "created"),
                                  ("HUP", 2, "stopped")]
