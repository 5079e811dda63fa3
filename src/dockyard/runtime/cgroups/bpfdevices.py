"""Device rules on cgroup v2: an eBPF program (BPF_PROG_TYPE_CGROUP_DEVICE) attached to the
container's cgroup, as runc's ``devicefilter`` and ``LoadAttachCgroupDeviceFilter`` do.

The rules go through the v1 emulator first (``devices.Emulator``), so v2 allows exactly what
v1's devices.list would: a default (deny, for runc's and Docker's lists) and exceptions,
in the emulator's order. The program, for ``struct bpf_cgroup_dev_ctx`` at R1::

    R2 = type (access_type & 0xffff)   R3 = access (access_type >> 16)
    R4 = major                         R5 = minor
    per exception:  if R2 != type goto next
                    if R3 & access != R3 goto next    (left out for rwm)
                    if R4 != major goto next          (left out for *)
                    if R5 != minor goto next          (left out for *)
                    return allow
    return default

It is attached with BPF_F_ALLOW_MULTI, replacing the one program a previous create left
(BPF_F_REPLACE), or else detaching every older one afterwards; the kernel keeps it attached
until the cgroup goes away.
"""

from __future__ import annotations

import os
import struct

from dockyard.runtime.devices import Emulator

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterable

    from dockyard.runtime.devices import DeviceRule
    from dockyard.sys import Syscalls

PROG_TYPE_CGROUP_DEVICE = 15
ATTACH_CGROUP_DEVICE = 6
F_ALLOW_MULTI, F_REPLACE = 2, 4
LICENSE = "Apache"
_TYPES = {"b": 1, "c": 2}  # BPF_DEVCG_DEV_BLOCK, _CHAR
_ACCESS = {"m": 1, "r": 2, "w": 4}  # BPF_DEVCG_ACC_MKNOD, _READ, _WRITE
_NEXT = -1  # a jump to the next rule's block, resolved when the block is complete

# opcodes (linux/bpf.h): class | op | source
_LDX_MEM_W = 0x61
_ALU_AND_K, _ALU_RSH_K, _ALU_MOV_K, _ALU_MOV_X = 0x54, 0x74, 0xB4, 0xBC
_JMP_JNE_K, _JMP_JNE_X, _JMP_EXIT = 0x55, 0x5D, 0x95


def _insn(code: int, dst: int = 0, src: int = 0, off: int = 0, imm: int = 0) -> bytes:
    """One ``struct bpf_insn`` (little-endian machines: dst in the low nibble)."""
    return struct.pack("<BBhi", code, (src << 4) | dst, off, imm)


def program(rules: Iterable[DeviceRule]) -> bytes:
    """The filter for the device allow list ``rules`` (``devices.cgroup_rules``)."""
    emulator = Emulator.of(rules)
    code = [
        _insn(_LDX_MEM_W, dst=2, src=1, off=0), _insn(_ALU_AND_K, dst=2, imm=0xFFFF),
        _insn(_LDX_MEM_W, dst=3, src=1, off=0), _insn(_ALU_RSH_K, dst=3, imm=16),
        _insn(_LDX_MEM_W, dst=4, src=1, off=4), _insn(_LDX_MEM_W, dst=5, src=1, off=8),
    ]  # fmt: skip
    allow = not emulator.default_allow
    for (major, minor, kind), access in sorted(emulator.exceptions.items()):
        code += _block(kind, major, minor, access, allow)
    code += [_insn(_ALU_MOV_K, dst=0, imm=int(emulator.default_allow)), _insn(_JMP_EXIT)]
    return b"".join(code)


def _block(kind: str, major: int, minor: int, access: str, allow: bool) -> list[bytes]:
    """One exception: jumps past the block unless the device and access match."""
    mask = sum(_ACCESS[char] for char in set(access))
    steps: list[tuple[int, int, int, int]] = [(_JMP_JNE_K, 2, 0, _TYPES[kind])]
    if mask != 7:
        steps += [(_ALU_MOV_X, 1, 3, 0), (_ALU_AND_K, 1, 0, mask), (_JMP_JNE_X, 1, 3, _NEXT)]
    if major >= 0:
        steps.append((_JMP_JNE_K, 4, 0, major))
    if minor >= 0:
        steps.append((_JMP_JNE_K, 5, 0, minor))
    length = len(steps) + 2
    block = []
    for index, (code, dst, src, imm) in enumerate(steps):
        if code == _JMP_JNE_X:
            block.append(_insn(code, dst=dst, src=src, off=length - index - 1))
        elif code == _JMP_JNE_K:
            block.append(_insn(code, dst=dst, off=length - index - 1, imm=imm))
        else:
            block.append(_insn(code, dst=dst, src=src, imm=imm))
    return [*block, _insn(_ALU_MOV_K, dst=0, imm=int(allow)), _insn(_JMP_EXIT)]


def attach(directory: str, rules: Iterable[DeviceRule], sys: Syscalls) -> None:
    """Load the filter for ``rules`` and make it the one attached to ``directory``."""
    code = program(rules)
    prog = sys.bpf_prog_load(PROG_TYPE_CGROUP_DEVICE, code, LICENSE)
    target = os.open(directory, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    old: list[int] = []
    try:
        old = [sys.bpf_prog_get_fd_by_id(number)
               for number in sys.bpf_prog_query(target, ATTACH_CGROUP_DEVICE)]
        if len(old) == 1:
            sys.bpf_prog_attach(target, prog, ATTACH_CGROUP_DEVICE, F_ALLOW_MULTI | F_REPLACE,
                                old[0])
            return
        sys.bpf_prog_attach(target, prog, ATTACH_CGROUP_DEVICE, F_ALLOW_MULTI)
        for fd in old:
            sys.bpf_prog_detach(target, fd, ATTACH_CGROUP_DEVICE)
    finally:
        for fd in (prog, target, *old):
            os.close(fd)
