"""Runtime II beyond the behaviour suite: spec and features against runc's, poststart where
the spec puts it, hook failures after start, the OOM event stream, and the library's pause,
resume, update and stats."""

from __future__ import annotations

import json
import os
import subprocess
import sys
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


@pytest.mark.parametrize("flags", [[], ["--rootless"]])
def test_spec_writes_what_runc_writes(tmp_path: Path, flags: list[str]) -> None:
    written = []
    for binary in (DOCKYARD, RUNC):
        bundle = tmp_path / Path(binary).name
        bundle.mkdir()
        done = subprocess.run([binary, "spec", "--bundle", str(bundle), *flags],
                              capture_output=True, text=True, check=False)
        assert done.returncode == 0, done.stderr
        again = subprocess.run([binary, "spec", *flags], cwd=bundle, capture_output=True,
                               text=True, check=False)
        written.append(((bundle / "config.json").read_bytes(), again.returncode,
                        oct((bundle / "config.json").stat().st_mode)))
    assert written[0] == written[1]
    assert written[0][1] == 1  # config.json exists: refused


def test_features_are_runcs_less_what_dockyard_lacks() -> None:
    ours, theirs = (json.loads(subprocess.run([binary, "features"], capture_output=True,
                                              check=True).stdout)
                    for binary in (DOCKYARD, RUNC))
    assert sorted(ours) == sorted(theirs)
    assert ours["hooks"] == theirs["hooks"]
    assert ours["linux"]["namespaces"] == theirs["linux"]["namespaces"]
    assert ours["linux"]["capabilities"] == theirs["linux"]["capabilities"]
    missing = set(theirs["mountOptions"]) - set(ours["mountOptions"])
    assert missing == {"rro", "rrw", "rnosuid", "rsuid", "rnodev", "rdev", "rnoexec", "rexec",
                       "rnodiratime", "rdiratime", "rrelatime", "rnorelatime", "rnoatime",
                       "ratime", "rstrictatime", "rnostrictatime", "rnosymfollow",
                       "rsymfollow", "tmpcopyup"}
    assert set(ours["mountOptions"]) <= set(theirs["mountOptions"])
    assert ours["linux"]["cgroup"] == {"v1": True, "v2": True, "systemd": False,
                                       "systemdUser": False}
    seccomp, reference = ours["linux"]["seccomp"], theirs["linux"]["seccomp"]
    assert seccomp["operators"] == reference["operators"]
    assert set(reference["actions"]) - set(seccomp["actions"]) == {"SCMP_ACT_NOTIFY"}
    assert set(seccomp["archs"]) >= set(reference["archs"]) - {"SCMP_ARCH_RISCV64"}
    assert ours["annotations"]["io.github.seccomp.libseccomp.version"] == \
        theirs["annotations"]["io.github.seccomp.libseccomp.version"]
    assert ours["linux"]["apparmor"] == ours["linux"]["selinux"] == {"enabled": False}


def _logging_hooks(log: Path, **extra: list[dict[str, object]]) -> dict[str, object]:
    def hook(name: str, target: str) -> dict[str, object]:
        script = (f'read -r s; echo "{name} $(echo "$s" | sed -n '
                  f'\'s/.*"status":"\\([a-z]*\\)".*/\\1/p\')" >> {target}')
        return {"path": "/bin/sh", "args": ["sh", "-c", script]}

    hooks: dict[str, list[dict[str, object]]] = {
        kind: [hook(kind, "/share/log" if kind == "startContainer" else str(log))]
        for kind in ("prestart", "createRuntime", "createContainer", "startContainer",
                     "poststart", "poststop")}
    for kind, more in extra.items():
        hooks[kind] = more + hooks[kind]
    return hooks


def _shared(tmp_path: Path) -> Path:
    share = tmp_path / "share"
    share.mkdir(exist_ok=True)
    share.chmod(0o777)
    return share


def test_poststart_runs_after_start_as_the_spec_says(tmp_path: Path) -> None:
    share = _shared(tmp_path)
    config = runc_spec(args=["sh", "-c", "echo started >> /share/log; sleep 100"])
    config["mounts"].append({"destination": "/share", "type": "bind", "source": str(share),
                             "options": ["rbind", "rw"]})
    config["hooks"] = _logging_hooks(share / "log")
    bundle = make_bundle(tmp_path / "b", config)
    runtime = Runtime(DOCKYARD, tmp_path / "root")
    cid = f"post-{uuid.uuid4().hex[:6]}"
    try:
        assert runtime("create", "--bundle", str(bundle), cid, **QUIET).returncode == 0
        at_create = (share / "log").read_text().split("\n")
        assert runtime("start", cid).returncode == 0
        deadline = time.monotonic() + 10
        while "started" not in (share / "log").read_text() and time.monotonic() < deadline:
            time.sleep(0.02)
        assert runtime("delete", "--force", cid).returncode == 0
    finally:
        runtime.cleanup()
    assert at_create == ["prestart creating", "createRuntime creating",
                         "createContainer creating", ""]
    lines = (share / "log").read_text().splitlines()
    assert lines[3:] == ["startContainer created", "poststart running", "started",
                         "poststop stopped"] or \
        lines[3:] == ["startContainer created", "started", "poststart running",
                      "poststop stopped"]  # the process and the runtime's hook race


