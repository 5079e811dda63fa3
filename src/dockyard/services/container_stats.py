"""``GET /containers/{id}/stats?stream=&one-shot=``: a container's resource usage as dockerd 20.10
answers it (``types.StatsJSON``), read by the daemon from the container's cgroup files.

The cgroup directories come from ``/proc/<init pid>/cgroup`` and the mount table; the files are
read by :func:`dockyard.runtime.cgroups.stats.read` (runc's ``GetStats``) in a worker thread.
dockerd's collector samples every second and fills ``precpu_stats``/``preread`` from the
previous sample; so does :meth:`ContainerStats.samples`:

=====================  =====================================================================
stream=1               one object a second until the client goes; the first has an empty
                       ``precpu_stats`` and the zero ``preread``
stream=0               one object, the second sample (1 s after the first), so the CPU
                       percentage has a base (dockerd's "prime the cpu stats")
stream=0&one-shot=1    one object, the first sample, with no base
not running            ``{"name", "id"}`` and zeros (stream=0), or such objects every second
=====================  =====================================================================

Outside the cgroup: ``system_cpu_usage`` is the sum of the first seven fields of /proc/stat's
``cpu`` line in nanoseconds, ``online_cpus`` is sysconf(_SC_NPROCESSORS_ONLN), an unset memory
limit reads as the machine's memory (MemTotal), and ``networks`` holds the interfaces of the
container's own network namespace (not ``lo``) from ``/proc/<pid>/net/dev``.
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
from collections.abc import AsyncGenerator, Mapping
from typing import Any

from dockyard.containers.processes import cgroup_mounts
from dockyard.containers.record import Container, format_time
from dockyard.runtime.cgroups import stats as cgroup_stats
from dockyard.services.containers import ContainerService

log = logging.getLogger(__name__)

ZERO_TIME = "0001-01-01T00:00:00Z"
INTERVAL = 1.0
NS_PER_TICK = 10**9 // 100  # USER_HZ
#: memory.stat keys dockerd 20.10 reports for cgroup v1 (containerd's MemoryStat), sorted.
MEMORY_KEYS_V1 = tuple(sorted([
    "hierarchical_memory_limit", "hierarchical_memsw_limit",
    *(prefix + key for prefix in ("", "total_") for key in (
        "cache", "rss", "rss_huge", "mapped_file", "dirty", "writeback", "pgpgin", "pgpgout",
        "pgfault", "pgmajfault", "inactive_anon", "active_anon", "inactive_file",
        "active_file", "unevictable")),
]))
BLKIO_KEYS = {
    "io_service_bytes_recursive": "ioServiceBytesRecursive",
    "io_serviced_recursive": "ioServicedRecursive",
    "io_queue_recursive": "ioQueueRecursive",
    "io_service_time_recursive": "ioServiceTimeRecursive",
    "io_wait_time_recursive": "ioWaitTimeRecursive",
    "io_merged_recursive": "ioMergedRecursive",
    "io_time_recursive": "ioTimeRecursive",
    "sectors_recursive": "sectorsRecursive",
}
NET_FIELDS = {"rx_bytes": 0, "rx_packets": 1, "rx_errors": 2, "rx_dropped": 3,
              "tx_bytes": 8, "tx_packets": 9, "tx_errors": 10, "tx_dropped": 11}
_V1_SKIP = ("name=",)


class ContainerStats:
    """Samples of containers' usage; ``proc`` and the interval are arguments for tests."""

    def __init__(self, containers: ContainerService, proc: str = "/proc",
                 interval: float = INTERVAL) -> None:
        self.containers = containers
        self.proc = proc
        self.interval = interval

    async def samples(self, ref: str, stream: bool, one_shot: bool = False
                      ) -> AsyncGenerator[dict[str, Any], None]:
        """The objects dockerd sends for these query parameters (see the module docstring)."""
        container = self.containers.get(ref)
        if not stream and not container.state.running:
            yield empty(container)
            return
        previous: dict[str, Any] | None = None
        first = True
        while True:
            current = await asyncio.to_thread(self.sample, self.containers.get(container.id))
            out = dict(current)
            out["preread"] = previous["read"] if previous else ZERO_TIME
            out["precpu_stats"] = previous["cpu_stats"] if previous else empty_cpu()
            previous = current
            if stream or one_shot or not first:
                yield out
                if not stream:
                    return
            first = False
            await asyncio.sleep(self.interval)

    def sample(self, container: Container) -> dict[str, Any]:
        """One sample (blocking): the cgroup's files now, or zeros when it is not running."""
        pid = container.state.pid
        if not container.state.running or pid <= 0:
            return empty(container)
        try:
            paths = cgroup_paths(pid, self.proc)
        except OSError:  # it exited meanwhile
            return empty(container)
        read = time.time_ns()
        stats = cgroup_stats.read(paths)
        out = to_docker(stats, v2=set(paths) <= {""}, machine_memory=machine_memory(self.proc))
        out["read"] = format_time(read)
        out["cpu_stats"]["system_cpu_usage"] = system_cpu_usage(self.proc)
        out["cpu_stats"]["online_cpus"] = os.sysconf("SC_NPROCESSORS_ONLN")
        out = _frame(container, out)
        if own_network(container):
            try:
                networks = network_stats(pid, self.proc)
            except OSError:
                networks = {}
            if networks:
                out["networks"] = networks
        return out


