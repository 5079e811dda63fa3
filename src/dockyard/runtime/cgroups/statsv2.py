"""Stats from a cgroup v2 directory (runc's ``cgroups/fs2`` ``GetStats``): see ``stats.py``.

cpu.stat and cgroup.procs are there whatever controllers the parent enables; the memory,
pids, io and hugetlb files only with their controller.
"""

from __future__ import annotations

from dockyard.runtime.cgroups.stats import (
    MAX_U64,
    BlkioEntry,
    CpuStats,
    MemoryEntry,
    MemoryStats,
    Stats,
    key_values,
    read_text,
    read_uint,
)

_IO_OPS = {"rbytes": ("ioServiceBytesRecursive", "Read"),
           "wbytes": ("ioServiceBytesRecursive", "Write"),
           "rios": ("ioServicedRecursive", "Read"), "wios": ("ioServicedRecursive", "Write")}


def read_v2(directory: str, sizes: tuple[str, ...]) -> Stats:
    current, limit = _pids(directory)
    return Stats(cpu=_cpu(directory), memory=_memory(directory), pids_current=current,
                 pids_limit=limit, blkio=_io(directory), hugetlb=_hugetlb(directory, sizes))


def _cpu(directory: str) -> CpuStats:
    stat = key_values(read_text(directory, "cpu.stat"))
    return CpuStats(total=stat.get("usage_usec", 0) * 1000,
                    user=stat.get("user_usec", 0) * 1000,
                    kernel=stat.get("system_usec", 0) * 1000,
                    periods=stat.get("nr_periods", 0),
                    throttled_periods=stat.get("nr_throttled", 0),
                    throttled_time=stat.get("throttled_usec", 0) * 1000)


def _memory(directory: str) -> MemoryStats:
    raw_text = read_text(directory, "memory.stat")
    if raw_text is None or read_text(directory, "memory.current") is None:
        return MemoryStats()
    raw = key_values(raw_text)
    usage = MemoryEntry(usage=read_uint(directory, "memory.current"),
                        limit=read_uint(directory, "memory.max"))
    swap = MemoryEntry()
    if read_text(directory, "memory.swap.current") is not None:
        # v1 reported memory+swap; runc adds memory's to v2's swap figures to match
        limit = read_uint(directory, "memory.swap.max")
        if limit != MAX_U64:
            limit = (limit + usage.limit) & MAX_U64
        swap = MemoryEntry(usage=read_uint(directory, "memory.swap.current") + usage.usage,
                           limit=limit)
    events = key_values(read_text(directory, "memory.events"))
    return MemoryStats(cache=raw.get("file", 0), usage=usage, swap=swap, raw=raw,
                       oom_kill=events.get("oom_kill", 0))


def _pids(directory: str) -> tuple[int, int]:
    if read_text(directory, "pids.current") is None:
        procs = read_text(directory, "cgroup.procs") or ""
        return procs.count("\n"), 0
    limit = read_uint(directory, "pids.max")
    return read_uint(directory, "pids.current"), 0 if limit == MAX_U64 else limit


def _io(directory: str) -> dict[str, tuple[BlkioEntry, ...]]:
    found: dict[str, list[BlkioEntry]] = {}
    for line in (read_text(directory, "io.stat") or "").splitlines():
        if not line.strip():
            continue
        device, *items = line.split()
        major, _, minor = device.partition(":")
        if not (major.isdigit() and minor.isdigit()):
            continue
        for item in items:
            name, _, value = item.partition("=")
            if name in _IO_OPS and value.isdigit():
                key, op = _IO_OPS[name]
                found.setdefault(key, []).append(
                    BlkioEntry(major=int(major), minor=int(minor), op=op, value=int(value)))
    return {key: tuple(entries) for key, entries in found.items()}


def _hugetlb(directory: str, sizes: tuple[str, ...]) -> dict[str, tuple[int, int, int]]:
    out = {}
    for size in sizes:
        if read_text(directory, f"hugetlb.{size}.current") is None:
            continue  # no hugetlb controller here, or not this size
        failed = key_values(read_text(directory, f"hugetlb.{size}.events")).get("max", 0)
        out[size] = (read_uint(directory, f"hugetlb.{size}.current"), 0, failed)
    return out
