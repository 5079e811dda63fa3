"""The five capability sets of ``process.capabilities``, applied as runc applies them.

Order inside the container's init (runc's ``finalizeNamespace``)::

    drop_bounding()        PR_CAPBSET_DROP for every capability not in "bounding"
    keep_across_setuid()   PR_SET_KEEPCAPS 1: setuid to a non-root uid keeps "permitted"
    ... the init switches user and groups (setgroups, setgid, setuid) ...
    clear_keep()           PR_SET_KEEPCAPS 0
    apply()                bounding again (nothing left to drop after the first pass, so
                           skipped), capset(effective, permitted, inheritable), then the
                           ambient set: cleared, then each of "ambient" raised (what runc's
                           raise-or-lower of every capability leaves, in fewer calls)

Names follow ``<linux/capability.h>`` with the ``CAP_`` prefix. A name that is unknown, or that
this kernel does not have (above /proc/sys/kernel/cap_last_cap), is ignored with a warning, as
runc does (``ignoring unknown or unavailable capabilities``).
"""

from __future__ import annotations

import errno

from dockyard.errors import SystemCallError
from dockyard.runtime.log import warning
from dockyard.runtime.record import Record
from dockyard.sys import CapabilitySets

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterable
    from os import PathLike

    from dockyard.sys import Syscalls

NAMES = (
    "CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_DAC_READ_SEARCH", "CAP_FOWNER", "CAP_FSETID",
    "CAP_KILL", "CAP_SETGID", "CAP_SETUID", "CAP_SETPCAP", "CAP_LINUX_IMMUTABLE",
    "CAP_NET_BIND_SERVICE", "CAP_NET_BROADCAST", "CAP_NET_ADMIN", "CAP_NET_RAW",
    "CAP_IPC_LOCK", "CAP_IPC_OWNER", "CAP_SYS_MODULE", "CAP_SYS_RAWIO", "CAP_SYS_CHROOT",
    "CAP_SYS_PTRACE", "CAP_SYS_PACCT", "CAP_SYS_ADMIN", "CAP_SYS_BOOT", "CAP_SYS_NICE",
    "CAP_SYS_RESOURCE", "CAP_SYS_TIME", "CAP_SYS_TTY_CONFIG", "CAP_MKNOD", "CAP_LEASE",
    "CAP_AUDIT_WRITE", "CAP_AUDIT_CONTROL", "CAP_SETFCAP", "CAP_MAC_OVERRIDE", "CAP_MAC_ADMIN",
    "CAP_SYSLOG", "CAP_WAKE_ALARM", "CAP_BLOCK_SUSPEND", "CAP_AUDIT_READ", "CAP_PERFMON",
    "CAP_BPF", "CAP_CHECKPOINT_RESTORE",
)  # fmt: skip
"""Capability names, indexed by number."""

NUMBERS = {name: number for number, name in enumerate(NAMES)}
CAP_SETPCAP = NUMBERS["CAP_SETPCAP"]

PR_CAPBSET_DROP = 24
PR_SET_KEEPCAPS = 8
PR_CAP_AMBIENT = 47
PR_CAP_AMBIENT_RAISE = 2
PR_CAP_AMBIENT_LOWER = 3
PR_CAP_AMBIENT_CLEAR_ALL = 4

_CAP_LAST_CAP = "/proc/sys/kernel/cap_last_cap"


class CapabilitySpec(Record):
    """``process.capabilities`` as names; an absent set is empty."""

    bounding: tuple[str, ...] = ()
    effective: tuple[str, ...] = ()
    inheritable: tuple[str, ...] = ()
    permitted: tuple[str, ...] = ()
    ambient: tuple[str, ...] = ()


class CapabilityMasks(Record):
    """The five sets as bit masks (bit N = capability N), and the names that were ignored."""

    bounding: int
    effective: int
    inheritable: int
    permitted: int
    ambient: int
    ignored: tuple[str, ...] = ()


def last_cap(path: str | PathLike[str] = _CAP_LAST_CAP) -> int:
    """The highest capability number this kernel knows (/proc/sys/kernel/cap_last_cap)."""
    try:
        with open(path, "rb") as file:
            return int(file.read().strip())
    except (OSError, ValueError):
        return len(NAMES) - 1


