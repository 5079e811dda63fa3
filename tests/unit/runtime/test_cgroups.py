"""The cgroup backends against fake trees (files in tmp_path standing in for cgroupfs)."""

from __future__ import annotations

from pathlib import Path

import pytest

from dockyard.errors import InvalidArgument, Unsupported
from dockyard.runtime.cgroups import Cpu, Memory, Resources, clean_path, discover, inner_path
from dockyard.runtime.cgroups.v1 import V1Cgroups, parse_mountinfo, parse_proc_cgroup
from dockyard.runtime.cgroups.v2 import V2Cgroups, cpu_weight, swap_max

MOUNTINFO = """\
31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755
32 31 0:29 / /sys/fs/cgroup/cpu,cpuacct rw,relatime - cgroup cgroup rw,cpu,cpuacct
35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory
36 31 0:33 / /sys/fs/cgroup/devices rw,relatime - cgroup cgroup rw,devices
40 31 0:37 / /sys/fs/cgroup/systemd rw,relatime - cgroup cgroup rw,xattr,name=systemd
41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw
50 23 0:40 /docker /mnt/other rw - cgroup cgroup rw,pids
"""
PROC_CGROUP = """\
9:name=systemd:/
4:memory:/outer/me
3:cpu,cpuacct:/
5:devices:/
0::/
"""


@pytest.mark.parametrize(
    ("given", "cleaned"),
    [
        ("", ""),
        ("/a/b/../c", "/a/c"),
        ("../../x", "x"),
        ("a/./b/", "a/b"),
        ("system.slice:docker:1234", "system.slice:docker:1234"),
    ],
)
def test_clean_path_as_runc(given: str, cleaned: str) -> None:
    assert clean_path(given) == cleaned


def test_inner_path_falls_back_to_the_id() -> None:
    assert inner_path("", "abc") == "abc"
    assert inner_path("/docker/x", "abc") == "/docker/x"


def test_parse_mountinfo_and_proc_cgroup() -> None:
    assert parse_mountinfo(MOUNTINFO, "/sys/fs/cgroup") == {
        "cpu": ("/sys/fs/cgroup/cpu,cpuacct", "/"),
        "cpuacct": ("/sys/fs/cgroup/cpu,cpuacct", "/"),
        "memory": ("/sys/fs/cgroup/memory", "/"),
        "devices": ("/sys/fs/cgroup/devices", "/"),
        "name=systemd": ("/sys/fs/cgroup/systemd", "/"),
        "": ("/sys/fs/cgroup/unified", "/"),
    }
    assert parse_proc_cgroup(PROC_CGROUP) == {
        "name=systemd": "/",
        "memory": "/outer/me",
        "cpu": "/",
        "cpuacct": "/",
        "devices": "/",
        "": "/",
    }


def fake_v1(tmp_path: Path) -> V1Cgroups:
    proc = tmp_path / "proc"
    proc.mkdir()
    (proc / "mountinfo").write_text(MOUNTINFO.replace("/sys/fs/cgroup", str(tmp_path / "cg")))
    (proc / "cgroup").write_text(PROC_CGROUP)
    return V1Cgroups.from_proc(tmp_path / "cg", proc)


def test_v1_paths_absolute_relative_and_systemd_form(tmp_path: Path) -> None:
    cg = tmp_path / "cg"
    cgroups = fake_v1(tmp_path)
    assert cgroups.paths_for("/docker/abc") == {
        "devices": f"{cg}/devices/docker/abc",
        "memory": f"{cg}/memory/docker/abc",
        "cpu": f"{cg}/cpu,cpuacct/docker/abc",
        "cpuacct": f"{cg}/cpu,cpuacct/docker/abc",
        "name=systemd": f"{cg}/systemd/docker/abc",
        "": f"{cg}/unified/docker/abc",
    }
    relative = cgroups.paths_for("system.slice:docker:abc")
    assert relative["memory"] == f"{cg}/memory/outer/me/system.slice:docker:abc"
    assert relative["devices"] == f"{cg}/devices/system.slice:docker:abc"


def test_v1_without_devices_is_refused(tmp_path: Path) -> None:
    with pytest.raises(Unsupported, match="no devices hierarchy"):
        V1Cgroups(tmp_path, {"memory": str(tmp_path / "memory")}, {}).paths_for("/x")


