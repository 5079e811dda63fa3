"""The local driver's options (``docker volume create -o type=... -o device=... -o o=...``).

``type``, ``device`` and ``o`` describe a filesystem mounted on the volume's ``_data`` directory
while a container uses it (tmpfs, a bind of a host directory, nfs, ...); ``size`` asks for a
project quota, which dockyard does not offer. Checks and messages follow moby's
``volume/local/local_unix.go``; the ``o`` string is split into mount(2) flags and filesystem data
as ``github.com/moby/sys/mount`` does, and mounted in the same steps: the mount itself, then a
propagation change, then a read-only remount for a read-only bind.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

from dockyard.errors import InvalidArgument
from dockyard.sys import Syscalls
from dockyard.sys.flags import (
    MS_BIND,
    MS_NODEV,
    MS_NOEXEC,
    MS_NOSUID,
    MS_PRIVATE,
    MS_RDONLY,
    MS_REC,
    MS_REMOUNT,
    MS_SHARED,
    MS_SLAVE,
)

# <linux/mount.h> values dockyard.sys.flags does not carry.
MS_SYNCHRONOUS = 0x10
MS_MANDLOCK = 0x40
MS_DIRSYNC = 0x80
MS_NOATIME = 0x400
MS_NODIRATIME = 0x800
MS_SILENT = 0x8000
MS_UNBINDABLE = 1 << 17
MS_RELATIME = 1 << 21
MS_STRICTATIME = 1 << 24

VALID_OPTIONS = ("type", "o", "device", "size")
# An option needs the ones listed with it (checked in this order, so the message is stable).
_REQUIRED = (("device", ("type",)), ("type", ("device",)), ("o", ("device", "type")))

# moby/sys/mount flags_linux.go: option -> (clears the flag, flag).
_FLAGS: dict[str, tuple[bool, int]] = {
    "ro": (False, MS_RDONLY), "rw": (True, MS_RDONLY),
    "suid": (True, MS_NOSUID), "nosuid": (False, MS_NOSUID),
    "dev": (True, MS_NODEV), "nodev": (False, MS_NODEV),
    "exec": (True, MS_NOEXEC), "noexec": (False, MS_NOEXEC),
    "sync": (False, MS_SYNCHRONOUS), "async": (True, MS_SYNCHRONOUS),
    "dirsync": (False, MS_DIRSYNC), "remount": (False, MS_REMOUNT),
    "mand": (False, MS_MANDLOCK), "nomand": (True, MS_MANDLOCK),
    "atime": (True, MS_NOATIME), "noatime": (False, MS_NOATIME),
    "diratime": (True, MS_NODIRATIME), "nodiratime": (False, MS_NODIRATIME),
    "bind": (False, MS_BIND), "rbind": (False, MS_BIND | MS_REC),
    "unbindable": (False, MS_UNBINDABLE), "runbindable": (False, MS_UNBINDABLE | MS_REC),
    "private": (False, MS_PRIVATE), "rprivate": (False, MS_PRIVATE | MS_REC),
    "shared": (False, MS_SHARED), "rshared": (False, MS_SHARED | MS_REC),
    "slave": (False, MS_SLAVE), "rslave": (False, MS_SLAVE | MS_REC),
    "relatime": (False, MS_RELATIME), "norelatime": (True, MS_RELATIME),
    "strictatime": (False, MS_STRICTATIME), "nostrictatime": (True, MS_STRICTATIME),
}
_PROPAGATION = MS_SHARED | MS_PRIVATE | MS_SLAVE | MS_UNBINDABLE
_SIZE = re.compile(r"(\d+(?:\.\d+)?) ?([kKmMgGtTpP])?[iI]?[bB]?")
_UNITS = {"": 1, "k": 1 << 10, "m": 1 << 20, "g": 1 << 30, "t": 1 << 40, "p": 1 << 50}


@dataclass(frozen=True, slots=True)
class MountOptions:
    """What to mount on a volume's data directory: ``mount -t type -o options device``."""

    type: str
    device: str
    options: str

    def flags_and_data(self) -> tuple[int, str]:
        """The ``o`` string as mount(2) flags and the filesystem's data (moby parseOptions:
        a name the flag table lacks is data, in its order)."""
        flags = 0
        data: list[str] = []
        for option in self.options.split(","):
            known = _FLAGS.get(option)
            if known is None:
                data.append(option)
            elif known[0]:
                flags &= ~known[1]
            else:
                flags |= known[1]
        return flags, ",".join(data)


def parse_options(options: Mapping[str, str] | None) -> MountOptions | None:
    """The mount a volume's options ask for (None when they ask for none); InvalidArgument for
    an unknown option, a missing companion option or a quota request."""
    if not options:
        return None
    for key in sorted(options):
        if key not in VALID_OPTIONS:
            raise InvalidArgument(f'invalid option: "{key}"')
    for key, needs in _REQUIRED:
        if key in options:
            for need in needs:
                if need not in options:
                    raise InvalidArgument(f'missing required option: "{need}"')
    if "size" in options and _ram_in_bytes(options["size"]) > 0:
        raise InvalidArgument("quota size requested but no quota support")
    if not options.get("type") and not options.get("device"):
        return None
    return MountOptions(options.get("type", ""), options.get("device", ""), options.get("o", ""))


def _ram_in_bytes(text: str) -> int:
    """go-units RAMInBytes: a number with an optional binary unit (k, m, g, ... any case)."""
    match = _SIZE.fullmatch(text.strip())
    if match is None:
        raise InvalidArgument(f"invalid size: '{text}'")
    return int(float(match.group(1)) * _UNITS[(match.group(2) or "").lower()])


def mount_filesystem(options: MountOptions, target: str, syscalls: Syscalls) -> None:
    """Mount as moby/sys/mount does: the mount (unless a bare remount), then the propagation
    type, then a read-only remount of a read-only bind (a bind ignores MS_RDONLY at first)."""
    if not options.device:
        raise InvalidArgument("missing device in volume options")
    flags, data = options.flags_and_data()
    plain = flags & ~_PROPAGATION
    if not flags & MS_REMOUNT or data:
        syscalls.mount(options.device, target, options.type, plain, data)
    if flags & _PROPAGATION:
        syscalls.mount("", target, "", flags & (_PROPAGATION | MS_REC | MS_SILENT), "")
    if plain & (MS_BIND | MS_RDONLY) == MS_BIND | MS_RDONLY:
        syscalls.mount("", target, "", plain | MS_REMOUNT, "")
