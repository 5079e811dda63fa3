"""``linux.seccomp``: the spec's filter built with libseccomp and loaded as runc 1.1 loads it.

Two steps so that a bad profile fails in the runtime, before any process exists::

    program = Seccomp(sys).compile(spec)     # parent: validate, resolve, BPF (no kernel change)
    Seccomp(sys).load(program)               # container init: seccomp(SET_MODE_FILTER)

runc's rules, kept here: actions and operators by their libseccomp names; an errno action
without ``errnoRet`` returns EPERM; a rule whose action equals the default action is skipped;
a syscall name libseccomp does not know is ignored; several conditions on the same argument
become one rule per condition (an OR), otherwise one rule with all of them (an AND); the
no_new_privs attribute is off (the init sets no_new_privs itself). Before the filter, runc's
-ENOSYS stub answers ENOSYS for syscall numbers above the highest one the profile names, per
architecture, so that a newer libc falls back instead of failing on EPERM (runc
``libcontainer/seccomp/patchbpf``); it is left out when the default action allows or already
answers ENOSYS.

Where the init loads it (runc's standard_init): without ``noNewPrivileges`` loading needs
CAP_SYS_ADMIN, so it comes *before* capabilities are applied; with it, as late as possible,
right before execve.
"""

from __future__ import annotations

import errno
import struct

from dockyard.errors import InvalidArgument, Unsupported
from dockyard.runtime.log import debug
from dockyard.runtime.record import Record
from dockyard.sys import libseccomp as scmp

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Mapping

    from dockyard.sys import Syscalls

ACTIONS: Mapping[str, int] = {
    "SCMP_ACT_KILL": scmp.ACT_KILL_THREAD,
    "SCMP_ACT_KILL_THREAD": scmp.ACT_KILL_THREAD,
    "SCMP_ACT_KILL_PROCESS": scmp.ACT_KILL_PROCESS,
    "SCMP_ACT_TRAP": scmp.ACT_TRAP,
    "SCMP_ACT_ERRNO": scmp.ACT_ERRNO,
    "SCMP_ACT_TRACE": scmp.ACT_TRACE,
    "SCMP_ACT_ALLOW": scmp.ACT_ALLOW,
    "SCMP_ACT_LOG": scmp.ACT_LOG,
}
OPERATORS: Mapping[str, int] = {
    "SCMP_CMP_NE": scmp.CMP_NE,
    "SCMP_CMP_LT": scmp.CMP_LT,
    "SCMP_CMP_LE": scmp.CMP_LE,
    "SCMP_CMP_EQ": scmp.CMP_EQ,
    "SCMP_CMP_GE": scmp.CMP_GE,
    "SCMP_CMP_GT": scmp.CMP_GT,
    "SCMP_CMP_MASKED_EQ": scmp.CMP_MASKED_EQ,
}
ARCHITECTURES: Mapping[str, str] = {
    f"SCMP_ARCH_{name.upper()}": name
    for name in (
        "x86", "x86_64", "x32", "arm", "aarch64", "mips", "mips64", "mips64n32", "mipsel",
        "mipsel64", "mipsel64n32", "ppc", "ppc64", "ppc64le", "s390", "s390x", "riscv64",
    )
}  # fmt: skip
FLAGS: Mapping[str, int] = {
    "SECCOMP_FILTER_FLAG_TSYNC": 1,
    "SECCOMP_FILTER_FLAG_LOG": 2,
    "SECCOMP_FILTER_FLAG_SPEC_ALLOW": 4,
}
_MAX_ARGS = 6
_X32_BIT = 1 << 30
_AUDIT_ARCH_X86_64 = 0xC000003E
_SCMP_ARCH_X32 = 0x4000003E
_ALLOWING = frozenset({scmp.ACT_ALLOW, scmp.ACT_LOG})


class SeccompArg(Record):
    index: int
    value: int
    op: str
    value_two: int = 0


class SeccompSyscall(Record):
    names: tuple[str, ...]
    action: str
    errno_ret: int | None = None
    args: tuple[SeccompArg, ...] = ()


class SeccompSpec(Record):
    """``linux.seccomp`` of the runtime spec."""

    default_action: str
    default_errno_ret: int | None = None
    architectures: tuple[str, ...] = ()
    flags: tuple[str, ...] = ()
    syscalls: tuple[SeccompSyscall, ...] = ()

    @property
    def enabled(self) -> bool:
        """runc treats a profile with no default action and no syscalls as no seccomp."""
        return bool(self.default_action or self.syscalls)