def _v1_leaf(tmp_path: Path, files: dict[str, dict[str, str]]) -> V1Cgroups:
    """A fake v1 tree whose leaf /c already holds the given control files."""
    mounts = {}
    for name in ("cpuset", "devices", "memory", "cpu", "pids", "freezer"):
        leaf = tmp_path / name / "c"
        leaf.mkdir(parents=True)
        for file, value in files.get(name, {}).items():
            (leaf / file).write_text(value)
        mounts[name] = str(tmp_path / name)
    return V1Cgroups(tmp_path, mounts, {})


def test_v1_writes_resources_and_warns_on_missing_files(tmp_path: Path) -> None:
    cgroups = _v1_leaf(
        tmp_path,
        {
            "memory": {"memory.limit_in_bytes": "9223372036854771712", "memory.swappiness": "60"},
            "cpu": {"cpu.shares": "1024", "cpu.cfs_quota_us": "-1", "cpu.cfs_period_us": "100000"},
            "pids": {"pids.max": "max"},
            "cpuset": {"cpuset.cpus": "0-1", "cpuset.mems": "0"},
        },
    )
    resources = Resources(
        memory=Memory(limit=64 << 20, swap=128 << 20, swappiness=10),
        cpu=Cpu(shares=1024, quota=50000, period=100000, cpus="0"),
        pids_limit=20,
    )
    handle = cgroups.create("/c", resources)
    assert (tmp_path / "memory/c/memory.limit_in_bytes").read_text() == str(64 << 20)
    assert (tmp_path / "memory/c/memory.swappiness").read_text() == "10"
    assert (tmp_path / "cpu/c/cpu.cfs_quota_us").read_text() == "50000"
    assert (tmp_path / "pids/c/pids.max").read_text() == "20"
    assert (tmp_path / "cpuset/c/cpuset.cpus").read_text() == "0"
    assert handle.warnings == [
        f"cgroup: {tmp_path}/memory/c/memory.memsw.limit_in_bytes does not exist: "
        "memory.memsw.limit_in_bytes not applied"
    ]


def test_v1_rejects_bad_swappiness(tmp_path: Path) -> None:
    cgroups = _v1_leaf(tmp_path, {"memory": {"memory.swappiness": "60"}})
    with pytest.raises(InvalidArgument, match="swappiness: 101"):
        cgroups.create("/c", Resources(memory=Memory(swappiness=101)))


def test_v1_rollback_removes_what_create_made(tmp_path: Path) -> None:
    cgroups = _v1_leaf(tmp_path, {})
    with pytest.raises(InvalidArgument):
        cgroups.create("/new/deeper", Resources(memory=Memory(swappiness=500)))
    assert not (tmp_path / "memory/new").exists()
    assert not (tmp_path / "devices/new").exists()


def test_v1_join_writes_0_to_tasks_and_add_rest_fills_the_unified_hierarchy(
    tmp_path: Path,
) -> None:
    paths = {
        name: tmp_path / (name or "unified") for name in ("devices", "memory", "name=systemd", "")
    }
    for name, directory in paths.items():
        directory.mkdir()
        for file in ("tasks", "cgroup.procs") if name else ("cgroup.procs",):
            (directory / file).write_text("")
    handle = V1Cgroups(tmp_path, {}, {}).open({k: str(v) for k, v in paths.items()})
    assert handle.unified == str(tmp_path / "unified")
    handle.join()
    handle.add_rest(4242)
    written = {
        (name, file.name): file.read_text()
        for name, directory in paths.items()
        for file in sorted(directory.iterdir())
    }
    assert written == {
        ("devices", "cgroup.procs"): "",
        ("devices", "tasks"): "0",
        ("memory", "cgroup.procs"): "",
        ("memory", "tasks"): "0",
        ("name=systemd", "cgroup.procs"): "",
        ("name=systemd", "tasks"): "0",
        ("", "cgroup.procs"): "4242",
    }
    assert handle.warnings == []


def fake_v2(tmp_path: Path) -> tuple[V2Cgroups, Path]:
    root = tmp_path / "cg2"
    for level in (root, root / "docker"):
        level.mkdir(parents=True)
        (level / "cgroup.controllers").write_text("cpuset cpu memory pids\n")
        (level / "cgroup.subtree_control").write_text("")
    leaf = root / "docker" / "abc"
    leaf.mkdir()
    for name in ("memory.max", "memory.swap.max", "cpu.weight", "cpu.max", "pids.max",
                 "cgroup.procs", "cgroup.freeze", "memory.high"):  # fmt: skip
        (leaf / name).write_text("")
    (leaf / "cgroup.events").write_text("populated 0\nfrozen 1\n")
    return V2Cgroups(root, own="/user.slice/me"), leaf


