"""cgroup v1 (cgroupfs, as runc's ``libcontainer/cgroups/fs``): a directory per hierarchy.

A hybrid machine's tree (this one)::

    /sys/fs/cgroup/            tmpfs
        cpu/  cpuacct/  cpuset/  memory/  devices/  freezer/  blkio/  pids/   (cgroup v1)
        systemd/               named hierarchy "name=systemd" (joined, never configured)
        unified/               cgroup2 with no controllers (joined, never configured)
        <hierarchy>/<inner path>/cgroup.procs, <controller files>

Joined in runc's order: cpuset, devices, memory, cpu, cpuacct, pids, blkio, hugetlb, net_cls,
net_prio, perf_event, freezer, rdma, name=systemd, and the unified hierarchy when mounted.
A hierarchy that is not mounted is skipped, except devices: without it no device allow list
can hold, and that is an error (as in runc).
"""

from __future__ import annotations

import errno
import os
import posixpath

from dockyard.errors import DockyardError, Internal, InvalidArgument, SystemCallError, Unsupported
from dockyard.runtime.cgroups import Cpu, Memory, Resources, fs, inner_path, io
from dockyard.runtime.devices import Emulator

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Mapping
    from os import PathLike

SUBSYSTEMS = (
    "cpuset", "devices", "memory", "cpu", "cpuacct", "pids", "blkio", "hugetlb", "net_cls",
    "net_prio", "perf_event", "freezer", "rdma", "name=systemd", "",
)  # fmt: skip
_JOIN_ONLY = ("name=systemd", "")  # runc ignores errors joining these


def parse_mountinfo(text: str, root: str) -> dict[str, tuple[str, str]]:
    """Hierarchy name to (mount point, mount root) for cgroup mounts under ``root``."""
    found: dict[str, tuple[str, str]] = {}
    for line in text.splitlines():
        fields = line.split()
        if "-" not in fields:
            continue
        sep = fields.index("-")
        fstype, options = fields[sep + 1], fields[sep + 3].split(",")
        mount_root, point = fields[3], fields[4]
        if not (point + "/").startswith(root.rstrip("/") + "/"):
            continue
        if fstype == "cgroup":
            for name in SUBSYSTEMS[:-1]:
                if name in options:
                    found.setdefault(name, (point, mount_root))
        elif fstype == "cgroup2" and point != root.rstrip("/"):
            found.setdefault("", (point, mount_root))
    return found


def parse_proc_cgroup(text: str) -> dict[str, str]:
    """Hierarchy name to this process's cgroup, from /proc/<pid>/cgroup ("" is v2's 0::)."""
    own: dict[str, str] = {}
    for line in text.splitlines():
        parts = line.split(":", 2)
        if len(parts) != 3:
            continue
        if parts[1] == "":
            own[""] = parts[2]
        for name in parts[1].split(","):
            own[name] = parts[2]
    return own


class V1Cgroups:
    """The v1 backend; ``mounts`` maps a hierarchy to its mount point, ``own`` to the
    directory of the runtime's own cgroup in it (where relative paths go)."""

    def __init__(
        self, root: str | PathLike[str], mounts: Mapping[str, str], own: Mapping[str, str]
    ):
        self._root = os.fspath(root)
        self._mounts = dict(mounts)
        self._own = dict(own)

    @classmethod
    def from_proc(
        cls,
        root: str | PathLike[str] = "/sys/fs/cgroup",
        proc: str | PathLike[str] = "/proc/self",
    ) -> V1Cgroups:
        found = parse_mountinfo(fs.read(os.fspath(proc), "mountinfo"), os.fspath(root))
        cgroup = parse_proc_cgroup(fs.read(os.fspath(proc), "cgroup"))
        own: dict[str, str] = {}
        for name, (point, mount_root) in found.items():
            if name in cgroup:
                relative = posixpath.relpath(cgroup[name], mount_root)
                own[name] = posixpath.normpath(posixpath.join(point, relative))
        return cls(root, {name: point for name, (point, _) in found.items()}, own)

    def paths_for(self, inner: str) -> dict[str, str]:
        """Each mounted hierarchy's directory for ``inner`` (runc's subsysPath)."""
        if not inner:
            raise InvalidArgument("cgroup: empty path")
        paths = {}
        for name in SUBSYSTEMS:
            if name not in self._mounts:
                continue
            if posixpath.isabs(inner):
                base = posixpath.join(self._root, posixpath.basename(self._mounts[name]))
                paths[name] = posixpath.normpath(base + inner)
            elif name in self._own:
                paths[name] = posixpath.join(self._own[name], inner)
        if "devices" not in paths:
            raise Unsupported(f"cgroup v1: no devices hierarchy under {self._root}")
        return paths

    def create(self, path: str, resources: Resources, container_id: str = "") -> V1Cgroup:
        handle = V1Cgroup(self.paths_for(inner_path(path, container_id)))
        created: list[str] = []
        try:
            for name, directory in handle.paths.items():
                if name == "cpuset":
                    _cpuset_dirs(directory, created)
                else:
                    fs.make_dirs(directory, created)
            handle.update(resources)
        except BaseException:
            for directory in reversed(created):
                _quiet_rmdir(directory)
            raise
        return handle

    def open(self, paths: Mapping[str, str]) -> V1Cgroup:
        return V1Cgroup(dict(paths))


