"""``run`` in the foreground: busybox bundles from ``runc spec`` and from dockerd, compared with
runc, and nothing of the container left afterwards."""

from __future__ import annotations

import re
import signal
import subprocess
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from .corebundle import (
    DOCKYARD,
    RUNC,
    Runtime,
    docker_spec,
    host_picture,
    make_bundle,
    runc_spec,
)

pytestmark = pytest.mark.root

PROBE = (
    "echo hi; id; ls /proc/self/fd; grep -E '^(Sig(Blk|Ign)|Cap|NoNewPrivs|Seccomp:)' "
    "/proc/self/status; mount; ls -la /dev | sed 's/ [A-Z][a-z][a-z] .. ..:.. / /'; "
    "ls /sys/fs/cgroup; cat /proc/1/oom_score_adj; ulimit -a; umask; pwd; hostname; "
    "env | sort; ip link 2>/dev/null; cat /proc/net/dev | cut -c1-12"
)


@pytest.fixture
def runtimes(tmp_path: Path) -> Iterator[tuple[Runtime, Runtime]]:
    ours, theirs = Runtime(DOCKYARD, tmp_path / "dy"), Runtime(RUNC, tmp_path / "runc")
    try:
        yield ours, theirs
    finally:
        ours.cleanup()
        theirs.cleanup()


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def test_run_true_leaves_nothing(tmp_path: Path, runtimes: tuple[Runtime, Runtime]) -> None:
    ours, _ = runtimes
    bundle = make_bundle(tmp_path / "b", runc_spec(args=["true"]))
    cid = unique("true")
    done = ours("run", "--bundle", str(bundle), cid)
    assert (done.returncode, done.stdout, done.stderr) == (0, "", "")
    assert host_picture(cid, tmp_path) == {"mounts": [], "cgroups": [], "processes": []}
    assert list((tmp_path / "dy").iterdir()) == []


@pytest.mark.parametrize("make_spec", [runc_spec, docker_spec], ids=["runc-spec", "dockerd"])
def test_container_looks_as_under_runc(tmp_path: Path, runtimes: tuple[Runtime, Runtime],
                                       make_spec: object) -> None:
    ours, theirs = runtimes
    config = make_spec(args=["sh", "-c", PROBE])  # type: ignore[operator]
    outputs = []
    for runtime, name in ((ours, "dy"), (theirs, "runc")):
        bundle = make_bundle(tmp_path / name, config)
        done = runtime("run", "--bundle", str(bundle), unique("probe"))
        assert done.returncode == 0, done.stderr
        outputs.append(done.stdout.replace(str(tmp_path / name), "BUNDLE"))
    assert outputs[0] == outputs[1]


def test_exit_status_and_output(tmp_path: Path, runtimes: tuple[Runtime, Runtime]) -> None:
    ours, theirs = runtimes
    # (the init is pid 1 of its namespace: it ignores the signals it sends itself)
    for script, status in (("echo out; echo err >&2; exit 3", 3), ("exit 0", 0)):
        results = []
        for runtime, name in ((ours, "dy"), (theirs, "runc")):
            config = runc_spec(args=["sh", "-c", script])
            bundle = make_bundle(tmp_path / f"{name}{status}", config)
            done = runtime("run", "-b", str(bundle), unique("exit"))
            results.append((done.returncode, done.stdout, done.stderr))
        assert results[0] == results[1]
        assert results[0][0] == status


def test_signals_reach_the_container(tmp_path: Path, runtimes: tuple[Runtime, Runtime]) -> None:
    ours, _ = runtimes
    script = "trap 'echo got TERM; exit 5' TERM; echo ready; while :; do sleep 0.05; done"
    bundle = make_bundle(tmp_path / "b", runc_spec(args=["sh", "-c", script]))
    cid = unique("sig")
    proc = subprocess.Popen([DOCKYARD, "--root", str(ours.root), "run", "-b", str(bundle), cid],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        assert proc.stdout.readline() == "ready\n"
        proc.send_signal(signal.SIGTERM)
        out, _ = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert (proc.returncode, out) == (5, "got TERM\n")
    assert host_picture(cid)["cgroups"] == []


def test_detached_run_then_delete(tmp_path: Path, runtimes: tuple[Runtime, Runtime]) -> None:
    ours, _ = runtimes
    bundle = make_bundle(tmp_path / "b", runc_spec(args=["sleep", "100"]))
    cid = unique("detach")
    # the container keeps the runtime's stdio: a pipe would stay open after run returns
    done = ours("run", "-d", "--pid-file", str(tmp_path / "pid"), "-b", str(bundle), cid,
                capture_output=False, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    assert done.returncode == 0
    pid = int((tmp_path / "pid").read_text())
    assert Path(f"/proc/{pid}/cmdline").read_bytes() == b"sleep\x00100\x00"
    assert '"status": "running"' in ours("state", cid).stdout
    assert ours("delete", "--force", cid).returncode == 0
    deadline = time.monotonic() + 5
    while Path(f"/proc/{pid}").exists() and time.monotonic() < deadline:
        time.sleep(0.01)
    assert host_picture(cid)["cgroups"] == []


def test_no_pivot_root(tmp_path: Path, runtimes: tuple[Runtime, Runtime]) -> None:
    ours, theirs = runtimes
    script = "cat /proc/self/mountinfo | wc -l; ls /; grep -c ' / / ' /proc/self/mountinfo; true"
    outputs = []
    for runtime, name in ((ours, "dy"), (theirs, "runc")):
        bundle = make_bundle(tmp_path / name, runc_spec(args=["sh", "-c", script]))
        done = runtime("run", "--no-pivot", "-b", str(bundle), unique("nopivot"))
        assert done.returncode == 0, done.stderr
        outputs.append(re.sub(r"^\d+\n", "", done.stdout))
    assert outputs[0] == outputs[1]
