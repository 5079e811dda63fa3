"""Mount descriptions, and the one place that turns them into real mounts.

Snapshotters return lists of :class:`Mount` and never mount anything themselves (containerd's
model); the caller that needs a filesystem calls :func:`mount_all` with a ``Syscalls``.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from dockyard.sys import (
    MNT_DETACH,
    MS_BIND,
    MS_NODEV,
    MS_NOEXEC,
    MS_NOSUID,
    MS_RDONLY,
    MS_REC,
    Syscalls,
)

log = logging.getLogger(__name__)

_FLAG_OPTIONS = {
    "ro": MS_RDONLY,
    "nosuid": MS_NOSUID,
    "nodev": MS_NODEV,
    "noexec": MS_NOEXEC,
    "bind": MS_BIND,
    "rbind": MS_BIND | MS_REC,
}
_IGNORED_OPTIONS = {"rw", "suid", "dev", "exec"}


@dataclass(frozen=True, slots=True)
class Mount:
    """One mount: ``type`` "overlay" or "bind", a ``source``, and fstab-style ``options``."""

    type: str
    source: str
    options: tuple[str, ...] = ()

    def flags_and_data(self) -> tuple[int, str]:
        """Split options into mount(2) flags and the filesystem's data string."""
        flags = 0
        data: list[str] = []
        for option in self.options:
            if option in _FLAG_OPTIONS:
                flags |= _FLAG_OPTIONS[option]
            elif option not in _IGNORED_OPTIONS:
                data.append(option)
        if self.type == "bind":
            flags |= MS_BIND
        return flags, ",".join(data)


def mount_all(mounts: list[Mount], target: str, syscalls: Syscalls) -> None:
    """Mount each of ``mounts`` on ``target`` in order; undo the earlier ones if one fails."""
    done: list[str] = []
    try:
        for mount in mounts:
            flags, data = mount.flags_and_data()
            fstype = "" if flags & MS_BIND else mount.type
            syscalls.mount(mount.source, target, fstype, flags, data)
            done.append(target)
            if flags & MS_BIND and flags & MS_RDONLY:
                # A bind mount ignores MS_RDONLY until it is remounted (mount(2), "bind mount").
                from dockyard.sys.flags import MS_REMOUNT

                syscalls.mount("", target, "", flags | MS_REMOUNT, "")
    except BaseException:
        for path in reversed(done):
            syscalls.umount(path, MNT_DETACH)
        raise


def unmount(target: str, syscalls: Syscalls) -> None:
    """Unmount ``target`` (lazily, so a busy mount does not block cleanup)."""
    syscalls.umount(target, MNT_DETACH)
