"""The one seam between dockyard and the kernel for calls Python's ``os`` module lacks.

Everything that needs ctypes (mount, umount2, unshare, setns, pivot_root, syncfs, ...) goes through
a :class:`Syscalls` object. :class:`dockyard.sys.linux.LinuxSyscalls` makes the real calls;
:class:`dockyard.sys.recording.RecordingSyscalls` records them so logic that decides *which* calls
to make is unit-tested without root (youki's ``syscall/`` split).

Callers receive a ``Syscalls`` as a constructor argument; nothing reaches for a global.

Importing this package is cheap (no ``typing``, ``dataclasses`` or ctypes at run time): the
``dockyard-runtime`` one-shot commands import it on their start-up path.
"""

from __future__ import annotations

from dockyard.sys.flags import (
    CLONE_NEWCGROUP,
    CLONE_NEWIPC,
    CLONE_NEWNET,
    CLONE_NEWNS,
    CLONE_NEWPID,
    CLONE_NEWUSER,
    CLONE_NEWUTS,
    FS_TOPDIR_FL,
    MNT_DETACH,
    MS_BIND,
    MS_NODEV,
    MS_NOEXEC,
    MS_NOSUID,
    MS_PRIVATE,
    MS_RDONLY,
    MS_REC,
    MS_REMOUNT,
    MS_SLAVE,
    RESOLVE_BENEATH,
    RESOLVE_IN_ROOT,
    RESOLVE_NO_MAGICLINKS,
    RESOLVE_NO_SYMLINKS,
    RESOLVE_NO_XDEV,
)

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Protocol
else:  # the Protocol only matters to the type checker; skip typing's import cost
    Protocol = object

__all__ = [
    "CLONE_NEWCGROUP",
    "CLONE_NEWIPC",
    "CLONE_NEWNET",
    "CLONE_NEWNS",
    "CLONE_NEWPID",
    "CLONE_NEWUSER",
    "CLONE_NEWUTS",
    "FS_TOPDIR_FL",
    "MNT_DETACH",
    "MS_BIND",
    "MS_NODEV",
    "MS_NOEXEC",
    "MS_NOSUID",
    "MS_PRIVATE",
    "MS_RDONLY",
    "MS_REC",
    "MS_REMOUNT",
    "MS_SLAVE",
    "RESOLVE_BENEATH",
    "RESOLVE_IN_ROOT",
    "RESOLVE_NO_MAGICLINKS",
    "RESOLVE_NO_SYMLINKS",
    "RESOLVE_NO_XDEV",
    "CapabilitySets",
    "Syscalls",
    "real",
]


class CapabilitySets:
    """The three per-thread capability sets capget(2)/capset(2) move, as 64-bit masks.

    An immutable value (a slotted class rather than a dataclass to keep ``dataclasses`` off
    the runtime's start-up path).
    """

    __slots__ = ("effective", "inheritable", "permitted")
    __match_args__ = ("effective", "permitted", "inheritable")

    effective: int
    permitted: int
    inheritable: int

    def __init__(self, effective: int, permitted: int, inheritable: int) -> None:
        object.__setattr__(self, "effective", effective)
        object.__setattr__(self, "permitted", permitted)
        object.__setattr__(self, "inheritable", inheritable)

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError(f"cannot assign to field {name!r}")

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, CapabilitySets):
            return NotImplemented
        return (self.effective, self.permitted, self.inheritable) == (
            other.effective, other.permitted, other.inheritable)

    def __hash__(self) -> int:
        return hash((self.effective, self.permitted, self.inheritable))

    def __repr__(self) -> str:
        return (f"CapabilitySets(effective={self.effective:#x}, permitted={self.permitted:#x}, "
                f"inheritable={self.inheritable:#x})")