def test_a_failing_poststart_kills_the_container(tmp_path: Path) -> None:
    share = _shared(tmp_path)
    config = runc_spec(args=["sleep", "100"])
    config["hooks"] = _logging_hooks(
        share / "log", poststart=[{"path": "/bin/sh", "args": ["sh", "-c", "exit 5"]}])
    config["hooks"].pop("startContainer")
    bundle = make_bundle(tmp_path / "b", config)
    runtime = Runtime(DOCKYARD, tmp_path / "root")
    cid = f"postfail-{uuid.uuid4().hex[:6]}"
    try:
        pid_file = tmp_path / "pid"
        assert runtime("create", "--bundle", str(bundle), "--pid-file", str(pid_file), cid,
                       **QUIET).returncode == 0
        started = runtime("start", cid)
        state = json.loads(runtime("state", cid).stdout)
        assert runtime("delete", cid).returncode == 0
    finally:
        runtime.cleanup()
    assert started.returncode == 1
    assert "error running poststart hook #0: error running hook: exit status 5" in \
        started.stderr
    assert state["status"] == "stopped"
    assert (share / "log").read_text().splitlines()[-1] == "poststop stopped"
    assert host_picture(cid)["cgroups"] == []


def test_a_failing_start_container_hook_after_create_ends_the_init(tmp_path: Path) -> None:
    config = runc_spec(args=["echo", "never"])
    config["hooks"] = {"startContainer": [{"path": "/bin/false"}]}
    bundle = make_bundle(tmp_path / "b", config)
    runtime = Runtime(DOCKYARD, tmp_path / "root")
    cid = f"startfail-{uuid.uuid4().hex[:6]}"
    out = tmp_path / "out"
    try:
        with out.open("w") as sink:
            assert runtime("create", "--bundle", str(bundle), cid, capture_output=False,
                           stdout=sink, stderr=sink).returncode == 0
        assert runtime("start", cid).returncode == 0  # the init has passed the handshake
        deadline = time.monotonic() + 10
        while json.loads(runtime("state", cid).stdout)["status"] != "stopped" and \
                time.monotonic() < deadline:
            time.sleep(0.02)
    finally:
        runtime.cleanup()
    assert out.read_text() == ("dockyard-runtime: container init: error running "
                               "startContainer hook #0: error running hook: exit status 1, "
                               "stdout: , stderr: \n")


def test_events_streams_oom_kills_as_runc_does(tmp_path: Path,
                                               runtimes: tuple[Runtime, Runtime]) -> None:
    script = ("echo ready; sleep 0.5; (echo 1000 > /proc/self/oom_score_adj; "
              "v=$(head -c 67108864 /dev/zero | tr '\\0' a)); sleep 100")
    config = runc_spec(args=["sh", "-c", script])
    config["linux"]["resources"]["memory"] = {"limit": 16 << 20, "swap": 16 << 20}
    seen = []
    for runtime in runtimes:
        cid = f"oom-{uuid.uuid4().hex[:6]}"
        bundle = make_bundle(tmp_path / runtime.root.name, config)
        assert runtime("run", "--detach", "--bundle", str(bundle), cid, **QUIET).returncode == 0
        events = subprocess.Popen([runtime.binary, "--root", str(runtime.root), "events",
                                   "--interval", "30s", cid], stdout=subprocess.PIPE, text=True)
        try:
            assert events.stdout is not None
            line = events.stdout.readline()
        finally:
            events.kill()
            events.wait()
            if events.stdout is not None:
                events.stdout.close()
            runtime("delete", "--force", cid)
        seen.append(json.loads(line))
        assert host_picture(cid)["cgroups"] == []
    assert seen[0] == seen[1] | {"id": seen[0]["id"]}
    assert seen[0]["type"] == "oom"


LIBRARY = """
import json, os, sys
from dockyard.runtime.library import Runtime
from dockyard.runtime.spec import Memory, Pids, Resources
root, bundle = sys.argv[1], sys.argv[2]
runtime = Runtime(root, subreaper=True)
null = os.open("/dev/null", os.O_RDWR)
box = runtime.run("libpause", bundle, stdio=(null, null, null))
results = {}
runtime.pause("libpause")
results["paused"] = runtime.state("libpause").status
runtime.resume("libpause")
results["resumed"] = runtime.state("libpause").status
runtime.update("libpause", Resources(memory=Memory(limit=32 << 20), pids=Pids(limit=9)))
sample = runtime.stats("libpause")
results["limits"] = [sample.memory.usage.limit, sample.pids_limit, sample.pids_current]
results["json"] = sorted(sample.to_runc())
runtime.kill("libpause", 9)
results["status"] = runtime.wait(box)
runtime.delete("libpause")
print(json.dumps(results))
"""


def test_library_pause_resume_update_stats(tmp_path: Path) -> None:
    bundle = make_bundle(tmp_path / "b", runc_spec(args=["sleep", "100"]))
    root = tmp_path / "root"
    try:
        done = subprocess.run([sys.executable, "-c", LIBRARY, str(root), str(bundle)],
                              capture_output=True, text=True, timeout=120, check=False)
        assert done.returncode == 0, done.stderr
        results = json.loads(done.stdout)
    finally:
        Runtime(DOCKYARD, root).cleanup()
    assert results == {
        "paused": "paused", "resumed": "running", "limits": [32 << 20, 9, 1],
        "json": ["blkio", "cpu", "cpuset", "hugetlb", "intel_rdt", "memory",
                 "network_interfaces", "pids"],
        "status": 137,
    }
    assert host_picture("libpause")["cgroups"] == []
    assert not os.path.exists(root / "libpause")
