"""cgroup v2 in full (memory, swap, cpu.max/weight/burst/idle, cpuset, pids, io, hugetlb,
unified) and v1's block IO and huge pages, on fake trees."""

from __future__ import annotations

from pathlib import Path

import pytest

from dockyard.errors import InvalidArgument
from dockyard.runtime.cgroups import BlockIO, Cpu, Memory, Resources
from dockyard.runtime.cgroups.io import io_weight
from dockyard.runtime.cgroups.v1 import V1Cgroups
from dockyard.runtime.cgroups.v2 import V2Cgroups, swap_max

V2_FILES = ("memory.max", "memory.swap.max", "memory.low", "memory.high", "cpu.weight",
            "cpu.max", "cpu.max.burst", "cpu.idle", "cpuset.cpus", "cpuset.mems", "pids.max",
            "io.weight", "io.max", "hugetlb.2MB.max", "cgroup.procs", "cgroup.freeze",
            "cgroup.max.depth")  # fmt: skip


def v2_leaf(tmp_path: Path, controllers: str = "cpuset cpu io memory hugetlb pids",
            files: tuple[str, ...] = V2_FILES) -> tuple[V2Cgroups, Path]:
    root = tmp_path / "cg2"
    root.mkdir()
    (root / "cgroup.controllers").write_text(controllers + "\n")
    (root / "cgroup.subtree_control").write_text("")
    leaf = root / "c"
    leaf.mkdir()
    (leaf / "cgroup.controllers").write_text(controllers + "\n")
    for name in files:
        (leaf / name).write_text("")
    return V2Cgroups(root), leaf


def written(leaf: Path) -> dict[str, str]:
    return {p.name: p.read_text() for p in sorted(leaf.iterdir())
            if p.read_text() and p.name != "cgroup.controllers"}


def test_v2_writes_every_resource_as_runc_fs2_does(tmp_path: Path) -> None:
    cgroups, leaf = v2_leaf(tmp_path)
    resources = Resources(
        memory=Memory(limit=256 << 20, swap=512 << 20, reservation=64 << 20),
        cpu=Cpu(shares=512, quota=20000, burst=1000, idle=0, cpus="0", mems="0"),
        pids_limit=64,
        block_io=BlockIO(weight=500, read_bps=((8, 0, 1048576),), write_iops=((8, 16, 100),)),
        hugepage_limits=(("2MB", 4 << 20),),
        unified=(("memory.high", "200000000"), ("cgroup.max.depth", "2")),
    )
    handle = cgroups.create("/c", resources)
    assert written(leaf) == {
        "cgroup.max.depth": "2",
        "cpu.idle": "0",
        "cpu.max": "20000 100000",  # no period given: the kernel's default, as runc writes it
        "cpu.max.burst": "1000",
        "cpu.weight": "20",
        "cpuset.cpus": "0",
        "cpuset.mems": "0",
        "hugetlb.2MB.max": str(4 << 20),
        "io.max": "8:16 wiops=100",  # the last write of two; the kernel keeps both lines
        "io.weight": str(io_weight(500)),
        "memory.high": "200000000",
        "memory.low": str(64 << 20),
        "memory.max": str(256 << 20),
        "memory.swap.max": str(256 << 20),
        "pids.max": "64",
    }
    assert handle.warnings == []


@pytest.mark.parametrize(("memory", "files"), [
    (Memory(limit=100, swap=100), {"memory.max": "100", "memory.swap.max": "0"}),
    (Memory(limit=-1), {"memory.max": "max", "memory.swap.max": "max"}),
    (Memory(limit=100, swap=-1), {"memory.max": "100", "memory.swap.max": "max"}),
    (Memory(limit=100), {"memory.max": "100"}),
    (Memory(reservation=7), {"memory.low": "7"}),
])  # fmt: skip
def test_v2_swap_is_converted_from_v1s_memory_plus_swap(
    tmp_path: Path, memory: Memory, files: dict[str, str]
) -> None:
    cgroups, leaf = v2_leaf(tmp_path)
    cgroups.create("/c", Resources(memory=memory))
    assert written(leaf) == files


