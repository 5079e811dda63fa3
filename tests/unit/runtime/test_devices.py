from __future__ import annotations

import pytest

from dockyard.errors import InvalidArgument
from dockyard.runtime.devices import DeviceRule, Emulator, cgroup_rules

# What `runc run` leaves in devices.list for `runc spec`'s bundle on this kernel.
RUNC_SPEC_LIST = """b *:* m
c *:* m
c 1:3 rwm
c 1:5 rwm
c 1:7 rwm
c 1:8 rwm
c 1:9 rwm
c 5:0 rwm
c 5:2 rwm
c 10:200 rwm
c 136:* rwm
"""


def strings(rules: list[DeviceRule]) -> list[tuple[bool, str]]:
    return [(rule.allow, rule.cgroup_string()) for rule in rules]


def test_runc_spec_rules_from_a_new_cgroup() -> None:
    target = Emulator.of(cgroup_rules([DeviceRule(allow=False)]))
    writes = Emulator.from_list("a *:* rwm\n").transition(target)
    assert strings(writes) == [(False, "a *:* rwm")] + [
        (True, line) for line in RUNC_SPEC_LIST.splitlines()
    ]
    assert Emulator.from_list(RUNC_SPEC_LIST) == target


def test_no_writes_when_already_there() -> None:
    target = Emulator.of(cgroup_rules([DeviceRule(allow=False)]))
    assert Emulator.from_list(RUNC_SPEC_LIST).transition(target) == []


def test_transition_drops_and_adds_exceptions() -> None:
    current = Emulator.from_list("c 1:3 rwm\nc 1:5 rw\n")
    target = Emulator.of(
        [DeviceRule(False), DeviceRule(True, "c", 1, 5, "wmr"), DeviceRule(True, "b", 8, 0, "r")]
    )
    assert strings(current.transition(target)) == [
        (False, "c 1:3 rwm"),
        (True, "c 1:5 m"),
        (True, "b 8:0 r"),
    ]


def test_deny_rules_fold_into_the_allow_list() -> None:
    rules = [
        DeviceRule(False),
        DeviceRule(True, "c", 1, 3, "rwm"),
        DeviceRule(True, "c", 1, 3, "rw"),
        DeviceRule(False, "c", 1, 3, "w"),
    ]
    assert Emulator.of(rules) == Emulator(False, {(1, 3, "c"): "rm"})


def test_a_hole_in_a_wildcard_is_refused() -> None:
    with pytest.raises(InvalidArgument, match="cannot punch a hole"):
        Emulator.of(
            [
                DeviceRule(False),
                DeviceRule(True, "c", None, None, "m"),
                DeviceRule(False, "c", 1, 3, "m"),
            ]
        )


def test_linux_devices_override_runc_defaults_by_path() -> None:
    rules = cgroup_rules([DeviceRule(False)], ["/dev/null", "/dev/fuse"])
    assert DeviceRule(True, "c", 1, 3) not in rules
    assert DeviceRule(True, "c", 1, 5) in rules
    assert len(rules) == 11


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [({"type": "x"}, "invalid cgroup device type"), ({"access": "rwx"}, "invalid access")],
)
def test_bad_rules(kwargs: dict[str, str], message: str) -> None:
    with pytest.raises(InvalidArgument, match=message):
        DeviceRule(True, **kwargs)  # type: ignore[arg-type]


def test_from_list_rejects_garbage() -> None:
    with pytest.raises(InvalidArgument, match=r"devices\.list"):
        Emulator.from_list("c 1:3\n")
