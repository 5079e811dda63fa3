"""The one seam between dockyard and the kernel for calls Python's ``os`` module lacks.

Everything that needs ctypes (mount, umount2, unshare, setns, pivot_root, syncfs, ...) goes through
a :class:`Syscalls` object. :class:`dockyard.sys.linux.LinuxSyscalls` makes the real calls;
:class:`dockyard.sys.recording.RecordingSyscalls` records them so logic that decides *which* calls
to make is unit-tested without root (youki's ``syscall/`` split).

Callers receive a ``Syscalls`` as a constructor argument; nothing reaches for a global.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from dockyard.sys.flags import (
    CLONE_NEWCGROUP,
    CLONE_NEWIPC,
    CLONE_NEWNET,
    CLONE_NEWNS,
    CLONE_NEWPID,
    CLONE_NEWUSER,
    CLONE_NEWUTS,
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
)

__all__ = [
    "CLONE_NEWCGROUP",
    "CLONE_NEWIPC",
    "CLONE_NEWNET",
    "CLONE_NEWNS",
    "CLONE_NEWPID",
    "CLONE_NEWUSER",
    "CLONE_NEWUTS",
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
    "CapabilitySets",
    "Syscalls",
    "real",
]


@dataclass(frozen=True, slots=True)
class CapabilitySets:
    """The three per-thread capability sets capget(2)/capset(2) move, as 64-bit masks."""

    effective: int
    permitted: int
    inheritable: int


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


def real() -> Syscalls:
    """The real implementation (Linux only). Imported lazily so the CLI never loads ctypes."""
    from dockyard.sys.linux import LinuxSyscalls

    return LinuxSyscalls()
