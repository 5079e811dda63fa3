"""bench/busybox.py: what the container rows read from /proc, read from this test's own process
and a child it starts (no daemon, no root), and the three container rows' names and parts."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from types import ModuleType

BenchModule = Callable[[str], ModuleType]


def test_proc_figures_of_this_process(bench_module: BenchModule) -> None:
    busybox = bench_module("bench.busybox")
    pid = os.getpid()
    assert busybox.pss_kib(pid) > 0
    assert busybox.rss_kib(pid) >= busybox.pss_kib(pid) // 2
    assert busybox.threads(pid) >= 1
    assert busybox.fds(pid) >= 3
    assert (busybox.pss_kib(-1), busybox.threads(-1), busybox.fds(-1)) == (0, 0, 0)


def test_monitors_are_matched_by_name_and_container_id(bench_module: BenchModule) -> None:
    busybox = bench_module("bench.busybox")
    cid = "ab" * 32
    # a process whose argv[0] reads like a monitor's, naming the container in its arguments;
    # it says when it runs (before its exec, its command line is pytest's) and lives until
    # its stdin closes (a program that ended would have no command line)
    program = f"import sys; print('ready', flush=True); sys.stdin.read()  # {cid}"
    child = subprocess.Popen(["conmon-fake", "-c", program], executable=sys.executable,
                             stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    try:
        assert child.stdout is not None and child.stdout.readline() == b"ready\n"
        assert busybox.monitors("podman", [cid]) == [child.pid]
        assert busybox.monitors("podman", ["cd" * 32]) == []
        assert busybox.monitors("dockyard", [cid]) == []
    finally:
        child.kill()
        child.communicate()


def test_container_rows_are_listed(bench_module: BenchModule) -> None:
    rows = bench_module("bench.rows")
    assert {"run_rm_none", "density_50", "parallel_100"} <= set(rows.names())
