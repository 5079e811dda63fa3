"""A small classic-BPF interpreter over ``struct seccomp_data``, to test filters unloaded."""

from __future__ import annotations

import struct

AUDIT_ARCH_X86_64 = 0xC000003E
AUDIT_ARCH_I386 = 0x40000003


def seccomp_data(nr: int, arch: int = AUDIT_ARCH_X86_64, args: tuple[int, ...] = ()) -> bytes:
    padded = (*args, *(0,) * (6 - len(args)))
    return struct.pack("=iIQ6Q", nr, arch, 0, *padded)


def run(program: bytes, data: bytes) -> int:
    """The filter's return value for one syscall."""
    insns = [struct.unpack_from("=HBBI", program, off) for off in range(0, len(program), 8)]
    a = x = 0
    mem = [0] * 16
    pc = 0
    while True:
        code, jt, jf, k = insns[pc]
        pc += 1
        cls, op, src = code & 0x07, code & 0xF0, code & 0x08
        if cls == 0x00:  # LD
            if code & 0xE0 == 0x20:  # ABS, W
                a = struct.unpack_from("=I", data, k)[0]
            elif code & 0xE0 == 0x60:  # MEM
                a = mem[k]
            elif code & 0xE0 == 0x00:  # IMM
                a = k
            else:
                raise ValueError(f"ld {code:#x}")
        elif cls == 0x01:  # LDX
            x = mem[k] if code & 0xE0 == 0x60 else k
        elif cls == 0x02:
            mem[k] = a
        elif cls == 0x03:
            mem[k] = x
        elif cls == 0x04:  # ALU
            operand = x if src else k
            results = {0x00: a + operand, 0x10: a - operand, 0x50: a & operand, 0x40: a | operand}
            a = results[op] & 0xFFFFFFFF
        elif cls == 0x05:  # JMP
            operand = x if src else k
            if op == 0x00:
                pc += k
                continue
            taken = {0x10: a == operand, 0x20: a > operand, 0x30: a >= operand,
                     0x40: bool(a & operand)}[op]  # fmt: skip
            pc += jt if taken else jf
        elif cls == 0x06:  # RET
            return a if code & 0x18 == 0x10 else k
        elif cls == 0x07:
            if code == 0x07:
                x = a
            elif code == 0x87:
                a = x
        else:  # pragma: no cover
            raise ValueError(f"instruction {code:#x}")
