"""The device cgroup allow list: the rules runc writes to ``devices.allow``/``devices.deny``.

Rules come from ``linux.resources.devices`` followed by runc's default allowed devices
(mknod of any device, /dev/null, zero, full, random, urandom, tty, ptmx, the pts range and
tun); a default device whose path ``linux.devices`` also lists is left out, as runc's specconv
does. The rules are folded into an :class:`Emulator` of the cgroup v1 devices controller
(runc's ``devices_emulator.go``): a default (allow or deny all) and a map of exceptions. To move
a cgroup from what its ``devices.list`` shows to the target, :meth:`Emulator.transition` gives
the writes: a disruptive ``a *:* rwm`` when the default changes (or the source is a deny list),
then exceptions sorted by major, minor and type, so the kernel lists them in runc's order.
"""

from __future__ import annotations

from dockyard.errors import InvalidArgument
from dockyard.runtime.record import Record

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterable

_TYPES = ("a", "b", "c")
_ORDER = "rwm"


class DeviceRule(Record):
    """One ``linux.resources.devices`` entry; None for major/minor is the wildcard ``*``."""

    allow: bool
    type: str
    major: int | None
    minor: int | None
    access: str

    def __init__(
        self,
        allow: bool,
        type: str = "a",
        major: int | None = None,
        minor: int | None = None,
        access: str = "rwm",
    ) -> None:
        if type not in _TYPES:
            raise InvalidArgument(f"device rule: invalid cgroup device type {type!r}")
        if not access or any(ch not in _ORDER for ch in access):
            raise InvalidArgument(f"device rule: invalid access {access!r}")
        super().__init__(allow=allow, type=type, major=major, minor=minor, access=access)

    def cgroup_string(self) -> str:
        """The line written to devices.allow or devices.deny, e.g. ``c 1:3 rwm``."""
        major = "*" if self.major is None else str(self.major)
        minor = "*" if self.minor is None else str(self.minor)
        return f"{self.type} {major}:{minor} {_canonical(self.access)}"


def _canonical(access: Iterable[str]) -> str:
    chars = set(access)
    return "".join(ch for ch in _ORDER if ch in chars)


def _char(major: int | None, minor: int | None, access: str = "rwm") -> DeviceRule:
    return DeviceRule(True, "c", major, minor, access)


# runc's specconv.AllowedDevices, in its order; the path is what a linux.devices entry overrides.
DEFAULT_ALLOWED: tuple[tuple[str, DeviceRule], ...] = (
    ("", _char(None, None, "m")),
    ("", DeviceRule(True, "b", None, None, "m")),
    ("/dev/null", _char(1, 3)),
    ("/dev/random", _char(1, 8)),
    ("/dev/full", _char(1, 7)),
    ("/dev/tty", _char(5, 0)),
    ("/dev/zero", _char(1, 5)),
    ("/dev/urandom", _char(1, 9)),
    ("", _char(136, None)),
    ("", _char(5, 2)),
    ("", _char(10, 200)),
)


def cgroup_rules(
    resources: Iterable[DeviceRule], device_paths: Iterable[str] = ()
) -> tuple[DeviceRule, ...]:
    """The spec's rules, then runc's default allowed devices not overridden by linux.devices."""
    overridden = set(device_paths)
    defaults = tuple(rule for path, rule in DEFAULT_ALLOWED if not path or path not in overridden)
    return (*resources, *defaults)


_Key = tuple[int, int, str]  # (major, minor, type) with -1 as the wildcard: runc's sort order


def _key(rule: DeviceRule) -> _Key:
    major = -1 if rule.major is None else rule.major
    minor = -1 if rule.minor is None else rule.minor
    return (major, minor, rule.type)


def _rule(key: _Key, access: str, allow: bool) -> DeviceRule:
    major, minor, kind = key
    return DeviceRule(
        allow, kind, None if major < 0 else major, None if minor < 0 else minor, access
    )


class Emulator:
    """The cgroup v1 devices controller's state: a default and exceptions to it."""

    __slots__ = ("default_allow", "exceptions")

    def __init__(self, default_allow: bool = True, exceptions: dict[_Key, str] | None = None):
        self.default_allow = default_allow
        self.exceptions: dict[_Key, str] = {} if exceptions is None else exceptions

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Emulator):
            return NotImplemented
        return (self.default_allow, self.exceptions) == (other.default_allow, other.exceptions)

    __hash__ = None  # type: ignore[assignment]  # mutable, as the dataclass it was

    def __repr__(self) -> str:
        return f"Emulator(default_allow={self.default_allow!r}, exceptions={self.exceptions!r})"

    @classmethod
    def of(cls, rules: Iterable[DeviceRule]) -> Emulator:
        """The state ``rules`` describe, starting from deny-all as runc's buildEmulator does."""
        emulator = cls(default_allow=False)
        for rule in rules:
            emulator.apply(rule)
        return emulator

    @classmethod
    def from_list(cls, text: str) -> Emulator:
        """The state a ``devices.list`` shows (always an allow list: ``a *:* rwm`` = allow all)."""
        emulator = cls(default_allow=False)
        for line in text.splitlines():
            fields = line.replace(":", " ").split()
            if len(fields) != 4 or fields[0] not in _TYPES:
                raise InvalidArgument(f"devices.list: malformed line {line!r}")
            kind, major, minor, access = fields
            emulator.apply(
                DeviceRule(
                    True,
                    kind,
                    None if major == "*" else int(major),
                    None if minor == "*" else int(minor),
                    access,
                )
            )
        return emulator

    def apply(self, rule: DeviceRule) -> None:
        if rule.type == "a":
            self.default_allow = rule.allow
            self.exceptions = {}
        elif rule.allow != self.default_allow:
            key = _key(rule)
            self.exceptions[key] = _canonical(self.exceptions.get(key, "") + rule.access)
        else:
            self._remove(rule)

    def _remove(self, rule: DeviceRule) -> None:
        major, minor, kind = key = _key(rule)
        for partial in ((-1, minor, kind), (major, -1, kind), (-1, -1, kind)):
            if partial != key and set(self.exceptions.get(partial, "")) & set(rule.access):
                raise InvalidArgument(
                    f"device rule {rule.cgroup_string()!r} cannot punch a hole in the wildcard "
                    f"rule {_rule(partial, self.exceptions[partial], True).cgroup_string()!r}"
                )
        left = _canonical(set(self.exceptions.get(key, "")) - set(rule.access))
        if left:
            self.exceptions[key] = left
        else:
            self.exceptions.pop(key, None)

    def transition(self, target: Emulator) -> list[DeviceRule]:
        """The writes that turn this state into ``target`` (runc's Emulator.Transition)."""
        writes: list[DeviceRule] = []
        old = self.exceptions
        if self.default_allow or self.default_allow != target.default_allow:
            writes.append(DeviceRule(target.default_allow, "a"))
            old = {}
        for key in sorted(old):
            dropped = _canonical(set(old[key]) - set(target.exceptions.get(key, "")))
            if dropped:
                writes.append(_rule(key, dropped, target.default_allow))
        for key in sorted(target.exceptions):
            gained = _canonical(set(target.exceptions[key]) - set(old.get(key, "")))
            if gained:
                writes.append(_rule(key, gained, not target.default_allow))
        return writes
