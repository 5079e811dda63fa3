"""Stats from cgroup v1 hierarchies (runc's ``cgroups/fs`` ``GetStats``): see ``stats.py``."""

from __future__ import annotations

import os

from dockyard.runtime.cgroups.stats import (
    CPUSET_FLAGS,
    NS_PER_TICK,
    BlkioEntry,
    CpusetStats,
    CpuStats,
    MemoryEntry,
    MemoryStats,
    Stats,
    cpu_list,
    key_values,
    parse_uint,
    read_text,
    read_uint,
)

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Mapping

_BLKIO_GROUPS = (
    (("blkio.bfq.sectors_recursive", "sectorsRecursive"),
     ("blkio.bfq.io_service_time_recursive", "ioServiceTimeRecursive"),
     ("blkio.bfq.io_wait_time_recursive", "ioWaitTimeRecursive"),
     ("blkio.bfq.io_merged_recursive", "ioMergedRecursive"),
     ("blkio.bfq.io_queued_recursive", "ioQueueRecursive"),
     ("blkio.bfq.time_recursive", "ioTimeRecursive"),
     ("blkio.bfq.io_serviced_recursive", "ioServicedRecursive"),
     ("blkio.bfq.io_service_bytes_recursive", "ioServiceBytesRecursive")),
    (("blkio.bfq.io_serviced_recursive", "ioServicedRecursive"),
     ("blkio.bfq.io_service_bytes_recursive", "ioServiceBytesRecursive")),
    (("blkio.sectors_recursive", "sectorsRecursive"),
     ("blkio.io_service_time_recursive", "ioServiceTimeRecursive"),
     ("blkio.io_wait_time_recursive", "ioWaitTimeRecursive"),
     ("blkio.io_merged_recursive", "ioMergedRecursive"),
     ("blkio.io_queued_recursive", "ioQueueRecursive"),
     ("blkio.time_recursive", "ioTimeRecursive"),
     ("blkio.io_serviced_recursive", "ioServicedRecursive"),
     ("blkio.io_service_bytes_recursive", "ioServiceBytesRecursive")),
    (("blkio.throttle.io_serviced_recursive", "ioServicedRecursive"),
     ("blkio.throttle.io_service_bytes_recursive", "ioServiceBytesRecursive")),
    (("blkio.throttle.io_serviced", "ioServicedRecursive"),
     ("blkio.throttle.io_service_bytes", "ioServiceBytesRecursive")),
)  # fmt: skip
"""runc's order: the first group whose first file has entries is the one reported."""


def read_v1(paths: Mapping[str, str], sizes: tuple[str, ...]) -> Stats:
    pids = paths.get("pids", "")
    has_pids = bool(pids) and os.path.isdir(pids)
    limit = read_uint(pids, "pids.max") if has_pids else 0
    return Stats(
        cpu=_cpu(paths.get("cpuacct", ""), paths.get("cpu", "")),
        cpuset=_cpuset(paths.get("cpuset", "")),
        memory=_memory(paths.get("memory", "")),
        pids_current=read_uint(pids, "pids.current") if has_pids else 0,
        pids_limit=0 if limit == 2**64 - 1 else limit,
        blkio=_blkio(paths.get("blkio", "")),
        hugetlb=_hugetlb(paths.get("hugetlb", ""), sizes),
    )


def _cpu(cpuacct: str, cpu: str) -> CpuStats:
    throttling = key_values(read_text(cpu, "cpu.stat")) if cpu else {}
    stats = CpuStats(periods=throttling.get("nr_periods", 0),
                     throttled_periods=throttling.get("nr_throttled", 0),
                     throttled_time=throttling.get("throttled_time", 0))
    if cpuacct and os.path.isdir(cpuacct):
        ticks = key_values(read_text(cpuacct, "cpuacct.stat"))
        kernel, user = [], []
        for line in (read_text(cpuacct, "cpuacct.usage_all") or "").splitlines()[1:]:
            fields = line.split()
            if len(fields) == 3:
                user.append(parse_uint(fields[1]))
                kernel.append(parse_uint(fields[2]))
        stats = stats.replace(
            total=read_uint(cpuacct, "cpuacct.usage"),
            percpu=tuple(parse_uint(v) for v in
                         (read_text(cpuacct, "cpuacct.usage_percpu") or "").split()),
            percpu_kernel=tuple(kernel), percpu_user=tuple(user),
            kernel=ticks.get("system", 0) * NS_PER_TICK, user=ticks.get("user", 0) * NS_PER_TICK,
        )
    return stats


def _cpuset(directory: str) -> CpusetStats:
    if not directory or not os.path.isdir(directory):
        return CpusetStats()
    flags = {}
    for name in CPUSET_FLAGS:
        text = read_text(directory, f"cpuset.{name}")
        if text is not None and text.strip().lstrip("-").isdigit():
            flags[name] = int(text.strip())
    return CpusetStats(cpus=cpu_list(read_text(directory, "cpuset.cpus")),
                       mems=cpu_list(read_text(directory, "cpuset.mems")), flags=flags)


def _memory(directory: str) -> MemoryStats:
    raw_text = read_text(directory, "memory.stat") if directory else None
    if raw_text is None:
        return MemoryStats()
    raw = key_values(raw_text)
    oom = key_values(read_text(directory, "memory.oom_control"))
    return MemoryStats(
        cache=raw.get("cache", 0), usage=_entry(directory, "memory"),
        swap=_entry(directory, "memory.memsw"), kernel=_entry(directory, "memory.kmem"),
        kernel_tcp=_entry(directory, "memory.kmem.tcp"), raw=raw,
        oom_kill=oom.get("oom_kill", 0),
    )


def _entry(directory: str, prefix: str) -> MemoryEntry:
    if read_text(directory, f"{prefix}.usage_in_bytes") is None:
        return MemoryEntry()  # no swap accounting, no kmem: runc reports zeros
    return MemoryEntry(limit=read_uint(directory, f"{prefix}.limit_in_bytes"),
                       usage=read_uint(directory, f"{prefix}.usage_in_bytes"),
                       max=read_uint(directory, f"{prefix}.max_usage_in_bytes"),
                       failcnt=read_uint(directory, f"{prefix}.failcnt"))


def _blkio(directory: str) -> dict[str, tuple[BlkioEntry, ...]]:
    if not directory:
        return {}
    for group in _BLKIO_GROUPS:
        first = _blkio_entries(read_text(directory, group[0][0]))
        if not first:
            continue
        found = {group[0][1]: first}
        for name, key in group[1:]:
            found[key] = _blkio_entries(read_text(directory, name))
        return found
    return {}


def _blkio_entries(text: str | None) -> tuple[BlkioEntry, ...]:
    """Lines of "major:minor [op] value"; the "Total" line is skipped."""
    out = []
    for line in (text or "").splitlines():
        fields = line.replace(":", " ").split()
        if len(fields) < 3 or not fields[0].isdigit() or not fields[1].isdigit():
            continue
        op, value = (fields[2], fields[3]) if len(fields) == 4 else ("", fields[2])
        out.append(BlkioEntry(major=int(fields[0]), minor=int(fields[1]), op=op,
                              value=parse_uint(value)))
    return tuple(out)


def _hugetlb(directory: str, sizes: tuple[str, ...]) -> dict[str, tuple[int, int, int]]:
    if not directory or not os.path.isdir(directory):
        return {}
    return {size: (read_uint(directory, f"hugetlb.{size}.usage_in_bytes"),
                   read_uint(directory, f"hugetlb.{size}.max_usage_in_bytes"),
                   read_uint(directory, f"hugetlb.{size}.failcnt")) for size in sizes}
