"""cgroup v2 (the unified hierarchy, as runc's ``libcontainer/cgroups/fs2``): one directory.

::

    <root>/                          cgroup2 mount (/sys/fs/cgroup on a v2 machine)
        cgroup.controllers           controllers the root offers
        cgroup.subtree_control       enabled here for each level down to the container
        <inner path>/                the container: cgroup.procs, memory.max, pids.max, ...

A non-empty cgroupsPath is taken from the root (absolute or not, as runc's fs2 does); an empty
one becomes a sibling of the runtime's own cgroup (its parent, which holds no task, can enable
controllers). Device rules become an eBPF program attached to the cgroup (``bpfdevices.py``).

What the spec's values become (runc's fs2, in its order):

=============================  ===============================================================
pids.limit                     pids.max (-1: "max")
memory limit, swap,            memory.max; memory.swap.max = swap - limit (swap is v1's
reservation                    memory+swap; equal: "0"; limit -1 with no swap: "max");
                               memory.low
blockIO                        io.weight (scaled) or io.bfq.weight, io.max (``io.py``)
devices                        an eBPF device filter (``bpfdevices.py``)
cpu shares, quota/period,      cpu.weight (shares scaled), cpu.max "quota|max period" (period
burst, idle                    100000 unless given), cpu.max.burst, cpu.idle
cpus, mems                     cpuset.cpus, cpuset.mems
hugepageLimits                 hugetlb.<size>.max
unified                        each file as given, last (so it wins): memory.high, io.weight,
                               ...; a file of a controller this cgroup lacks is an error
=============================  ===============================================================

Any other missing control file is a warning (a controller the parent does not delegate).
"""

from __future__ import annotations

import os
import posixpath

from dockyard.errors import InvalidArgument
from dockyard.runtime.cgroups import Cpu, Memory, Resources, clean_path, fs, io

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Mapping
    from os import PathLike

    from dockyard.sys import Syscalls


def cpu_weight(shares: int) -> int:
    """runc's ConvertCPUSharesToCgroupV2Value: shares 2..262144 onto weight 1..10000."""
    return 1 + ((shares - 2) * 9999) // 262142


def swap_max(swap: int, limit: int) -> int:
    """v1's memory+swap to v2's swap alone (runc's ConvertMemorySwapToCgroupV2Value)."""
    if limit == -1 and swap == 0:  # unlimited memory asks for unlimited swap too
        return -1
    if swap in (0, -1):
        return swap
    if limit in (0, -1):
        raise InvalidArgument("linux.resources.memory.swap: needs a memory limit on cgroup v2")
    if swap < limit:
        raise InvalidArgument("linux.resources.memory.swap: must be at least memory.limit")
    return swap - limit


class V2Cgroups:
    """The v2 backend over the cgroup2 tree at ``root``; ``own`` is the runtime's own cgroup
    as /proc/self/cgroup names it (``0::<own>``)."""

    def __init__(self, root: str | PathLike[str], own: str = "/",
                 sys: Syscalls | None = None) -> None:
        self._root = os.fspath(root)
        self._own = own
        self._sys = sys

    @classmethod
    def from_proc(
        cls,
        root: str | PathLike[str] = "/sys/fs/cgroup",
        proc: str | PathLike[str] = "/proc/self",
        sys: Syscalls | None = None,
    ) -> V2Cgroups:
        own = "/"
        for line in fs.read(os.fspath(proc), "cgroup").splitlines():
            if line.startswith("0::"):
                own = line[3:]
        return cls(root, own, sys)

    def path_for(self, path: str, container_id: str = "") -> str:
        """runc's fs2 defaultDirPath: cgroupsPath from the root, else own parent + id."""
        inner = clean_path(path)
        if not inner:
            name = clean_path(container_id)
            if not name:
                raise InvalidArgument("cgroup: empty path and no container id")
            inner = posixpath.join(posixpath.dirname(self._own), name)
        return posixpath.normpath(posixpath.join(self._root, inner.lstrip("/")))

    def create(self, path: str, resources: Resources, container_id: str = "") -> V2Cgroup:
        directory = self.path_for(path, container_id)
        handle = V2Cgroup(directory, self._sys)
        created: list[str] = []
        try:
            fs.make_dirs(directory, created)
            self._enable_controllers(directory, handle.warnings)
            handle.update(resources)
        except BaseException:
            for made in reversed(created):
                try:
                    os.rmdir(made)
                except OSError as exc:
                    fs.warn(f"cgroup: cannot remove {made} while undoing a create: {exc}")
            raise
        return handle

    def open(self, paths: Mapping[str, str]) -> V2Cgroup:
        return V2Cgroup(paths[""], self._sys)

    def _enable_controllers(self, directory: str, warnings: list[str]) -> None:
        """Each level from the root down to the container's parent delegates what it has."""
        relative = posixpath.relpath(directory, self._root)
        level = self._root
        for part in relative.split("/")[:-1] if relative != "." else []:
            self._delegate(level, warnings)
            level = posixpath.join(level, part)
        if relative != ".":
            self._delegate(level, warnings)

    @staticmethod
    def _delegate(level: str, warnings: list[str]) -> None:
        offered = fs.read(level, "cgroup.controllers").split()
        if offered:
            fs.write(level, "cgroup.subtree_control", " ".join(f"+{c}" for c in offered), warnings)