def mask(names: Iterable[str]) -> int:
    """The bit mask of known capability names (unknown names are left out)."""
    bits = 0
    for name in names:
        if name in NUMBERS:
            bits |= 1 << NUMBERS[name]
    return bits


def resolve(spec: CapabilitySpec, last: int) -> CapabilityMasks:
    """Names to masks; names unknown or above ``last`` are ignored and listed in ``ignored``."""
    ignored: set[str] = set()

    def bits(names: tuple[str, ...]) -> int:
        value = 0
        for name in names:
            number = NUMBERS.get(name)
            if number is None or number > last:
                ignored.add(name)
            else:
                value |= 1 << number
        return value

    masks = CapabilityMasks(
        bounding=bits(spec.bounding),
        effective=bits(spec.effective),
        inheritable=bits(spec.inheritable),
        permitted=bits(spec.permitted),
        ambient=bits(spec.ambient),
        ignored=tuple(sorted(ignored)),
    )
    if masks.ignored:
        warning(__name__, "ignoring unknown or unavailable capabilities: %s", list(masks.ignored))
    return masks


def names(bits: int) -> tuple[str, ...]:
    """The names of the capabilities set in ``bits``, by number."""
    return tuple(name for number, name in enumerate(NAMES) if bits >> number & 1)


class Capabilities:
    """Applies one :class:`CapabilityMasks` to the calling thread through ``sys``."""

    def __init__(self, sys: Syscalls, masks: CapabilityMasks, last: int) -> None:
        self._sys = sys
        self._masks = masks
        self._last = last
        self._dropped = False

    def drop_bounding(self) -> None:
        """Drop from the bounding set everything not in ``bounding`` (needs CAP_SETPCAP);
        once done, again is a no-op (a bounding set never grows back)."""
        if self._dropped or not self._sys.capget().effective >> CAP_SETPCAP & 1:
            return
        for number in range(self._last + 1):
            if self._masks.bounding >> number & 1:
                continue
            try:
                self._sys.prctl(PR_CAPBSET_DROP, number)
            except SystemCallError as exc:
                if exc.errno != errno.EINVAL:  # a capability this kernel lacks
                    raise
        self._dropped = True

    def keep_across_setuid(self) -> None:
        """Keep the permitted set when the init switches from uid 0 to another uid."""
        self._sys.prctl(PR_SET_KEEPCAPS, 1)

    def clear_keep(self) -> None:
        self._sys.prctl(PR_SET_KEEPCAPS, 0)

    def apply(self) -> None:
        """Bounding, then effective/permitted/inheritable, then ambient (runc's ApplyCaps)."""
        self.drop_bounding()
        masks = self._masks
        self._sys.capset(CapabilitySets(masks.effective, masks.permitted, masks.inheritable))
        try:
            self._sys.prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL)
        except SystemCallError as exc:
            if exc.errno != errno.EINVAL:  # a kernel without ambient capabilities
                raise SystemCallError("prctl", exc.errno, "ambient clear") from exc
        for number in range(self._last + 1):
            if not masks.ambient >> number & 1:
                continue
            try:
                self._sys.prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, number)
            except SystemCallError as exc:
                if exc.errno != errno.EINVAL:
                    raise SystemCallError("prctl", exc.errno,
                                          f"ambient raise {NAMES[number]}") from exc


class RuncCapabilities(Capabilities):
    """As runc applies them: gocapability's ``Apply`` ignores every error of an ambient
    raise or lower and goes on with the next capability, so one missing from the
    inheritable set (as in ``runc spec``'s config) is simply not raised, where
    :meth:`Capabilities.apply` stops at the first such error."""

    def apply(self) -> None:
        self.drop_bounding()
        masks = self._masks
        self._sys.capset(CapabilitySets(masks.effective, masks.permitted, masks.inheritable))
        # What lowering every capability not in the set leaves, in one call.
        calls = [(PR_CAP_AMBIENT_CLEAR_ALL, 0)] + [
            (PR_CAP_AMBIENT_RAISE, number) for number in range(self._last + 1)
            if masks.ambient >> number & 1]
        for action, number in calls:
            try:
                self._sys.prctl(PR_CAP_AMBIENT, action, number)
            except SystemCallError:
                continue