class Program(Record):
    """A compiled filter: BPF instructions and the seccomp(2) flags to load them with."""

    bpf: bytes
    flags: int = 0

    @property
    def instructions(self) -> int:
        return len(self.bpf) // 8


def _action(name: str, errno_ret: int | None, where: str) -> int:
    base = ACTIONS.get(name)
    if base is None:
        if name == "SCMP_ACT_NOTIFY":
            raise Unsupported(f"{where}: seccomp action {name} is not supported")
        raise InvalidArgument(f"{where}: unknown seccomp action {name!r}")
    if base in (scmp.ACT_ERRNO, scmp.ACT_TRACE):
        code = errno.EPERM if errno_ret is None else errno_ret
        if not 0 <= code <= 0xFFFF:
            raise InvalidArgument(f"{where}: errnoRet {code} out of range")
        return base | code
    return base


def _conditions(call: SeccompSyscall, where: str) -> list[scmp.ArgCompare]:
    conditions = []
    for number, arg in enumerate(call.args):
        op = OPERATORS.get(arg.op)
        if op is None:
            raise InvalidArgument(f"{where}.args[{number}].op: unknown seccomp operator {arg.op!r}")
        if not 0 <= arg.index < _MAX_ARGS:
            raise InvalidArgument(f"{where}.args[{number}].index: {arg.index} is not 0..5")
        for field, value in (("value", arg.value), ("valueTwo", arg.value_two)):
            if not 0 <= value < 1 << 64:
                raise InvalidArgument(f"{where}.args[{number}].{field}: {value} is not a uint64")
        conditions.append(scmp.ArgCompare(arg.index, op, arg.value, arg.value_two))
    return conditions


def _rules_for(
    call: SeccompSyscall, default: int, lib: scmp.LibSeccomp, where: str
) -> list[scmp.Rule]:
    action = _action(call.action, call.errno_ret, f"{where}.action")
    conditions = _conditions(call, where)
    if action == default:
        return []
    rules: list[scmp.Rule] = []
    indexes = [cond.index for cond in conditions]
    split = len(indexes) != len(set(indexes))
    for name in call.names:
        if not name:
            raise InvalidArgument(f"{where}.names: empty syscall name")
        number = lib.syscall(name)
        if number is None:
            debug(__name__, "unknown seccomp syscall %r ignored", name)
            continue
        if split:
            rules.extend(scmp.Rule(number, action, (cond,)) for cond in conditions)
        else:
            rules.append(scmp.Rule(number, action, tuple(conditions)))
    return rules


def _arch_tokens(spec: SeccompSpec, lib: scmp.LibSeccomp) -> list[int]:
    tokens = []
    for number, name in enumerate(spec.architectures):
        if name not in ARCHITECTURES:
            raise InvalidArgument(
                f"linux.seccomp.architectures[{number}]: unknown architecture {name!r}"
            )
        tokens.append(lib.arch(ARCHITECTURES[name]))
    return tokens


def _flags(spec: SeccompSpec) -> int:
    value = 0
    for number, name in enumerate(spec.flags):
        if name not in FLAGS:
            raise InvalidArgument(f"linux.seccomp.flags[{number}]: unknown flag {name!r}")
        value |= FLAGS[name]
    return value


def _insn(code: int, k: int, jt: int = 0, jf: int = 0) -> bytes:
    return struct.pack("=HBBI", code, jt, jf, k)


_LD_ABS, _JA, _JEQ, _JGT, _JSET, _RET = 0x20, 0x05, 0x15, 0x25, 0x45, 0x06
_RET_ENOSYS = scmp.ACT_ERRNO | errno.ENOSYS


def _last_syscalls(spec: SeccompSpec, lib: scmp.LibSeccomp) -> dict[int, dict[int, int]]:
    """Per kernel arch (AUDIT_ARCH_*), per libseccomp arch: the highest syscall number named."""
    names = {name for call in spec.syscalls for name in call.names}
    last: dict[int, dict[int, int]] = {}
    for token in _arch_tokens(spec, lib):
        native = _AUDIT_ARCH_X86_64 if token == _SCMP_ARCH_X32 else token
        numbers = [lib.syscall(name, token) for name in names]
        largest = max((n for n in numbers if n is not None and n > 0), default=0)
        if largest:
            last.setdefault(native, {})[token] = largest
    return last


