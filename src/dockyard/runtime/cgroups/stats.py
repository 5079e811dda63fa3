"""A container's resource usage from its cgroup files, as runc gathers it (``GetStats`` of
runc's ``cgroups/fs`` and ``cgroups/fs2``), and runc's JSON of it (``types.Stats``, what
``runc events --stats`` prints).

=========  ======================================  ===========================================
           cgroup v1 (a directory per hierarchy)   cgroup v2 (one directory)
=========  ======================================  ===========================================
cpu        cpuacct.usage, .usage_percpu,           cpu.stat usage_usec, user_usec,
           .usage_all, .stat; cpu.stat throttling  system_usec, nr_periods, nr_throttled, ...
cpuset     cpuset.cpus, .mems and the flags        (none)
memory     memory.{usage,max_usage,limit}_in_      memory.current, .max, .stat; swap from
           bytes, .failcnt, .stat; memsw, kmem,    memory.swap.current and .max (added to
           kmem.tcp when the kernel has them       memory's, as runc reports it)
OOM kills  memory.oom_control ``oom_kill``         memory.events ``oom_kill``
pids       pids.current, pids.max ("max": 0)       the same; cgroup.procs lines without pids
blkio      the first of runc's file groups with    io.stat rbytes/wbytes, rios/wios
           data (bfq, cfq, throttle)
hugetlb    hugetlb.<size>.usage_in_bytes, ...      hugetlb.<size>.current, .events max
=========  ======================================  ===========================================

A file the kernel does not offer leaves its value zero. The OOM kill count is dockyard's
addition to runc's JSON (``memory.oom_kill``): runc 1.1 reports OOMs only as events.
"""

from __future__ import annotations

import os
from types import MappingProxyType

from dockyard.runtime.record import Record

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Mapping

MAX_U64 = 2**64 - 1
NS_PER_TICK = 1_000_000_000 // 100  # USER_HZ is 100 on Linux (runc's clockTicks)
EMPTY: Mapping[str, int] = MappingProxyType({})


class CpuStats(Record):
    """Nanoseconds, as runc reports them."""

    total: int = 0
    percpu: tuple[int, ...] = ()
    percpu_kernel: tuple[int, ...] = ()
    percpu_user: tuple[int, ...] = ()
    kernel: int = 0
    user: int = 0
    periods: int = 0
    throttled_periods: int = 0
    throttled_time: int = 0


class CpusetStats(Record):
    cpus: tuple[int, ...] = ()
    mems: tuple[int, ...] = ()
    flags: Mapping[str, int] = EMPTY
    """cpu_exclusive, mem_hardwall, ..., sched_relax_domain_level by runc's JSON names."""


class MemoryEntry(Record):
    limit: int = 0
    usage: int = 0
    max: int = 0
    failcnt: int = 0


class MemoryStats(Record):
    cache: int = 0
    usage: MemoryEntry = MemoryEntry()
    swap: MemoryEntry = MemoryEntry()
    kernel: MemoryEntry = MemoryEntry()
    kernel_tcp: MemoryEntry = MemoryEntry()
    raw: Mapping[str, int] = EMPTY
    oom_kill: int = 0
    """Processes the OOM killer killed in this cgroup (and below)."""


class BlkioEntry(Record):
    major: int
    minor: int
    op: str
    value: int


class Stats(Record):
    """One sample of a container's cgroup."""

    cpu: CpuStats = CpuStats()
    cpuset: CpusetStats = CpusetStats()
    memory: MemoryStats = MemoryStats()
    pids_current: int = 0
    pids_limit: int = 0
    """0: no limit (runc's convention)."""
    blkio: Mapping[str, tuple[BlkioEntry, ...]] = MappingProxyType({})
    """runc's JSON key (ioServiceBytesRecursive, ...) to entries."""
    hugetlb: Mapping[str, tuple[int, int, int]] = MappingProxyType({})
    """Page size ("2MB") to (usage, max usage, failcnt)."""

    def to_runc(self) -> dict[str, object]:
        """runc's ``types.Stats`` as Go marshals it (omitempty where runc's tags say so)."""
        cpu = self.cpu
        usage: dict[str, object] = _nonzero(total=cpu.total)
        usage.update(_nonzero(percpu=list(cpu.percpu), percpu_kernel=list(cpu.percpu_kernel),
                              percpu_user=list(cpu.percpu_user)))
        usage.update(kernel=cpu.kernel, user=cpu.user)
        cpuset: dict[str, object] = {}
        flags = {name: self.cpuset.flags.get(name, 0) for name in CPUSET_FLAGS}
        cpuset.update(_nonzero(cpus=list(self.cpuset.cpus)))
        cpuset["cpu_exclusive"] = flags.pop("cpu_exclusive")
        cpuset.update(_nonzero(mems=list(self.cpuset.mems)))
        cpuset.update(flags)
        memory: dict[str, object] = _nonzero(cache=self.memory.cache)
        for key, entry in (("usage", self.memory.usage), ("swap", self.memory.swap),
                           ("kernel", self.memory.kernel), ("kernelTCP", self.memory.kernel_tcp)):
            memory[key] = {"limit": entry.limit, **_nonzero(usage=entry.usage, max=entry.max),
                           "failcnt": entry.failcnt}
        if self.memory.raw:
            memory["raw"] = {key: self.memory.raw[key] for key in sorted(self.memory.raw)}
        memory["oom_kill"] = self.memory.oom_kill
        return {
            "cpu": {"usage": usage, "throttling": _nonzero(
                periods=cpu.periods, throttledPeriods=cpu.throttled_periods,
                throttledTime=cpu.throttled_time)},
            "cpuset": cpuset,
            "memory": memory,
            "pids": _nonzero(current=self.pids_current, limit=self.pids_limit),
            "blkio": {key: [_nonzero(major=e.major, minor=e.minor, op=e.op, value=e.value)
                            for e in self.blkio[key]]
                      for key in BLKIO_KEYS if self.blkio.get(key)},
            "hugetlb": {size: {**_nonzero(usage=usage_, max=peak), "failcnt": failcnt}
                        for size, (usage_, peak, failcnt) in sorted(self.hugetlb.items())},
            "intel_rdt": {},
            "network_interfaces": None,
        }


