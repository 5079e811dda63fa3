"""A :class:`~dockyard.sys.Syscalls` that records calls instead of making them.

Unit tests hand it to the code under test and compare ``calls`` with the whole expected list.
``fail`` makes a named call raise, to test error paths.
"""

from __future__ import annotations

import errno as errnos
from dataclasses import dataclass, field

from dockyard.errors import SystemCallError
from dockyard.sys import CapabilitySets

_ALL_CAPS = (1 << 41) - 1
_ROOT_SETS = CapabilitySets(_ALL_CAPS, _ALL_CAPS, 0)


@dataclass(frozen=True, slots=True)
class Call:
    name: str
    args: tuple[object, ...]


@dataclass
class RecordingSyscalls:
    calls: list[Call] = field(default_factory=list)
    fail: dict[str, int] = field(default_factory=dict)
    prctl_result: int = 0
    inode_flags_result: int = 0
    subreaper: bool = False
    """What ``child_subreaper`` answers."""
    capability_sets: CapabilitySets = _ROOT_SETS
    bpf_attached: list[int] = field(default_factory=list)
    """What ``bpf_prog_query`` answers: the ids of the programs attached."""

    def _record(self, name: str, *args: object) -> None:
        self.calls.append(Call(name, args))
        if name in self.fail:
            raise SystemCallError(name, self.fail[name] or errnos.EPERM, str(args[0]))

    def mount(
        self, source: str, target: str, fstype: str, flags: int = 0, data: str = ""
    ) -> None:
        self._record("mount", source, target, fstype, flags, data)

    def umount(self, target: str, flags: int = 0) -> None:
        self._record("umount", target, flags)

    def unshare(self, flags: int) -> None:
        self._record("unshare", flags)

    def setns(self, fd: int, nstype: int = 0) -> None:
        self._record("setns", fd, nstype)

    def pivot_root(self, new_root: str, put_old: str) -> None:
        self._record("pivot_root", new_root, put_old)

    def syncfs(self, fd: int) -> None:
        self._record("syncfs", fd)

    def populate_write(self, address: int, length: int) -> None:
        self._record("populate_write", address, length)

    def sethostname(self, name: str) -> None:
        self._record("sethostname", name)

    def prctl(
        self, option: int, arg2: int = 0, arg3: int = 0, arg4: int = 0, arg5: int = 0
    ) -> int:
        self._record("prctl", option, arg2, arg3, arg4, arg5)
        return self.prctl_result

    def capget(self) -> CapabilitySets:
        self._record("capget")
        return self.capability_sets

    def capset(self, sets: CapabilitySets) -> None:
        self._record("capset", sets)
        self.capability_sets = sets

    def seccomp_set_filter(self, program: bytes, flags: int = 0) -> int:
        self._record("seccomp_set_filter", program, flags)
        return 0

    def setdomainname(self, name: str) -> None:
        self._record("setdomainname", name)

    def mknod(self, path: str, mode: int, device: int) -> None:
        self._record("mknod", path, mode, device)

    def chroot(self, path: str) -> None:
        self._record("chroot", path)

    def close_range(self, first: int, last: int = 0xFFFFFFFF, flags: int = 0) -> None:
        self._record("close_range", first, last, flags)

    def fork_into_cgroup(self, cgroup_fd: int) -> int:
        self._record("fork_into_cgroup", cgroup_fd)
        raise SystemCallError("clone3", errnos.ENOSYS, "recording: no process is made")

    def clone_into_cgroup(self, cgroup_fd: int, flags: int = 0) -> tuple[int, int]:
        self._record("clone_into_cgroup", cgroup_fd, flags)
        raise SystemCallError("clone3", errnos.ENOSYS, "recording: no process is made")

    def child_subreaper(self) -> bool:
        self._record("child_subreaper")
        return self.subreaper

    def inode_flags(self, fd: int) -> int:
        self._record("inode_flags", fd)
        return self.inode_flags_result

    def bpf_prog_load(self, prog_type: int, instructions: bytes, license: str) -> int:
        self._record("bpf_prog_load", prog_type, instructions, license)
        return 1000 + len(self.calls)

    def bpf_prog_attach(self, target_fd: int, prog_fd: int, attach_type: int,
                        flags: int = 0, replace_fd: int = 0) -> None:
        self._record("bpf_prog_attach", target_fd, prog_fd, attach_type, flags, replace_fd)

    def bpf_prog_detach(self, target_fd: int, prog_fd: int, attach_type: int) -> None:
        self._record("bpf_prog_detach", target_fd, prog_fd, attach_type)

    def bpf_prog_query(self, target_fd: int, attach_type: int) -> list[int]:
        self._record("bpf_prog_query", target_fd, attach_type)
        return list(self.bpf_attached)

    def bpf_prog_get_fd_by_id(self, prog_id: int) -> int:
        self._record("bpf_prog_get_fd_by_id", prog_id)
        return 2000 + prog_id

    def set_inode_flags(self, fd: int, flags: int) -> None:
        self._record("set_inode_flags", fd, flags)
        self.inode_flags_result = flags

    def openat2(self, dirfd: int, path: str, flags: int, mode: int = 0, resolve: int = 0) -> int:
        self._record("openat2", dirfd, path, flags, mode, resolve)
        return 3000 + len(self.calls)