def _quiet_rmdir(directory: str) -> None:
    try:
        os.rmdir(directory)
    except OSError as exc:
        fs.warn(f"cgroup: cannot remove {directory} while undoing a create: {exc}")


def _cpuset_dirs(directory: str, created: list[str]) -> None:
    """mkdir -p where each new cpuset gets its parent's cpus and mems (an empty cpuset
    admits no task)."""
    parent = os.path.dirname(directory)
    if not os.path.isdir(directory):
        if not os.path.isdir(parent):
            _cpuset_dirs(parent, created)
        fs.make_dirs(directory, created)
    for name in ("cpuset.cpus", "cpuset.mems"):
        if os.path.exists(os.path.join(parent, name)) and not fs.read(directory, name).strip():
            fs.write(directory, name, fs.read(parent, name).strip(), [])


class V1Cgroup:
    """A container's cgroup on v1: the directories of one inner path, one per hierarchy."""

    def __init__(self, paths: dict[str, str]) -> None:
        self._paths = paths
        self._warnings: list[str] = []

    @property
    def paths(self) -> Mapping[str, str]:
        return self._paths

    @property
    def warnings(self) -> list[str]:
        return self._warnings

    def add(self, pid: int) -> None:
        for name, directory in self._paths.items():
            self._enter(name, directory, "cgroup.procs", str(pid))

    @property
    def unified(self) -> str:
        return self._paths.get("", "")

    def join(self) -> None:
        for name, directory in self._paths.items():
            if name:  # not the unified hierarchy (cgroup2): add_rest
                self._enter(name, directory, "tasks", "0")

    def add_rest(self, pid: int) -> None:
        if "" in self._paths:
            self._enter("", self._paths[""], "cgroup.procs", str(pid))

    def _enter(self, name: str, directory: str, file: str, pid: str) -> None:
        try:
            fs.write(directory, file, pid, self._warnings)
        except DockyardError:
            if name not in _JOIN_ONLY:
                raise

    def update(self, resources: Resources) -> None:
        paths = self._paths
        if resources.cpu is not None and "cpuset" in paths:
            _set_cpuset(paths["cpuset"], resources.cpu, self._warnings)
        if resources.devices:
            _set_devices(paths["devices"], resources, self._warnings)
        if resources.memory is not None and "memory" in paths:
            _set_memory(paths["memory"], resources.memory, self._warnings)
        if resources.cpu is not None and "cpu" in paths:
            _set_cpu(paths["cpu"], resources.cpu, self._warnings)
        if resources.pids_limit and "pids" in paths:
            limit = str(resources.pids_limit) if resources.pids_limit > 0 else "max"
            fs.write(paths["pids"], "pids.max", limit, self._warnings)
        if resources.block_io is not None and "blkio" in paths:
            io.set_blkio_v1(paths["blkio"], resources.block_io, self._warnings)
        if resources.hugepage_limits and "hugetlb" in paths:
            io.set_hugetlb(paths["hugetlb"], resources.hugepage_limits, "limit_in_bytes",
                           self._warnings)
        if resources.unified:
            raise InvalidArgument("linux.resources.unified: needs cgroup v2")

    def freeze(self) -> None:
        self._freezer("FROZEN")

    def thaw(self) -> None:
        self._freezer("THAWED")

    def _freezer(self, state: str) -> None:
        directory = self._paths.get("freezer")
        if directory is None:
            raise Unsupported("cgroup v1: no freezer hierarchy mounted")
        for _ in range(1000):  # runc repeats the write: a new task may race the freeze
            fs.write(directory, "freezer.state", state, self._warnings)
            if fs.wait_for(directory, "freezer.state", state, timeout=0.01):
                return
        raise SystemCallError("write", errno.EBUSY, f"{state} to {directory}/freezer.state")

    def pids(self) -> list[int]:
        return fs.read_pids(self._paths["devices"])

    def destroy(self) -> None:
        for directory in dict.fromkeys(self._paths.values()):
            fs.remove(directory)


