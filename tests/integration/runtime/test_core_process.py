"""The container process's settings, each compared with runc: user and groups, umask,
rlimits, environment, cwd, capabilities, no_new_privs, oom_score_adj, hostname, sysctl."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from .corebundle import DOCKYARD, RUNC, Runtime, docker_spec, make_bundle, runc_spec

pytestmark = pytest.mark.root

SHOW = ("id; umask; pwd; env | sort; ulimit -n; ulimit -u; hostname; "
        "cat /proc/self/oom_score_adj; grep -E '^(Cap|NoNewPrivs|Groups)' /proc/self/status; "
        "cat /proc/sys/net/ipv4/ip_forward /proc/sys/kernel/shmmax; touch /tmp/x 2>&1; "
        "touch /x 2>&1; true")


def process(**fields: Any) -> Callable[[dict[str, Any]], None]:
    return lambda config: config["process"].update(fields)


CASES: dict[str, Callable[[dict[str, Any]], None]] = {
    "defaults": lambda config: None,
    "user": process(user={"uid": 1000, "gid": 1000, "additionalGids": [10, 5, 10],
                          "umask": 0o027}),
    "unknown uid": process(user={"uid": 4242, "gid": 4242}),
    "env and cwd": process(env=["PATH=/bin", "HOME=/custom", "X=a=b"], cwd="/work/dir"),
    "rlimits": process(rlimits=[{"type": "RLIMIT_NOFILE", "soft": 512, "hard": 1024},
                                {"type": "RLIMIT_NPROC", "soft": 100, "hard": 200}]),
    "oom and privs": process(oomScoreAdj=500, noNewPrivileges=False),
    "sysctl": lambda config: config["linux"].update(
        sysctl={"net.ipv4.ip_forward": "1", "kernel.shmmax": "123456789"}),
    "writable root": lambda config: config["root"].update(readonly=False),
}


@pytest.fixture
def runtimes(tmp_path: Path) -> Iterator[tuple[Runtime, Runtime]]:
    ours, theirs = Runtime(DOCKYARD, tmp_path / "dy"), Runtime(RUNC, tmp_path / "runc")
    try:
        yield ours, theirs
    finally:
        ours.cleanup()
        theirs.cleanup()


@pytest.mark.parametrize("make_spec", [runc_spec, docker_spec], ids=["runc-spec", "dockerd"])
@pytest.mark.parametrize("case", list(CASES))
def test_process_settings_as_runc(tmp_path: Path, runtimes: tuple[Runtime, Runtime],
                                  case: str, make_spec: Any) -> None:
    config = make_spec(args=["sh", "-c", SHOW])
    CASES[case](config)
    outputs = []
    for runtime in runtimes:
        bundle = make_bundle(tmp_path / "bundles" / runtime.root.name, config)
        done = runtime("run", "-b", str(bundle), f"proc-{uuid.uuid4().hex[:6]}")
        assert done.returncode == 0, done.stderr
        outputs.append(done.stdout)
    assert outputs[0] == outputs[1]


def test_domainname_is_set(tmp_path: Path, runtimes: tuple[Runtime, Runtime]) -> None:
    """``domainname`` is set from runtime-spec 1.1 on; a 1.0 config does not have the field
    (runc 1.1, a 1.0 runtime, leaves "(none)" whatever the version)."""
    ours, _ = runtimes
    config = runc_spec(args=["sh", "-c", "hostname; cat /proc/sys/kernel/domainname"])
    config["domainname"] = "example.org"
    outputs = []
    for version in ("1.0.2-dev", "1.1.0"):
        config["ociVersion"] = version
        bundle = make_bundle(tmp_path / version, config)
        done = ours("run", "-b", str(bundle), f"dom-{uuid.uuid4().hex[:6]}")
        outputs.append((done.returncode, done.stdout))
    assert outputs == [(0, "runc\n(none)\n"), (0, "runc\nexample.org\n")]
