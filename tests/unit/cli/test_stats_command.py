"""dockyard stats' figures from a stats object, with docker 28's formulas and columns."""

from __future__ import annotations

from dockyard.cli import formatter
from dockyard.cli.commands import stats

SAMPLE = {
    "name": "/web", "id": "ab" * 32,
    "cpu_stats": {"cpu_usage": {"total_usage": 3_000, "percpu_usage": [1, 2]},
                  "system_cpu_usage": 20_000, "online_cpus": 2},
    "precpu_stats": {"cpu_usage": {"total_usage": 1_000}, "system_cpu_usage": 10_000},
    "memory_stats": {"usage": 3 * 2**20, "limit": 64 * 2**20,
                     "stats": {"total_inactive_file": 2**20}},
    "pids_stats": {"current": 3},
    "networks": {"eth0": {"rx_bytes": 1500, "tx_bytes": 500},
                 "eth1": {"rx_bytes": 500, "tx_bytes": 0}},
    "blkio_stats": {"io_service_bytes_recursive": [
        {"major": 8, "minor": 0, "op": "Read", "value": 4096},
        {"major": 8, "minor": 0, "op": "write", "value": 1000},
        {"major": 8, "minor": 0, "op": "Total", "value": 5096}]},
}


def test_table() -> None:
    rows = [stats.row(stats.entry("web", SAMPLE), trunc=True),
            stats.row(stats.Entry(container="gone"), trunc=True)]
    assert formatter.render(stats.TABLE, rows, stats.HEADER).splitlines() == [
        "CONTAINER ID   NAME      CPU %     MEM USAGE / LIMIT   MEM %     NET I/O      "
        "BLOCK I/O     PIDS",
        "abababababab   web       40.00%    2MiB / 64MiB        3.12%     2kB / 500B   "
        "4.1kB / 1kB   3",
        "               --        --        -- / --             --        --           "
        "--            --",
    ]


def test_cpu_without_base_or_online_count() -> None:
    assert stats.cpu_percent({"cpu_stats": {"cpu_usage": {"total_usage": 5}}}) == 0.0
    sample = {**SAMPLE, "cpu_stats": {**SAMPLE["cpu_stats"], "online_cpus": 0}}
    assert stats.cpu_percent(sample) == 40.0  # len(percpu_usage) stands in


def test_memory_v2_and_no_cache_figure() -> None:
    assert stats.memory_usage({"usage": 10, "stats": {"inactive_file": 4}}) == 6.0
    assert stats.memory_usage({"usage": 10, "stats": {"total_inactive_file": 40}}) == 10.0