def _set_cpuset(directory: str, cpu: Cpu, warnings: list[str]) -> None:
    if cpu.cpus:
        fs.write(directory, "cpuset.cpus", cpu.cpus, warnings)
    if cpu.mems:
        fs.write(directory, "cpuset.mems", cpu.mems, warnings)


def _set_devices(directory: str, resources: Resources, warnings: list[str]) -> None:
    current = Emulator.from_list(fs.read(directory, "devices.list"))
    target = Emulator.of(resources.devices)
    for rule in current.transition(target):
        name = "devices.allow" if rule.allow else "devices.deny"
        fs.write(directory, name, rule.cgroup_string(), warnings)
    after = Emulator.from_list(fs.read(directory, "devices.list"))
    if after.default_allow != target.default_allow or (
        not target.default_allow and after != target
    ):
        raise Internal(f"cgroup {directory}: devices.list does not match the allow list")


def _set_memory(directory: str, memory: Memory, warnings: list[str]) -> None:
    limit, swap = memory.limit or 0, memory.swap or 0
    if limit == -1 and swap == 0 and os.path.exists(f"{directory}/memory.memsw.limit_in_bytes"):
        swap = -1
    # memsw must stay >= the memory limit: raise it first when the limit grows
    swap_first = False
    if limit and swap:
        current = int(fs.read(directory, "memory.limit_in_bytes"))
        swap_first = swap == -1 or current < swap
    steps = [("memory.memsw.limit_in_bytes", swap), ("memory.limit_in_bytes", limit)]
    for name, value in steps if swap_first else reversed(steps):
        if value:
            _write_memory(directory, name, value, warnings)
    if memory.reservation:
        fs.write(directory, "memory.soft_limit_in_bytes", str(memory.reservation), warnings)
    if memory.disable_oom_killer:
        fs.write(directory, "memory.oom_control", "1", warnings)
    if memory.swappiness is not None and memory.swappiness != -1:
        if not 0 <= memory.swappiness <= 100:
            raise InvalidArgument(
                f"linux.resources.memory.swappiness: {memory.swappiness} is not 0..100"
            )
        fs.write(directory, "memory.swappiness", str(memory.swappiness), warnings)


def _write_memory(directory: str, name: str, value: int, warnings: list[str]) -> None:
    try:
        fs.write(directory, name, str(value), warnings)
    except SystemCallError as exc:
        if exc.errno != errno.EBUSY or name != "memory.limit_in_bytes":
            raise
        usage = fs.read(directory, "memory.usage_in_bytes").strip()
        raise InvalidArgument(
            f"cgroup {directory}: unable to set memory limit to {value} (current usage: {usage})"
        ) from exc


def _set_cpu(directory: str, cpu: Cpu, warnings: list[str]) -> None:
    if cpu.shares and fs.write(directory, "cpu.shares", str(cpu.shares), warnings):
        actual = int(fs.read(directory, "cpu.shares"))
        if actual != cpu.shares:
            bound = "maximum" if cpu.shares > actual else "minimum"
            raise InvalidArgument(f"the {bound} allowed cpu-shares is {actual}")
    period = ""
    if cpu.period:
        try:
            fs.write(directory, "cpu.cfs_period_us", str(cpu.period), warnings)
        except SystemCallError as exc:  # a shorter period may need the quota written first
            if exc.errno != errno.EINVAL or not cpu.quota:
                raise
            period = str(cpu.period)
    if cpu.quota:
        fs.write(directory, "cpu.cfs_quota_us", str(cpu.quota), warnings)
        if period:
            fs.write(directory, "cpu.cfs_period_us", period, warnings)
    if cpu.burst is not None:
        fs.write(directory, "cpu.cfs_burst_us", str(cpu.burst), warnings)
    if cpu.realtime_period:
        fs.write(directory, "cpu.rt_period_us", str(cpu.realtime_period), warnings)
    if cpu.realtime_runtime:
        fs.write(directory, "cpu.rt_runtime_us", str(cpu.realtime_runtime), warnings)
