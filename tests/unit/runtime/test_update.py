"""update's values (runc's flags, Docker's units, --resources) and events' interval."""

from __future__ import annotations

from pathlib import Path

import pytest

from dockyard.errors import InvalidArgument
from dockyard.runtime.ops.events import parse_interval
from dockyard.runtime.ops.update import _pair_cpu_max, from_flags, ram_in_bytes, read_resources
from dockyard.runtime.spec import BlockIO, Cpu, Memory, Pids, Resources


@pytest.mark.parametrize(("text", "value"), [
    ("512", 512), ("512k", 512 << 10), ("512K", 512 << 10), ("16m", 16 << 20),
    ("64MiB", 64 << 20), ("64 mb", 64 << 20), ("1.5g", 3 << 29), ("2t", 2 << 40),
    ("7b", 7), ("-1", -1),
])  # fmt: skip
def test_sizes_in_dockers_units(text: str, value: int) -> None:
    assert ram_in_bytes(text) == value


@pytest.mark.parametrize("text", ["", "m", "1x", "1.2.3k", "-2", "k1", "1 2"])
def test_bad_sizes(text: str) -> None:
    with pytest.raises(InvalidArgument, match="invalid value for memory"):
        ram_in_bytes(text)


def test_flags_ask_only_for_what_is_given() -> None:
    assert from_flags({}) == Resources()
    assert from_flags({"memory": "32m", "memory-swap": "-1", "cpu-share": "512",
                       "cpu-quota": "-1", "cpuset-cpus": "0-1", "pids-limit": 10,
                       "blkio-weight": 300}) == Resources(
        memory=Memory(limit=32 << 20, swap=-1),
        cpu=Cpu(shares=512, quota=-1, cpus="0-1"),
        pids=Pids(limit=10), block_io=BlockIO(weight=300))
    with pytest.raises(InvalidArgument, match="cpu-period"):
        from_flags({"cpu-period": "-5"})
    with pytest.raises(InvalidArgument, match="cpu-share"):
        from_flags({"cpu-share": "many"})


def test_resources_file_is_checked_like_config_json() -> None:
    assert read_resources(b'{"memory": {"limit": 1048576}, "unified": {"memory.high": "9"}}',
                          "r.json") == Resources(memory=Memory(limit=1048576),
                                                 unified={"memory.high": "9"})
    with pytest.raises(InvalidArgument, match=r"r.json: memory.limit: want integer"):
        read_resources(b'{"memory": {"limit": "1m"}}', "r.json")


def test_v2_quota_or_period_alone_keeps_the_other_from_cpu_max(tmp_path: Path) -> None:
    (tmp_path / "cpu.max").write_text("30000 50000\n")
    paths = {"": str(tmp_path)}
    quota = Resources(cpu=Cpu(quota=10000))
    assert _pair_cpu_max(quota, paths) == Resources(cpu=Cpu(quota=10000, period=50000))
    period = Resources(cpu=Cpu(period=20000))
    assert _pair_cpu_max(period, paths) == Resources(cpu=Cpu(quota=30000, period=20000))
    (tmp_path / "cpu.max").write_text("max 100000\n")
    assert _pair_cpu_max(period, paths) == Resources(cpu=Cpu(quota=-1, period=20000))
    v1 = {"cpu": str(tmp_path), "": str(tmp_path)}
    assert _pair_cpu_max(quota, v1) == quota  # v1 keeps each in a file of its own


@pytest.mark.parametrize(("text", "seconds"), [
    ("5s", 5.0), ("500ms", 0.5), ("1m30s", 90.0), ("1.5s", 1.5), ("2h", 7200.0),
])  # fmt: skip
def test_intervals_are_go_durations(text: str, seconds: float) -> None:
    assert parse_interval(text) == seconds


@pytest.mark.parametrize("text", ["", "5", "s", "0s", "1x"])
def test_bad_intervals(text: str) -> None:
    with pytest.raises(InvalidArgument):
        parse_interval(text)


def test_intel_rdt_is_not_enabled() -> None:
    from dockyard.errors import Unsupported

    with pytest.raises(Unsupported, match="Intel RDT/CAT: l3 cache schema is not enabled"):
        from_flags({"l3-cache-schema": "L3:0=f"})
