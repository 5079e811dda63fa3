"""Stats from fake v1 and v2 cgroup trees, in runc's JSON (``events --stats``)."""

from __future__ import annotations

from pathlib import Path

from dockyard.runtime.cgroups import stats
from dockyard.runtime.ops.events import render

V1 = {
    "cpuacct": {"cpuacct.usage": "3000", "cpuacct.usage_percpu": "1000 2000 \n",
                "cpuacct.usage_all": "cpu user system\n0 600 400\n1 1500 500\n",
                "cpuacct.stat": "user 3\nsystem 1\n"},
    "cpu": {"cpu.stat": "nr_periods 10\nnr_throttled 2\nthrottled_time 777\n"},
    "cpuset": {"cpuset.cpus": "0-1,3\n", "cpuset.mems": "0\n", "cpuset.cpu_exclusive": "0\n",
               "cpuset.sched_load_balance": "1\n", "cpuset.sched_relax_domain_level": "-1\n"},
    "memory": {"memory.stat": "cache 4096\nrss 8192\n", "memory.usage_in_bytes": "12288\n",
               "memory.max_usage_in_bytes": "20480\n", "memory.failcnt": "3\n",
               "memory.limit_in_bytes": "67108864\n", "memory.oom_control":
               "oom_kill_disable 0\nunder_oom 0\noom_kill 2\n"},
    "pids": {"pids.current": "4\n", "pids.max": "max\n"},
    "blkio": {"blkio.throttle.io_serviced_recursive":
              "8:0 Read 5\n8:0 Write 7\nTotal 12\n",
              "blkio.throttle.io_service_bytes_recursive": "8:0 Read 4096\nTotal 4096\n"},
    "hugetlb": {"hugetlb.2MB.usage_in_bytes": "0\n", "hugetlb.2MB.max_usage_in_bytes": "0\n",
                "hugetlb.2MB.failcnt": "1\n"},
}  # fmt: skip


def tree(root: Path, files: dict[str, dict[str, str]]) -> dict[str, str]:
    paths = {}
    for name, contents in files.items():
        directory = root / (name or "unified") / "c"
        directory.mkdir(parents=True)
        for file, text in contents.items():
            (directory / file).write_text(text)
        paths[name] = str(directory)
    return paths


def hugepages(root: Path) -> str:
    for name in ("hugepages-2048kB", "hugepages-1048576kB", "other"):
        (root / "hp" / name).mkdir(parents=True)
    return str(root / "hp")


def test_page_sizes_as_cgroup_files_name_them(tmp_path: Path) -> None:
    assert stats.page_sizes(hugepages(tmp_path)) == ("1GB", "2MB")
    assert stats.page_sizes(str(tmp_path / "none")) == ()


def test_v1_stats_in_runcs_json(tmp_path: Path) -> None:
    sample = stats.read(tree(tmp_path, V1), str(tmp_path / "no-hugepages"))
    data = sample.to_runc()
    assert data == {
        "cpu": {"usage": {"total": 3000, "percpu": [1000, 2000], "percpu_kernel": [400, 500],
                          "percpu_user": [600, 1500], "kernel": 10_000_000,
                          "user": 30_000_000},
                "throttling": {"periods": 10, "throttledPeriods": 2, "throttledTime": 777}},
        "cpuset": {"cpus": [0, 1, 3], "cpu_exclusive": 0, "mems": [0], "mem_hardwall": 0,
                   "mem_exclusive": 0, "memory_migrate": 0, "memory_spread_page": 0,
                   "memory_spread_slab": 0, "memory_pressure": 0, "sched_load_balance": 1,
                   "sched_relax_domain_level": -1},
        "memory": {"cache": 4096,
                   "usage": {"limit": 67108864, "usage": 12288, "max": 20480, "failcnt": 3},
                   "swap": {"limit": 0, "failcnt": 0}, "kernel": {"limit": 0, "failcnt": 0},
                   "kernelTCP": {"limit": 0, "failcnt": 0},
                   "raw": {"cache": 4096, "rss": 8192}, "oom_kill": 2},
        "pids": {"current": 4},
        "blkio": {"ioServiceBytesRecursive": [{"major": 8, "op": "Read", "value": 4096}],
                  "ioServicedRecursive": [{"major": 8, "op": "Read", "value": 5},
                                          {"major": 8, "op": "Write", "value": 7}]},
        "hugetlb": {},
        "intel_rdt": {},
        "network_interfaces": None,
    }  # fmt: skip
    with_pages = stats.read(tree(tmp_path / "again", V1), hugepages(tmp_path))
    assert with_pages.to_runc()["hugetlb"] == {"1GB": {"failcnt": 0}, "2MB": {"failcnt": 1}}