class V2Cgroup:
    def __init__(self, directory: str, sys: Syscalls | None = None) -> None:
        self._directory = directory
        self._warnings: list[str] = []
        self._sys = sys

    @property
    def paths(self) -> Mapping[str, str]:
        return {"": self._directory}

    @property
    def warnings(self) -> list[str]:
        return self._warnings

    def add(self, pid: int) -> None:
        fs.write(self._directory, "cgroup.procs", str(pid), self._warnings)

    @property
    def unified(self) -> str:
        return self._directory

    def join(self) -> None:
        """Nothing: a process moves itself only through ``cgroup.procs`` (see add_rest)."""

    def add_rest(self, pid: int) -> None:
        self.add(pid)

    def update(self, resources: Resources) -> None:
        directory, warnings = self._directory, self._warnings
        if resources.pids_limit:
            limit = str(resources.pids_limit) if resources.pids_limit > 0 else "max"
            fs.write(directory, "pids.max", limit, warnings)
        if resources.memory is not None:
            _set_memory(directory, resources.memory, warnings)
        if resources.block_io is not None:
            io.set_io_v2(directory, resources.block_io, warnings)
        if resources.cpu is not None:
            _set_cpu(directory, resources.cpu, warnings)
        if resources.devices:
            from dockyard.runtime.cgroups import bpfdevices

            if self._sys is None:
                from dockyard.sys import real

                self._sys = real()
            bpfdevices.attach(directory, resources.devices, self._sys)
        if resources.cpu is not None:
            _set_cpuset(directory, resources.cpu, warnings)
        io.set_hugetlb(directory, resources.hugepage_limits, "max", warnings)
        for name, value in resources.unified:
            _set_unified(directory, name, value)

    def freeze(self) -> None:
        self._freeze("1")

    def thaw(self) -> None:
        self._freeze("0")

    def _freeze(self, value: str) -> None:
        if fs.write(self._directory, "cgroup.freeze", value, self._warnings):
            fs.wait_for(self._directory, "cgroup.events", f"frozen {value}")

    def pids(self) -> list[int]:
        return fs.read_pids(self._directory)

    def destroy(self) -> None:
        fs.remove(self._directory)


def _limit(value: int) -> str:
    return "max" if value == -1 else str(value)


def _set_memory(directory: str, memory: Memory, warnings: list[str]) -> None:
    limit = memory.limit or 0
    swap = swap_max(memory.swap or 0, limit)
    if swap or (memory.swap or 0) > 0:  # swap == limit: no swap at all ("0")
        fs.write(directory, "memory.swap.max", _limit(swap), warnings)
    if limit:
        fs.write(directory, "memory.max", _limit(limit), warnings)
    if memory.reservation:
        fs.write(directory, "memory.low", str(memory.reservation), warnings)
    if memory.disable_oom_killer:
        warnings.append(f"cgroup v2 {directory}: disableOOMKiller has no v2 equivalent")


def _set_cpu(directory: str, cpu: Cpu, warnings: list[str]) -> None:
    if cpu.shares:
        fs.write(directory, "cpu.weight", str(cpu_weight(cpu.shares)), warnings)
    if cpu.quota or cpu.period:
        value = str(cpu.quota) if cpu.quota and cpu.quota > 0 else "max"
        fs.write(directory, "cpu.max", f"{value} {cpu.period or 100000}", warnings)
    if cpu.burst is not None:
        fs.write(directory, "cpu.max.burst", str(cpu.burst), warnings)
    if cpu.idle is not None:
        fs.write(directory, "cpu.idle", str(cpu.idle), warnings)


def _set_cpuset(directory: str, cpu: Cpu, warnings: list[str]) -> None:
    if cpu.cpus:
        fs.write(directory, "cpuset.cpus", cpu.cpus, warnings)
    if cpu.mems:
        fs.write(directory, "cpuset.mems", cpu.mems, warnings)


def _set_unified(directory: str, name: str, value: str) -> None:
    """One ``linux.resources.unified`` file (runc's setUnified): it must be a file name of
    the form CONTROLLER.PARAMETER, and a controller this cgroup lacks is an error."""
    where = f"linux.resources.unified[{name!r}]"
    controller, dot, _ = name.partition(".")
    if "/" in name or not dot or not controller:
        raise InvalidArgument(f"{where}: want a file name of the form CONTROLLER.PARAMETER")
    if not os.path.exists(os.path.join(directory, name)):
        offered = fs.read(directory, "cgroup.controllers").split()
        if controller != "cgroup" and controller not in offered:
            raise InvalidArgument(f"{where}: controller {controller!r} is not available in "
                                  f"{directory} (it has: {' '.join(offered) or 'none'})")
        raise InvalidArgument(f"{where}: {directory}/{name} does not exist")
    fs.write(directory, name, value, [])
