"""The stats service's readers over a fake /proc: cgroup directories from /proc/<pid>/cgroup and
the mount table, /proc/stat, meminfo and net/dev, and runc's stats turned into dockerd's JSON."""

from __future__ import annotations

from pathlib import Path

from dockyard.runtime.cgroups.stats import BlkioEntry, CpuStats, MemoryEntry, MemoryStats, Stats
from dockyard.services import container_stats

MOUNTINFO = """\
30 25 0:26 / /sys/fs/cgroup rw - tmpfs tmpfs rw
31 30 0:27 / /sys/fs/cgroup/cpu rw - cgroup cgroup rw,cpu
32 30 0:28 / /sys/fs/cgroup/cpuacct rw - cgroup cgroup rw,cpuacct
33 30 0:29 / /sys/fs/cgroup/memory rw - cgroup cgroup rw,memory
34 30 0:30 / /sys/fs/cgroup/systemd rw - cgroup cgroup rw,name=systemd
35 30 0:31 / /sys/fs/cgroup/unified rw - cgroup2 cgroup2 rw
"""
NET_DEV = "".join((
    "Inter-|   Receive  |  Transmit\n",
    " face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets ...\n",
    "    lo: 10 1 0 0 0 0 0 0 10 1 0 0 0 0 0 0\n",
    "  eth0: 532 6 1 2 0 0 0 0 266 3 4 5 0 0 0 0\n",
))


def _proc(tmp_path: Path, cgroup: str) -> str:
    (tmp_path / "self").mkdir()
    (tmp_path / "self" / "mountinfo").write_text(MOUNTINFO)
    (tmp_path / "7" / "net").mkdir(parents=True)
    (tmp_path / "7" / "cgroup").write_text(cgroup)
    (tmp_path / "7" / "net" / "dev").write_text(NET_DEV)
    (tmp_path / "stat").write_text("cpu  10 1 2 100 3 0 4 5 0 0\ncpu0 1 1 1 1 1 1 1\n")
    (tmp_path / "meminfo").write_text("MemTotal:        1024 kB\nMemFree: 1 kB\n")
    return str(tmp_path)


def test_v1_paths_leave_named_hierarchies_out(tmp_path: Path) -> None:
    proc = _proc(tmp_path, "4:memory:/dy/abc\n3:cpu:/dy/abc\n2:cpuacct:/dy/abc\n"
                           "1:name=systemd:/x\n0::/\n")
    assert container_stats.cgroup_paths(7, proc) == {
        "memory": "/sys/fs/cgroup/memory/dy/abc", "cpu": "/sys/fs/cgroup/cpu/dy/abc",
        "cpuacct": "/sys/fs/cgroup/cpuacct/dy/abc"}


def test_v2_path(tmp_path: Path) -> None:
    proc = _proc(tmp_path, "0::/dy/abc\n")
    assert container_stats.cgroup_paths(7, proc) == {"": "/sys/fs/cgroup/unified/dy/abc"}


def test_host_figures(tmp_path: Path) -> None:
    proc = _proc(tmp_path, "0::/\n")
    assert container_stats.system_cpu_usage(proc) == 120 * 10**7
    assert container_stats.machine_memory(proc) == 1024 * 1024
    assert container_stats.network_stats(7, proc) == {"eth0": {
        "rx_bytes": 532, "rx_packets": 6, "rx_errors": 1, "rx_dropped": 2,
        "tx_bytes": 266, "tx_packets": 3, "tx_errors": 4, "tx_dropped": 5}}


def test_to_docker_v1() -> None:
    stats = Stats(
        cpu=CpuStats(total=30, percpu=(10, 20), kernel=5, user=25, periods=1),
        memory=MemoryStats(usage=MemoryEntry(limit=2**63, usage=4096, max=8192),
                           raw={"cache": 1, "total_inactive_file": 2, "shmem": 3}),
        pids_current=2, pids_limit=0,
        blkio={"ioServiceBytesRecursive": (BlkioEntry(major=8, minor=0, op="Read", value=7),)},
    )
    out = container_stats.to_docker(stats, v2=False, machine_memory=1000)
    assert out["pids_stats"] == {"current": 2}
    assert out["cpu_stats"] == {
        "cpu_usage": {"total_usage": 30, "percpu_usage": [10, 20], "usage_in_kernelmode": 5,
                      "usage_in_usermode": 25},
        "throttling_data": {"periods": 1, "throttled_periods": 0, "throttled_time": 0}}
    memory = out["memory_stats"]
    assert list(memory) == ["usage", "max_usage", "stats", "limit"]
    assert (memory["usage"], memory["max_usage"], memory["limit"]) == (4096, 8192, 1000)
    assert list(memory["stats"]) == sorted(container_stats.MEMORY_KEYS_V1)
    assert (memory["stats"]["cache"], memory["stats"]["total_inactive_file"]) == (1, 2)
    assert out["blkio_stats"]["io_service_bytes_recursive"] == [
        {"major": 8, "minor": 0, "op": "Read", "value": 7}]
    assert out["blkio_stats"]["io_serviced_recursive"] is None