def test_v2_stats_in_runcs_json(tmp_path: Path) -> None:
    paths = tree(tmp_path, {"": {
        "cpu.stat": "usage_usec 5\nuser_usec 3\nsystem_usec 2\nnr_periods 4\nnr_throttled 1\n"
                    "throttled_usec 9\n",
        "memory.stat": "anon 100\nfile 200\n", "memory.current": "300\n",
        "memory.max": "max\n", "memory.swap.current": "10\n", "memory.swap.max": "1000\n",
        "memory.events": "low 0\nhigh 0\nmax 4\noom 2\noom_kill 1\n",
        "pids.current": "2\n", "pids.max": "50\n",
        "io.stat": "8:0 rbytes=4096 wbytes=0 rios=1 wios=0 dbytes=0 dios=0\n",
        "hugetlb.2MB.current": "0\n", "hugetlb.2MB.events": "max 3\n",
    }})  # fmt: skip
    data = stats.read(paths, hugepages(tmp_path)).to_runc()
    assert data["cpu"] == {"usage": {"total": 5000, "kernel": 2000, "user": 3000},
                           "throttling": {"periods": 4, "throttledPeriods": 1,
                                          "throttledTime": 9000}}
    assert data["memory"] == {
        "cache": 200, "usage": {"limit": 2**64 - 1, "usage": 300, "failcnt": 0},
        "swap": {"limit": 2**64 - 1 + 1000 - 2**64, "usage": 310, "failcnt": 0},
        "kernel": {"limit": 0, "failcnt": 0}, "kernelTCP": {"limit": 0, "failcnt": 0},
        "raw": {"anon": 100, "file": 200}, "oom_kill": 1,
    }  # runc adds memory's figures to swap's, overflow and all
    assert data["pids"] == {"current": 2, "limit": 50}
    assert data["blkio"] == {
        "ioServiceBytesRecursive": [{"major": 8, "op": "Read", "value": 4096},
                                    {"major": 8, "op": "Write"}],
        "ioServicedRecursive": [{"major": 8, "op": "Read", "value": 1},
                                {"major": 8, "op": "Write"}]}
    assert data["hugetlb"] == {"2MB": {"failcnt": 3}}  # no 1GB files: left out
    assert data["cpuset"]["sched_load_balance"] == 0


def test_v2_without_controllers_counts_processes(tmp_path: Path) -> None:
    paths = tree(tmp_path, {"": {"cgroup.procs": "10\n11\n", "cpu.stat": "usage_usec 1\n"}})
    sample = stats.read(paths, str(tmp_path))
    assert (sample.pids_current, sample.pids_limit, sample.memory) == (2, 0, stats.MemoryStats())


def test_the_stats_event_line_is_gos_encoder(tmp_path: Path) -> None:
    paths = tree(tmp_path, {"": {"cgroup.procs": "", "cpu.stat": ""}})
    line = render("stats", "c1", stats.read(paths, str(tmp_path)))
    assert line.startswith('{"type":"stats","id":"c1","data":{"cpu":{"usage":{"kernel":0,')
    assert line.endswith(',"intel_rdt":{},"network_interfaces":null}}\n')
    assert render("oom", "c1") == '{"type":"oom","id":"c1"}\n'
