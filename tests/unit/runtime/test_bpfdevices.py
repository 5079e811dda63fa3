"""The cgroup v2 device filter: its eBPF code, run by a small interpreter of the instructions
it uses, decides as the v1 allow list the same rules make (the emulator's state)."""

from __future__ import annotations

import struct

from hypothesis import given
from hypothesis import strategies as st

from dockyard.errors import InvalidArgument
from dockyard.runtime.cgroups.bpfdevices import program
from dockyard.runtime.devices import DeviceRule, Emulator, cgroup_rules

ACCESS = {"m": 1, "r": 2, "w": 4}
TYPES = {"b": 1, "c": 2}


def run(code: bytes, kind: str, major: int, minor: int, access: str) -> int:
    """Interpret the program for one access (bpf_cgroup_dev_ctx)."""
    ctx = struct.pack("<III", TYPES[kind] | sum(ACCESS[a] for a in access) << 16, major, minor)
    regs = [0] * 11
    pc = 0
    while True:
        op, regs_byte, off, imm = struct.unpack_from("<BBhi", code, pc * 8)
        dst, src = regs_byte & 0xF, regs_byte >> 4
        pc += 1
        if op == 0x61:  # ldx mem word (R1 is the context)
            regs[dst] = struct.unpack_from("<I", ctx, off)[0]
        elif op == 0x54:
            regs[dst] = (regs[dst] & imm) & 0xFFFFFFFF
        elif op == 0x74:
            regs[dst] = (regs[dst] & 0xFFFFFFFF) >> imm
        elif op == 0xB4:
            regs[dst] = imm & 0xFFFFFFFF
        elif op == 0xBC:
            regs[dst] = regs[src] & 0xFFFFFFFF
        elif op == 0x55:
            pc += off if regs[dst] != imm else 0
        elif op == 0x5D:
            pc += off if regs[dst] != regs[src] else 0
        elif op == 0x95:
            return regs[0]
        else:
            raise AssertionError(f"unexpected opcode {op:#x}")


def expected(rules: list[DeviceRule], kind: str, major: int, minor: int, access: str) -> int:
    emulator = Emulator.of(rules)
    for (rule_major, rule_minor, rule_kind), allowed in emulator.exceptions.items():
        if rule_kind == kind and rule_major in (-1, major) and rule_minor in (-1, minor) \
                and set(access) <= set(allowed):
            return int(not emulator.default_allow)
    return int(emulator.default_allow)


def test_runcs_default_list() -> None:
    code = program(cgroup_rules([DeviceRule(allow=False)]))
    assert len(code) % 8 == 0
    decisions = {(kind, major, minor, access): run(code, kind, major, minor, access)
                 for kind, major, minor, access in (
                     ("c", 1, 3, "rw"), ("c", 1, 11, "r"), ("c", 1, 11, "m"),
                     ("b", 8, 0, "r"), ("b", 8, 0, "m"), ("c", 136, 4, "rw"),
                     ("c", 10, 200, "rwm"), ("c", 5, 1, "w"))}
    assert decisions == {
        ("c", 1, 3, "rw"): 1, ("c", 1, 11, "r"): 0, ("c", 1, 11, "m"): 1,
        ("b", 8, 0, "r"): 0, ("b", 8, 0, "m"): 1, ("c", 136, 4, "rw"): 1,
        ("c", 10, 200, "rwm"): 1, ("c", 5, 1, "w"): 0,
    }


def test_allow_all_is_one_return() -> None:
    assert program([DeviceRule(allow=True)]) == bytes.fromhex(
        "6112000000000000" "54020000ffff0000" "6113000000000000" "7403000010000000"
        "6114040000000000" "6115080000000000" "b400000001000000" "9500000000000000")


RULES = st.builds(
    DeviceRule, allow=st.booleans(), type=st.sampled_from(["a", "b", "c"]),
    major=st.one_of(st.none(), st.integers(0, 3)), minor=st.one_of(st.none(), st.integers(0, 3)),
    access=st.sampled_from(["r", "w", "m", "rw", "rm", "wm", "rwm"]))


@given(st.lists(RULES, max_size=6), st.sampled_from(["b", "c"]), st.integers(0, 3),
       st.integers(0, 3), st.sampled_from(["r", "w", "m", "rw", "rwm"]))
def test_the_filter_decides_as_the_emulated_list(
    rules: list[DeviceRule], kind: str, major: int, minor: int, access: str
) -> None:
    try:
        Emulator.of(rules)
    except InvalidArgument:  # a rule punching a hole in a wildcard: refused before any program
        return
    assert run(program(rules), kind, major, minor, access) == \
        expected(rules, kind, major, minor, access)
