"""cgroup v1 on this machine's real hierarchies, with forked children as the container."""

from __future__ import annotations

import os
import signal
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from dockyard.errors import DockyardError
from dockyard.runtime.cgroups import CgroupHandle, Cpu, Memory, Resources, discover
from dockyard.runtime.cgroups.v1 import V1Cgroups
from dockyard.runtime.devices import DeviceRule, cgroup_rules

pytestmark = pytest.mark.root

ROOT = Path("/sys/fs/cgroup")
if not (ROOT / "devices").is_dir():  # pragma: no cover - a v2-only machine
    pytestmark = [pytest.mark.root, pytest.mark.skip(reason="needs cgroup v1 hierarchies")]

RUNC_SPEC_LIST = (
    "b *:* m\nc *:* m\nc 1:3 rwm\nc 1:5 rwm\nc 1:7 rwm\nc 1:8 rwm\nc 1:9 rwm\nc 5:0 rwm\n"
    "c 5:2 rwm\nc 10:200 rwm\nc 136:* rwm\n"
)


@pytest.fixture
def handles() -> Iterator[list[CgroupHandle]]:
    made: list[CgroupHandle] = []
    yield made
    for handle in made:
        handle.destroy()


def _sleeper() -> int:
    """A child that waits to be moved, then sleeps until killed."""
    read_fd, write_fd = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - child
        os.close(write_fd)
        os.read(read_fd, 1)
        os.execv("/bin/busybox", ["sleep", "60"])
    os.close(read_fd)
    os.close(write_fd)
    return pid


def _reap(pid: int) -> None:
    os.kill(pid, signal.SIGKILL)
    os.waitpid(pid, 0)


def test_absolute_path_limits_and_membership(handles: list[CgroupHandle]) -> None:
    name = f"/dockyard-test-{uuid.uuid4().hex[:8]}"
    resources = Resources(
        memory=Memory(limit=64 << 20, reservation=32 << 20),
        cpu=Cpu(shares=512, quota=50000, period=100000, cpus="0", mems="0"),
        pids_limit=16,
        devices=cgroup_rules([DeviceRule(allow=False)]),
    )
    handle = discover().create(name, resources)
    handles.append(handle)
    assert handle.paths["memory"] == f"/sys/fs/cgroup/memory{name}"
    assert handle.paths["name=systemd"] == f"/sys/fs/cgroup/systemd{name}"
    values = {
        file: Path(handle.paths[file.split(".")[0]], file).read_text().strip()
        for file in ("memory.limit_in_bytes", "memory.soft_limit_in_bytes", "cpu.shares",
                     "cpu.cfs_quota_us", "cpu.cfs_period_us", "pids.max", "cpuset.cpus")
    }  # fmt: skip
    assert values == {
        "memory.limit_in_bytes": str(64 << 20),
        "memory.soft_limit_in_bytes": str(32 << 20),
        "cpu.shares": "512",
        "cpu.cfs_quota_us": "50000",
        "cpu.cfs_period_us": "100000",
        "pids.max": "16",
        "cpuset.cpus": "0",
    }
    assert Path(handle.paths["devices"], "devices.list").read_text() == RUNC_SPEC_LIST
    pid = _sleeper()
    try:
        handle.add(pid)
        assert handle.pids() == [pid]
        lines = Path(f"/proc/{pid}/cgroup").read_text().splitlines()
        assert f"8:pids:{name}" in lines
        assert f"0::{name}" in lines
        handle.freeze()
        assert Path(handle.paths["freezer"], "freezer.state").read_text().strip() == "FROZEN"
        handle.thaw()
        assert Path(handle.paths["freezer"], "freezer.state").read_text().strip() == "THAWED"
    finally:
        _reap(pid)
    handle.destroy()
    assert not any(Path(path).exists() for path in handle.paths.values())


def test_relative_and_systemd_form_go_under_our_own_cgroup(handles: list[CgroupHandle]) -> None:
    cgroups = V1Cgroups.from_proc()
    own_memory = Path("/proc/self/cgroup").read_text().split("memory:", 1)[1].split("\n")[0]
    name = f"system.slice:dockyard:{uuid.uuid4().hex[:8]}"
    handle = cgroups.create(name, Resources())
    handles.append(handle)
    expected = os.path.normpath(f"/sys/fs/cgroup/memory/{own_memory}/{name}")
    assert handle.paths["memory"] == expected
    assert Path(expected).is_dir()
    by_id = cgroups.create("", Resources(), container_id="ctr-" + uuid.uuid4().hex[:6])
    handles.append(by_id)
    assert os.path.basename(by_id.paths["pids"]).startswith("ctr-")


def test_pids_limit_is_hit(handles: list[CgroupHandle]) -> None:
    handle = discover().create(f"/dockyard-test-{uuid.uuid4().hex[:8]}", Resources(pids_limit=1))
    handles.append(handle)
    read_fd, write_fd = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - child
        os.close(write_fd)
        os.read(read_fd, 1)
        try:
            child = os.fork()
        except BlockingIOError:
            os._exit(42)
        if child == 0:
            os._exit(0)
        os._exit(0)
    os.close(read_fd)
    handle.add(pid)
    os.close(write_fd)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 42


def test_a_failed_create_leaves_nothing(handles: list[CgroupHandle]) -> None:
    name = f"/dockyard-test-{uuid.uuid4().hex[:8]}/inner"
    with pytest.raises(DockyardError, match=r"cpuset\.cpus"):
        discover().create(name, Resources(cpu=Cpu(cpus="4095")))
    parent = name.rsplit("/", 1)[0]
    leftovers = [d for d in os.listdir(ROOT) if (ROOT / d / parent.lstrip("/")).exists()]
    assert leftovers == []


def test_destroy_waits_out_a_dying_process(handles: list[CgroupHandle]) -> None:
    handle = discover().create(f"/dockyard-test-{uuid.uuid4().hex[:8]}", Resources())
    handles.append(handle)
    pid = _sleeper()
    handle.add(pid)
    os.kill(pid, signal.SIGKILL)
    os.waitpid(pid, 0)
    start = time.monotonic()
    handle.destroy()
    assert time.monotonic() - start < 1
    assert not Path(handle.paths["pids"]).exists()