CPUSET_FLAGS = ("cpu_exclusive", "mem_hardwall", "mem_exclusive", "memory_migrate",
                "memory_spread_page", "memory_spread_slab", "memory_pressure",
                "sched_load_balance", "sched_relax_domain_level")
BLKIO_KEYS = ("ioServiceBytesRecursive", "ioServicedRecursive", "ioQueueRecursive",
              "ioServiceTimeRecursive", "ioWaitTimeRecursive", "ioMergedRecursive",
              "ioTimeRecursive", "sectorsRecursive")


def _nonzero(**values: object) -> dict[str, object]:
    """Go's omitempty: zero numbers, empty strings and empty lists are left out."""
    return {key: value for key, value in values.items() if value}


def read(paths: Mapping[str, str], hugepages: str = "/sys/kernel/mm/hugepages") -> Stats:
    """The stats of the cgroup a handle reported as ``paths`` (v2: the one key "")."""
    sizes = page_sizes(hugepages)
    if set(paths) <= {""}:
        from dockyard.runtime.cgroups.statsv2 import read_v2

        return read_v2(paths.get("", ""), sizes)
    from dockyard.runtime.cgroups.statsv1 import read_v1

    return read_v1(paths, sizes)


def page_sizes(directory: str) -> tuple[str, ...]:
    """The huge page sizes as cgroup files name them ("2MB", "1GB"), from
    /sys/kernel/mm/hugepages/hugepages-<n>kB (runc's HugePageSizes)."""
    try:
        names = os.listdir(directory)
    except OSError:
        return ()
    sizes = []
    for name in sorted(names):
        number = name.removeprefix("hugepages-").removesuffix("kB")
        if not number.isdigit() or number == name:
            continue
        size = int(number)
        sizes.append(f"{size >> 20}GB" if size >= 1 << 20 else
                     f"{size >> 10}MB" if size >= 1 << 10 else f"{size}KB")
    return tuple(sizes)


def read_text(directory: str, name: str) -> str | None:
    """The file's text; None when it (or the directory) does not exist."""
    try:
        with open(f"{directory}/{name}", encoding="ascii", errors="replace") as file:
            return file.read()
    except (FileNotFoundError, NotADirectoryError):
        return None


def read_uint(directory: str, name: str) -> int:
    """A single number ("max" is 2**64-1, as runc's GetCgroupParamUint); 0 if missing."""
    text = read_text(directory, name)
    return 0 if text is None else parse_uint(text.strip())


def parse_uint(text: str) -> int:
    if text == "max":
        return MAX_U64
    try:
        value = int(text)
    except ValueError:
        return 0
    return max(value, 0)  # runc: a negative value (v1's -1) reads as 0


def key_values(text: str | None) -> dict[str, int]:
    """Lines of "key value" (memory.stat, cpu.stat, memory.events)."""
    out: dict[str, int] = {}
    for line in (text or "").splitlines():
        key, _, value = line.partition(" ")
        if key and value.strip().lstrip("-").isdigit():
            out[key] = parse_uint(value.strip())
    return out


def cpu_list(text: str | None) -> tuple[int, ...]:
    """A cpuset list ("0-3,5") as numbers."""
    out: list[int] = []
    for part in (text or "").strip().split(","):
        low, _, high = part.partition("-")
        if low.isdigit():
            out.extend(range(int(low), int(high if high.isdigit() else low) + 1))
    return tuple(out)