def _frame(container: Container, values: Mapping[str, Any]) -> dict[str, Any]:
    """``types.StatsJSON`` in Go's field order."""
    return {
        "read": values.get("read", ZERO_TIME), "preread": ZERO_TIME,
        "pids_stats": values.get("pids_stats", {}),
        "blkio_stats": values.get("blkio_stats", {key: None for key in BLKIO_KEYS}),
        "num_procs": 0, "storage_stats": {},
        "cpu_stats": values.get("cpu_stats", empty_cpu()), "precpu_stats": empty_cpu(),
        "memory_stats": values.get("memory_stats", {}),
        "name": container.name, "id": container.id,
    }


def empty(container: Container) -> dict[str, Any]:
    """What dockerd sends for a container that is not running."""
    return _frame(container, {})


def empty_cpu() -> dict[str, Any]:
    return {"cpu_usage": {"total_usage": 0, "usage_in_kernelmode": 0, "usage_in_usermode": 0},
            "throttling_data": {"periods": 0, "throttled_periods": 0, "throttled_time": 0}}


def to_docker(stats: cgroup_stats.Stats, v2: bool, machine_memory: int) -> dict[str, Any]:
    """The cgroup part of ``types.StatsJSON`` (pids, blkio, cpu, memory) from runc's stats."""
    cpu = stats.cpu
    usage: dict[str, Any] = {"total_usage": cpu.total}
    if cpu.percpu and not v2:
        usage["percpu_usage"] = list(cpu.percpu)
    usage.update(usage_in_kernelmode=cpu.kernel, usage_in_usermode=cpu.user)
    memory = stats.memory
    raw = dict(memory.raw) if v2 else {key: memory.raw.get(key, 0) for key in MEMORY_KEYS_V1}
    limit = memory.usage.limit
    if machine_memory and (limit > machine_memory or limit == 0):
        limit = machine_memory
    memory_json = _nonzero(usage=memory.usage.usage, max_usage=memory.usage.max)
    memory_json["stats"] = dict(sorted(raw.items()))
    memory_json.update(_nonzero(failcnt=memory.usage.failcnt, limit=limit))
    return {
        "pids_stats": _nonzero(current=stats.pids_current, limit=stats.pids_limit),
        "blkio_stats": {key: _blkio(stats.blkio.get(runc, ())) for key, runc in BLKIO_KEYS.items()},
        "cpu_stats": {"cpu_usage": usage, "throttling_data": {
            "periods": cpu.periods, "throttled_periods": cpu.throttled_periods,
            "throttled_time": cpu.throttled_time}},
        "memory_stats": memory_json,
    }


def _blkio(entries: tuple[cgroup_stats.BlkioEntry, ...]) -> list[dict[str, Any]] | None:
    """Go's nil slice (null) when there are no entries."""
    return [{"major": e.major, "minor": e.minor, "op": e.op, "value": e.value}
            for e in entries] or None


def _nonzero(**values: int) -> dict[str, Any]:
    return {key: value for key, value in values.items() if value}


def cgroup_paths(pid: int, proc: str = "/proc") -> dict[str, str]:
    """Controller name to the directory of ``pid``'s cgroup in it (v1), or ``{"": dir}`` when
    only the unified hierarchy (v2) holds controllers."""
    with open(f"{proc}/{pid}/cgroup") as lines:
        memberships = [line.rstrip("\n").split(":", 2) for line in lines if line.strip()]
    mounts = cgroup_mounts(f"{proc}/self/mountinfo")
    v1: dict[str, str] = {}
    unified = ""
    for _, controllers, path in memberships:
        if not controllers:
            unified = f"{mounts[''].rstrip('/')}{path}" if "" in mounts else ""
            continue
        for controller in controllers.split(","):
            if controller in mounts and not controller.startswith(_V1_SKIP):
                v1[controller] = f"{mounts[controller].rstrip('/')}{path}"
    if "memory" in v1 or "cpuacct" in v1 or not unified:
        return v1
    return {"": unified}


def system_cpu_usage(proc: str = "/proc") -> int:
    """dockerd's ``getSystemCPUUsage``: the host's CPU time in nanoseconds."""
    with open(f"{proc}/stat") as lines:
        for line in lines:
            fields = line.split()
            if fields and fields[0] == "cpu":
                return sum(int(value) for value in fields[1:8]) * NS_PER_TICK
    return 0


def machine_memory(proc: str = "/proc") -> int:
    """MemTotal in bytes (0 if /proc/meminfo has none)."""
    try:
        with open(f"{proc}/meminfo") as lines:
            for line in lines:
                if line.startswith("MemTotal:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        return 0
    return 0


def own_network(container: Container) -> bool:
    """Whether the container has interfaces of its own (dockerd's sandbox endpoints)."""
    mode = container.host.network_mode
    return mode not in ("host", "none") and not mode.startswith("container:")


def network_stats(pid: int, proc: str = "/proc") -> dict[str, dict[str, int]]:
    """Counters of the interfaces in ``pid``'s network namespace but ``lo``."""
    with open(f"{proc}/{pid}/net/dev") as lines:
        text = lines.read()
    return parse_net_dev(text)


def parse_net_dev(text: str) -> dict[str, dict[str, int]]:
    found: dict[str, dict[str, int]] = {}
    for line in text.splitlines()[2:]:
        name, sep, rest = line.partition(":")
        values = rest.split()
        if not sep or name.strip() == "lo" or len(values) < 16:
            continue
        found[name.strip()] = {key: int(values[index]) for key, index in NET_FIELDS.items()}
    return dict(sorted(found.items()))
