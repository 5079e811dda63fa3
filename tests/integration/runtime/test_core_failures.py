"""A failure at any step of create leaves no mount, cgroup, state, namespace or process."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from .corebundle import DOCKYARD, RUNC, Runtime, host_picture, make_bundle, runc_spec

pytestmark = pytest.mark.root

Edit = Callable[[dict[str, Any]], None]


def process(**changes: Any) -> Edit:
    return lambda config: config["process"].update(changes)


def add_mount(mount: dict[str, Any]) -> Edit:
    return lambda config: config["mounts"].append(mount)


def linux(**changes: Any) -> Edit:
    return lambda config: config["linux"].update(changes)


CASES: dict[str, tuple[Edit, str]] = {
    "missing binary": (process(args=["nosuchbin"]),
                       'exec: "nosuchbin": executable file not found in $PATH'),
    "missing path": (process(args=["/bin/nosuch"]), "no such file or directory"),
    "bad user": (process(user={"uid": 4294967295, "gid": 0}), "uid 4294967295 is out of range"),
    "bad additional gid": (process(user={"uid": 0, "gid": 0, "additionalGids": [2**31]}),
                           "out of range"),
    "unknown mount type": (add_mount({"destination": "/x", "type": "nosuchfs", "source": "x"}),
                           "No such device"),
    "missing bind source": (add_mount({"destination": "/x", "type": "bind",
                                       "source": "/nonexistent", "options": ["rbind"]}),
                            "does not exist"),
    "bad rlimit": (process(rlimits=[{"type": "RLIMIT_NOFILE", "soft": 2**40, "hard": 2**40}]),
                   "setrlimit"),
    "bad sysctl": (linux(sysctl={"vm.swappiness": "1"}), "not in a separate kernel namespace"),
    "bad netns path": (linux(namespaces=[{"type": "network", "path": "/nonexistent"},
                                         {"type": "mount"}, {"type": "uts"}]),
                       "invalid netns path: /nonexistent"),
    "bad ipc namespace path": (linux(namespaces=[{"type": "ipc", "path": "/nonexistent"},
                                                 {"type": "mount"}, {"type": "uts"}]),
                               "ipc namespace path /nonexistent"),
    "no file as namespace": (linux(namespaces=[{"type": "pid", "path": "/etc/hostname"},
                                               {"type": "mount"}, {"type": "uts"}]),
                             "setns pid namespace: Invalid argument"),
    "unknown namespace": (linux(namespaces=[{"type": "pid"}, {"type": "foo"}]),
                          'linux.namespaces[1].type: unknown namespace type "foo"'),
}


@pytest.fixture
def ours(tmp_path: Path) -> Iterator[Runtime]:
    runtime = Runtime(DOCKYARD, tmp_path / "dy")
    try:
        yield runtime
    finally:
        runtime.cleanup()


@pytest.mark.parametrize("case", list(CASES))
@pytest.mark.parametrize("verb", ["run", "create"])
def test_failure_leaves_nothing(tmp_path: Path, ours: Runtime, case: str, verb: str) -> None:
    edit, message = CASES[case]
    config = runc_spec(args=["true"])
    edit(config)
    bundle = make_bundle(tmp_path / "b", config)
    cid = f"fail-{uuid.uuid4().hex[:8]}"
    before = host_picture(cid, tmp_path)
    done = ours(verb, "-b", str(bundle), cid)
    assert done.returncode == 1
    assert message.replace('"', '\\"') in done.stderr  # logrus quotes the message
    assert host_picture(cid, tmp_path) == before == {"mounts": [], "cgroups": [],
                                                     "processes": []}
    assert not (tmp_path / "dy" / cid).exists()
    assert ours("state", cid).returncode == 1


@pytest.mark.parametrize("case", ["missing binary", "bad user", "unknown mount type"])
def test_runc_fails_the_same_cases(tmp_path: Path, case: str) -> None:
    runc = Runtime(RUNC, tmp_path / "runc")
    try:
        config = runc_spec(args=["true"])
        CASES[case][0](config)
        bundle = make_bundle(tmp_path / "b", config)
        assert runc("run", "-b", str(bundle), f"fail-{uuid.uuid4().hex[:8]}").returncode == 1
    finally:
        runc.cleanup()