def test_v2_quota_without_period_and_unlimited_quota(tmp_path: Path) -> None:
    cgroups, leaf = v2_leaf(tmp_path)
    handle = cgroups.create("/c", Resources(cpu=Cpu(period=50000)))
    assert written(leaf) == {"cpu.max": "max 50000"}
    handle.update(Resources(cpu=Cpu(quota=-1, period=20000)))
    assert written(leaf) == {"cpu.max": "max 20000"}


def test_v2_io_uses_bfq_weight_when_there_is_one(tmp_path: Path) -> None:
    cgroups, leaf = v2_leaf(tmp_path)
    (leaf / "io.bfq.weight").write_text("default 100\n")
    handle = cgroups.open({"": str(leaf)})
    handle.update(Resources(block_io=BlockIO(weight=300, weight_device=((8, 0, 200, None),))))
    assert (leaf / "io.bfq.weight").read_text() == "8:0 200"  # after "300"
    assert (leaf / "io.weight").read_text() == ""


def test_v2_missing_files_are_warnings_but_unified_ones_are_errors(tmp_path: Path) -> None:
    cgroups, leaf = v2_leaf(tmp_path, controllers="cpu",
                            files=("cpu.max", "cpu.weight", "cgroup.procs"))
    handle = cgroups.create("/c", Resources(memory=Memory(limit=100), pids_limit=5))
    assert handle.warnings == [
        f"cgroup: {leaf}/pids.max does not exist: pids.max not applied",
        f"cgroup: {leaf}/memory.max does not exist: memory.max not applied",
    ]
    with pytest.raises(InvalidArgument, match=r"controller 'memory' is not available .*cpu"):
        handle.update(Resources(unified=(("memory.high", "1"),)))
    with pytest.raises(InvalidArgument, match=r"CONTROLLER\.PARAMETER"):
        handle.update(Resources(unified=(("../escape", "1"),)))
    with pytest.raises(InvalidArgument, match=r"CONTROLLER\.PARAMETER"):
        handle.update(Resources(unified=(("noparam", "1"),)))
    with pytest.raises(InvalidArgument, match=r"cpu\.nosuch does not exist"):
        handle.update(Resources(unified=(("cpu.nosuch", "1"),)))


def test_swap_conversion_edges() -> None:
    assert swap_max(0, -1) == -1  # unlimited memory, swap not given: unlimited swap (runc)
    assert swap_max(0, 100) == 0
    assert swap_max(100, 100) == 0


def test_io_weight_scale() -> None:
    assert [io_weight(w) for w in (10, 500, 1000)] == [1, 4950, 10000]


def test_v1_block_io_and_huge_pages(tmp_path: Path) -> None:
    files = {"blkio": ("blkio.weight", "blkio.weight_device", "blkio.leaf_weight",
                       "blkio.throttle.read_bps_device", "blkio.throttle.write_iops_device"),
             "hugetlb": ("hugetlb.2MB.limit_in_bytes",), "cpu": ("cpu.cfs_burst_us",)}
    mounts = {}
    for name in ("devices", "blkio", "hugetlb", "cpu"):
        leaf = tmp_path / name / "c"
        leaf.mkdir(parents=True)
        for file in files.get(name, ()):
            (leaf / file).write_text("")
        mounts[name] = str(tmp_path / name)
    handle = V1Cgroups(tmp_path, mounts, {}).create("/c", Resources(
        block_io=BlockIO(weight=300, leaf_weight=200, weight_device=((8, 0, 400, None),),
                         read_bps=((8, 0, 1 << 20),), write_iops=((8, 0, 50),)),
        hugepage_limits=(("2MB", 2 << 20),), cpu=Cpu(burst=500)))
    assert written(tmp_path / "blkio/c") == {
        "blkio.leaf_weight": "200", "blkio.throttle.read_bps_device": f"8:0 {1 << 20}",
        "blkio.throttle.write_iops_device": "8:0 50", "blkio.weight": "300",
        "blkio.weight_device": "8:0 400",
    }
    assert written(tmp_path / "hugetlb/c") == {"hugetlb.2MB.limit_in_bytes": str(2 << 20)}
    assert written(tmp_path / "cpu/c") == {"cpu.cfs_burst_us": "500"}
    assert handle.warnings == []