def test_v2_same_interface_on_a_fake_tree(tmp_path: Path) -> None:
    cgroups, leaf = fake_v2(tmp_path)
    resources = Resources(
        memory=Memory(limit=1 << 30, swap=2 << 30, reservation=1 << 20),
        cpu=Cpu(shares=1024, quota=50000, period=100000),
        pids_limit=-1,
        unified=(("memory.high", "900000000"),),
    )
    handle = cgroups.create("/docker/abc", resources)
    assert handle.paths == {"": str(leaf)}
    assert {name: (leaf / name).read_text() for name in sorted(p.name for p in leaf.iterdir())} == {
        "cgroup.events": "populated 0\nfrozen 1\n",
        "cgroup.freeze": "",
        "cgroup.procs": "",
        "cpu.max": "50000 100000",
        "cpu.weight": "39",
        "memory.high": "900000000",
        "memory.max": str(1 << 30),
        "memory.swap.max": str(1 << 30),
        "pids.max": "max",
    }
    assert (tmp_path / "cg2/cgroup.subtree_control").read_text() == "+cpuset +cpu +memory +pids"
    assert (
        tmp_path / "cg2/docker/cgroup.subtree_control"
    ).read_text() == "+cpuset +cpu +memory +pids"
    assert handle.warnings == [
        f"cgroup: {leaf}/memory.low does not exist: memory.low not applied",
    ]
    assert handle.unified == str(leaf)
    handle.join()  # v2 has no cheap way: nothing written
    assert (leaf / "cgroup.procs").read_text() == ""
    handle.add_rest(4241)
    assert (leaf / "cgroup.procs").read_text() == "4241"
    handle.add(4242)
    assert (leaf / "cgroup.procs").read_text() == "4242"
    assert handle.pids() == [4242]
    handle.freeze()
    assert (leaf / "cgroup.freeze").read_text() == "1"


def test_v2_paths(tmp_path: Path) -> None:
    cgroups, _ = fake_v2(tmp_path)
    root = tmp_path / "cg2"
    assert cgroups.path_for("docker/abc") == f"{root}/docker/abc"
    assert cgroups.path_for("", "abc") == f"{root}/user.slice/abc"


def test_v2_destroy_and_open(tmp_path: Path) -> None:
    cgroups, leaf = fake_v2(tmp_path)
    handle = cgroups.open({"": str(leaf)})
    for file in leaf.iterdir():  # the kernel's control files vanish with the directory
        file.unlink()
    handle.destroy()
    assert not leaf.exists()
    handle.destroy()  # already gone: fine


def test_v2_conversions() -> None:
    assert [cpu_weight(s) for s in (2, 1024, 262144)] == [1, 39, 10000]
    assert swap_max(-1, 100) == -1
    assert swap_max(300, 100) == 200
    with pytest.raises(InvalidArgument):
        swap_max(50, 100)
    with pytest.raises(InvalidArgument):
        swap_max(50, -1)


def test_discover_picks_v2_when_the_root_is_cgroup2(tmp_path: Path) -> None:
    fake_v2(tmp_path)
    proc = tmp_path / "proc"
    proc.mkdir()
    (proc / "cgroup").write_text("0::/user.slice/me\n")
    assert isinstance(discover(tmp_path / "cg2", proc), V2Cgroups)
    (proc / "mountinfo").write_text(MOUNTINFO.replace("/sys/fs/cgroup", str(tmp_path / "v1")))
    assert isinstance(discover(tmp_path / "v1", proc), V1Cgroups)


def test_remove_takes_a_leaf_at_once_and_child_cgroups_first(tmp_path: Path) -> None:
    from dockyard.runtime.cgroups import fs

    (tmp_path / "leaf").mkdir()
    (tmp_path / "tree" / "child" / "grandchild").mkdir(parents=True)
    fs.remove(str(tmp_path / "leaf"))
    fs.remove(str(tmp_path / "tree"))
    fs.remove(str(tmp_path / "gone"))
    assert list(tmp_path.iterdir()) == []
