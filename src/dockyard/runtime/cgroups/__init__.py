"""Control groups for containers: one interface, a cgroup v1 and a cgroup v2 backend.

The runtime process, after clone and before the child goes on (runc's order)::

    cgroups = discover()                              # v1 or v2, from what is mounted
    handle = cgroups.create(spec.cgroups_path, resources, container_id)
    handle.add(child_pid)
    ... later: handle.freeze() / thaw() / pids() / update(resources) / destroy()

``cgroupsPath`` is read as runc reads it with the cgroupfs driver: an absolute path is placed
under each hierarchy's root; a relative one (including the systemd form "slice:prefix:name",
which is just a relative name here) under the runtime's own cgroup; an empty one becomes the
container id. A control file the kernel does not offer (memory.memsw.* without swap accounting,
cpu.rt_* without RT group scheduling) is logged and listed in ``handle.warnings``, not fatal.

Every root is a constructor argument, so the backends run against a fake tree in a test.
"""

from __future__ import annotations

import os
import posixpath

from dockyard.runtime.devices import DeviceRule
from dockyard.runtime.record import Record

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Mapping
    from os import PathLike
    from typing import Protocol
else:  # the Protocols only matter to the type checker; skip typing's import cost
    Protocol = object

__all__ = [
    "BlockIO",
    "CgroupHandle",
    "Cgroups",
    "Cpu",
    "DeviceRule",
    "Memory",
    "Resources",
    "clean_path",
    "discover",
    "inner_path",
]


class Memory(Record):
    """``linux.resources.memory``: bytes; -1 is unlimited; None leaves the kernel's value."""

    limit: int | None = None
    reservation: int | None = None
    swap: int | None = None
    swappiness: int | None = None
    disable_oom_killer: bool | None = None


class Cpu(Record):
    """``linux.resources.cpu``."""

    shares: int | None = None
    quota: int | None = None
    period: int | None = None
    realtime_runtime: int | None = None
    realtime_period: int | None = None
    cpus: str = ""
    mems: str = ""
    burst: int | None = None
    """cpu.max.burst (v2), cpu.cfs_burst_us (v1): microseconds."""
    idle: int | None = None
    """cpu.idle (v2 only)."""


class BlockIO(Record):
    """``linux.resources.blockIO``: weights are v1's 10..1000 (v2's io.weight gets them
    scaled, io.bfq.weight as they are); devices are (major, minor, value)."""

    weight: int | None = None
    leaf_weight: int | None = None
    weight_device: tuple[tuple[int, int, int | None, int | None], ...] = ()
    """(major, minor, weight, leaf weight)."""
    read_bps: tuple[tuple[int, int, int], ...] = ()
    write_bps: tuple[tuple[int, int, int], ...] = ()
    read_iops: tuple[tuple[int, int, int], ...] = ()
    write_iops: tuple[tuple[int, int, int], ...] = ()


class Resources(Record):
    """What a container's cgroup enforces.

    ``devices`` is the final allow list, runc's defaults included: build it with
    :func:`dockyard.runtime.devices.cgroup_rules`. An empty tuple leaves the device cgroup as
    the kernel created it. ``unified`` is ``linux.resources.unified`` (cgroup v2 files).
    """

    memory: Memory | None = None
    cpu: Cpu | None = None
    pids_limit: int | None = None
    devices: tuple[DeviceRule, ...] = ()
    unified: tuple[tuple[str, str], ...] = ()
    block_io: BlockIO | None = None
    hugepage_limits: tuple[tuple[str, int], ...] = ()
    """(page size as the cgroup files name it, "2MB"; bytes)."""


class CgroupHandle(Protocol):
    """One container's cgroup (a directory per hierarchy on v1, one directory on v2)."""

    @property
    def paths(self) -> Mapping[str, str]:
        """Hierarchy name to directory, as runc's state.json ``cgroup_paths`` ("" is v2)."""
        ...

    @property
    def warnings(self) -> list[str]:
        """Control files that were missing, one message each."""
        ...

    def add(self, pid: int) -> None: ...

    @property
    def unified(self) -> str:
        """The cgroup2 directory (v2, or the unified hierarchy of a hybrid v1 machine), where
        a process is best started with clone3(CLONE_INTO_CGROUP); "" when there is none."""
        ...

    def join(self) -> None:
        """Move the calling process, which must be single-threaded, into every hierarchy but
        :attr:`unified`. A move through ``cgroup.procs`` write-locks the kernel's global
        threadgroup lock, and the first such lock after an idle moment waits for an RCU grace
        period (5-15 ms here); on v1, ``0`` written to ``tasks`` moves the calling thread
        without it. Nothing on v2."""
        ...

    def add_rest(self, pid: int) -> None:
        """Add ``pid`` to :attr:`unified` (through ``cgroup.procs``, so with that lock): for
        a process that could not be started there."""
        ...

    def update(self, resources: Resources) -> None: ...

    def freeze(self) -> None: ...

    def thaw(self) -> None: ...

    def pids(self) -> list[int]: ...

    def destroy(self) -> None:
        """Remove the directories (and any child cgroups); they must hold no process."""
        ...


class Cgroups(Protocol):
    def create(self, path: str, resources: Resources, container_id: str = "") -> CgroupHandle:
        """Make the cgroup for ``linux.cgroupsPath`` ``path`` (``container_id`` stands in
        when it is empty) and apply ``resources``; on failure nothing it made is left."""
        ...

    def open(self, paths: Mapping[str, str]) -> CgroupHandle:
        """A handle on an existing cgroup, from the ``paths`` a handle reported."""
        ...


def clean_path(path: str) -> str:
    """runc's utils.CleanPath: lexically clean; a relative path cannot climb above itself."""
    if not path:
        return ""
    cleaned = posixpath.normpath(path)
    if not cleaned.startswith("/"):
        cleaned = posixpath.relpath(posixpath.normpath("/" + cleaned), "/")
    return posixpath.normpath(cleaned)


def inner_path(cgroups_path: str, container_id: str) -> str:
    """The cgroup path a container gets: ``linux.cgroupsPath`` cleaned, else its id."""
    return clean_path(cgroups_path) or clean_path(container_id)


def open_handle(paths: Mapping[str, str], root: str | PathLike[str] = "/sys/fs/cgroup") \
        -> CgroupHandle:
    """A handle on an existing cgroup from the ``paths`` a handle reported: what
    ``discover().open(paths)`` gives, without reading the mount table."""
    if os.path.exists(os.path.join(root, "cgroup.controllers")):
        from dockyard.runtime.cgroups.v2 import V2Cgroup

        return V2Cgroup(paths[""])
    from dockyard.runtime.cgroups.v1 import V1Cgroup

    return V1Cgroup(dict(paths))


def discover(
    root: str | PathLike[str] = "/sys/fs/cgroup", proc: str | PathLike[str] = "/proc/self"
) -> Cgroups:
    """The backend for this machine: v2 when ``root`` itself is a cgroup2 mount, else v1."""
    if os.path.exists(os.path.join(root, "cgroup.controllers")):
        from dockyard.runtime.cgroups.v2 import V2Cgroups

        return V2Cgroups.from_proc(root, proc)
    from dockyard.runtime.cgroups.v1 import V1Cgroups

    return V1Cgroups.from_proc(root, proc)