class Syscalls(Protocol):
    """Kernel calls that the ``os`` module does not offer. Each raises SystemCallError."""

    def mount(
        self, source: str, target: str, fstype: str, flags: int = 0, data: str = ""
    ) -> None: ...

    def umount(self, target: str, flags: int = 0) -> None: ...

    def unshare(self, flags: int) -> None: ...

    def setns(self, fd: int, nstype: int = 0) -> None: ...

    def pivot_root(self, new_root: str, put_old: str) -> None: ...

    def syncfs(self, fd: int) -> None: ...

    def populate_write(self, address: int, length: int) -> None:
        """madvise(MADV_POPULATE_WRITE) (Linux 5.14): fault the range in writable now, which
        in a forked child copies the pages it shares with its parent."""
        ...

    def sethostname(self, name: str) -> None: ...

    def prctl(
        self, option: int, arg2: int = 0, arg3: int = 0, arg4: int = 0, arg5: int = 0
    ) -> int:
        """prctl(2); returns the call's non-negative result (PR_CAPBSET_READ answers 0 or 1)."""
        ...

    def capget(self) -> CapabilitySets:
        """capget(2) of the calling thread, version 3 (64-bit sets)."""
        ...

    def capset(self, sets: CapabilitySets) -> None:
        """capset(2) of the calling thread, version 3."""
        ...

    def seccomp_set_filter(self, program: bytes, flags: int = 0) -> int:
        """seccomp(SECCOMP_SET_MODE_FILTER, flags, prog) with ``program`` as raw sock_filter
        instructions (8 bytes each); returns the call's result (a listener fd for NEW_LISTENER)."""
        ...

    def setdomainname(self, name: str) -> None:
        """setdomainname(2) of the calling process's UTS namespace."""
        ...

    def mknod(self, path: str, mode: int, device: int) -> None:
        """mknod(2): ``mode`` holds the file type bits (S_IFCHR, ...), ``device`` is makedev()."""
        ...

    def chroot(self, path: str) -> None:
        """chroot(2)."""
        ...

    def close_range(self, first: int, last: int = 0xFFFFFFFF, flags: int = 0) -> None:
        """close_range(2); with CLOSE_RANGE_CLOEXEC the fds are marked close-on-exec instead."""
        ...

    def fork_into_cgroup(self, cgroup_fd: int) -> int:
        """fork(2) through clone3(CLONE_INTO_CGROUP): the child starts in the cgroup2
        directory ``cgroup_fd`` (no move through ``cgroup.procs``, whose global lock may wait
        for an RCU grace period). Returns as ``os.fork`` does (0 in the child), with the
        interpreter's fork hooks run; ENOSYS before Linux 5.7 or under a seccomp filter."""
        ...

    def clone_into_cgroup(self, cgroup_fd: int, flags: int = 0) -> tuple[int, int]:
        """fork(2) through clone3(CLONE_PIDFD | ``flags``), into the cgroup2 directory
        ``cgroup_fd`` (CLONE_INTO_CGROUP) unless it is -1; ``flags`` may add CLONE_NEW*
        namespaces, which the child starts in (in a new pid namespace as its pid 1). Returns
        (0, -1) in the child and (pid, pidfd) in the parent (the pidfd close-on-exec, taken
        atomically with the child), with the interpreter's fork hooks run; ENOSYS before
        Linux 5.7 or under a seccomp filter."""
        ...

    def child_subreaper(self) -> bool:
        """prctl(PR_GET_CHILD_SUBREAPER): whether orphaned descendants of the calling process
        are reparented to it."""
        ...

    def inode_flags(self, fd: int) -> int:
        """ioctl(FS_IOC_GETFLAGS): the inode attribute flags of ``fd`` (``FS_*_FL``)."""
        ...

    def bpf_prog_load(self, prog_type: int, instructions: bytes, license: str) -> int:
        """bpf(BPF_PROG_LOAD): an fd on the program (``instructions``: struct bpf_insn,
        native byte order); a refusal carries the verifier's log."""
        ...

    def bpf_prog_attach(self, target_fd: int, prog_fd: int, attach_type: int,
                        flags: int = 0, replace_fd: int = 0) -> None:
        """bpf(BPF_PROG_ATTACH) to ``target_fd`` (a cgroup2 directory)."""
        ...

    def bpf_prog_detach(self, target_fd: int, prog_fd: int, attach_type: int) -> None:
        """bpf(BPF_PROG_DETACH)."""
        ...

    def bpf_prog_query(self, target_fd: int, attach_type: int) -> list[int]:
        """bpf(BPF_PROG_QUERY): the ids of the programs attached to ``target_fd``."""
        ...

    def bpf_prog_get_fd_by_id(self, prog_id: int) -> int:
        """bpf(BPF_PROG_GET_FD_BY_ID)."""
        ...

    def set_inode_flags(self, fd: int, flags: int) -> None:
        """ioctl(FS_IOC_SETFLAGS): replace the inode attribute flags of ``fd``."""
        ...

    def openat2(self, dirfd: int, path: str, flags: int, mode: int = 0, resolve: int = 0) -> int:
        """openat2(2): a new fd for ``path`` under ``dirfd``, resolved as ``resolve`` says
        (``RESOLVE_IN_ROOT``: every component, symlinks and ``..`` included, stays inside
        ``dirfd`` as if it were the root). ENOSYS before Linux 5.6."""
        ...


def real() -> Syscalls:
    """The real implementation (Linux only). Imported lazily so the CLI never loads ctypes."""
    from dockyard.sys.linux import LinuxSyscalls

    return LinuxSyscalls()