def _section(native: int, maxes: dict[int, int], base_enosys: int) -> list[bytes]:
    base_filter = base_enosys + 1
    section = [_insn(_LD_ABS, 0)]
    if len(maxes) == 2:  # x86_64 and x32 share AUDIT_ARCH_X86_64; x32 numbers carry bit 30
        x32, x86_64 = maxes[_SCMP_ARCH_X32], maxes[_AUDIT_ARCH_X86_64]
        if base_enosys + 2 <= 255:
            return [
                *section,
                _insn(_JSET, _X32_BIT, 1),
                _insn(_JGT, x86_64, base_enosys + 2, 1),
                _insn(_JGT, x32, base_enosys + 1),
                _insn(_JA, base_filter),
            ]
        return [
            *section,
            _insn(_JSET, _X32_BIT, 1),
            _insn(_JGT, x86_64, 1, 2),
            _insn(_JGT, x32, 0, 1),
            _insn(_JA, base_enosys + 1),
            _insn(_JA, base_filter),
        ]
    ((arch, number),) = maxes.items()
    if arch in (0x16, 0x80000016):  # s390, s390x: setup(2)=0 multiplexes unknown numbers
        section += [_insn(_JEQ, 0, 0, 1), _insn(_RET, _RET_ENOSYS)]
    if base_enosys + 1 <= 255:
        tail = [_insn(_JGT, number, base_enosys + 1), _insn(_JA, base_filter)]
    else:
        tail = [_insn(_JGT, number, 0, 1), _insn(_JA, base_enosys + 1), _insn(_JA, base_filter)]
    if native == _AUDIT_ARCH_X86_64:
        skip = len(tail) - 1
        mode = (
            _insn(_JSET, _X32_BIT, skip)
            if arch != _SCMP_ARCH_X32
            else _insn(_JSET, _X32_BIT, 0, skip)
        )
        tail = [mode, *tail]
    return section + tail


def _enosys_stub(last: dict[int, dict[int, int]]) -> bytes:
    """runc's patchbpf stub: ENOSYS for numbers above each arch's highest, then the filter."""
    if not last:
        return b""
    tail = [_insn(_JA, 1), _insn(_RET, _RET_ENOSYS)]
    jumps: dict[int, int] = {}
    for native, maxes in last.items():
        tail = _section(native, maxes, len(tail) - 1) + tail
        jumps[native] = len(tail)
    tail = [_insn(_JA, len(tail)), *tail]
    for native in last:
        jump = len(tail) - jumps[native]
        if jump <= 255:
            tail = [_insn(_JEQ, native, jump), *tail]
        else:
            tail = [_insn(_JEQ, native, 0, 1), _insn(_JA, jump), *tail]
    return b"".join([_insn(_LD_ABS, 4), *tail])


class Seccomp:
    """Compiles :class:`SeccompSpec` with libseccomp and loads the result through ``sys``."""

    def __init__(self, sys: Syscalls, lib: scmp.LibSeccomp | None = None) -> None:
        self._sys = sys
        self._given = lib

    @property
    def _lib(self) -> scmp.LibSeccomp:
        """libseccomp, loaded on first use: only :meth:`compile` needs it (the container's
        init, which only loads a program, would pay for binding its functions anew)."""
        if self._given is None:
            self._given = scmp.LibSeccomp()
        return self._given

    def compile(self, spec: SeccompSpec) -> Program:
        """Validates and builds; every error names the field of ``linux.seccomp`` at fault."""
        default = _action(
            spec.default_action, spec.default_errno_ret, "linux.seccomp.defaultAction"
        )
        arches = _arch_tokens(spec, self._lib)
        flags = _flags(spec)
        rules: list[scmp.Rule] = []
        origins: list[str] = []
        for number, call in enumerate(spec.syscalls):
            where = f"linux.seccomp.syscalls[{number}]"
            found = _rules_for(call, default, self._lib, where)
            rules += found
            origins += [where] * len(found)
        try:
            bpf = self._lib.compile(default, arches, rules)
        except scmp.RuleRejected as exc:
            raise InvalidArgument(f"{origins[exc.index]}: {exc}") from exc
        allowing = default in _ALLOWING or default & 0xFFFF0000 == scmp.ACT_TRACE
        stub = b"" if allowing else _enosys_stub(_last_syscalls(spec, self._lib))
        return Program(bpf=stub + bpf, flags=flags)

    def load(self, program: Program) -> None:
        """Installs the filter on the calling thread (and, with TSYNC, its siblings)."""
        debug(__name__, "loading seccomp filter of %d instructions", program.instructions)
        self._sys.seccomp_set_filter(program.bpf, program.flags)


def load(spec: SeccompSpec, sys: Syscalls) -> None:
    """Compile and load in one step (for callers with nothing to do in between)."""
    if spec.enabled:
        seccomp = Seccomp(sys)
        seccomp.load(seccomp.compile(spec))
