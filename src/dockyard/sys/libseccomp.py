"""libseccomp through ctypes: compiles seccomp rules into a classic BPF program.

The program is only built here (``seccomp_export_bpf``); loading it is the kernel call
:meth:`dockyard.sys.Syscalls.seccomp_set_filter`, so a caller can inspect or patch the program
(runc prepends an -ENOSYS stub) and unit tests can build filters without loading them.

Values are libseccomp's (``<seccomp.h>``, libseccomp 2.5): actions such as ``ACT_ERRNO | errno``,
compare operators 1..7, architecture tokens equal to the kernel's AUDIT_ARCH_* values except x32.
"""

from __future__ import annotations

import ctypes
import errno
import os

from dockyard.errors import InvalidArgument, SystemCallError, Unsupported

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Sequence

ACT_KILL_PROCESS = 0x80000000
ACT_KILL_THREAD = 0x00000000
ACT_TRAP = 0x00030000
ACT_ERRNO = 0x00050000
ACT_TRACE = 0x7FF00000
ACT_LOG = 0x7FFC0000
ACT_ALLOW = 0x7FFF0000
ACT_NOTIFY = 0x7FC00000

CMP_NE, CMP_LT, CMP_LE, CMP_EQ, CMP_GE, CMP_GT, CMP_MASKED_EQ = range(1, 8)

_ATTR_CTL_NNP = 3
_ATTR_CTL_OPTIMIZE = 8
_OPTIMIZE_BINARY_TREE = 2
_NR_SCMP_ERROR = -1


class _Value:
    """An immutable slotted value (not a dataclass: ``dataclasses`` costs the one-shot
    ``dockyard-runtime`` ~4 ms to import); equal by type and fields."""

    __slots__: tuple[str, ...] = ()
    __match_args__: tuple[str, ...] = ()  # the fields in order

    def _fields(self) -> tuple[object, ...]:
        return tuple(getattr(self, name) for name in self.__match_args__)

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError(f"cannot assign to field {name!r}")

    def __eq__(self, other: object) -> bool:
        if type(other) is not type(self):
            return NotImplemented
        return self._fields() == other._fields()

    def __hash__(self) -> int:
        return hash((type(self).__name__, *self._fields()))

    def __repr__(self) -> str:
        inner = ", ".join(f"{name}={getattr(self, name)!r}" for name in self.__match_args__)
        return f"{type(self).__name__}({inner})"


class ArgCompare(_Value):
    """One ``scmp_arg_cmp``: argument ``index`` compared by ``op`` with ``value`` (and mask)."""

    __slots__ = ("index", "op", "value", "value_two")
    __match_args__ = ("index", "op", "value", "value_two")
    index: int
    op: int
    value: int
    value_two: int

    def __init__(self, index: int, op: int, value: int, value_two: int = 0) -> None:
        for name, given in zip(self.__match_args__, (index, op, value, value_two), strict=True):
            object.__setattr__(self, name, given)


class Rule(_Value):
    """``action`` for ``syscall`` (a native number) when every comparison holds."""

    __slots__ = ("action", "conditions", "syscall")
    __match_args__ = ("syscall", "action", "conditions")
    syscall: int
    action: int
    conditions: tuple[ArgCompare, ...]

    def __init__(self, syscall: int, action: int, conditions: tuple[ArgCompare, ...] = ()):
        for name, given in zip(self.__match_args__, (syscall, action, conditions), strict=True):
            object.__setattr__(self, name, given)


class RuleRejected(InvalidArgument):
    """libseccomp refused rule number ``index`` of a :meth:`LibSeccomp.compile` call."""

    def __init__(self, index: int, message: str) -> None:
        super().__init__(message)
        self.index = index


class _ArgCmp(ctypes.Structure):
    _fields_ = (
        ("arg", ctypes.c_uint),
        ("op", ctypes.c_int),
        ("datum_a", ctypes.c_uint64),
        ("datum_b", ctypes.c_uint64),
    )


class _Version(ctypes.Structure):
    _fields_ = (("major", ctypes.c_uint), ("minor", ctypes.c_uint), ("micro", ctypes.c_uint))


def _load() -> ctypes.CDLL:
    try:  # ctypes.util.find_library runs ldconfig (and costs its import): the soname first
        lib = ctypes.CDLL("libseccomp.so.2", use_errno=True)
    except OSError:
        from ctypes.util import find_library

        name = find_library("seccomp") or "libseccomp.so.2"
        try:
            lib = ctypes.CDLL(name, use_errno=True)
        except OSError as exc:
            raise Unsupported(f"libseccomp: cannot load {name}: {exc}") from exc
    lib.seccomp_init.restype = ctypes.c_void_p
    lib.seccomp_init.argtypes = (ctypes.c_uint32,)
    lib.seccomp_release.argtypes = (ctypes.c_void_p,)
    lib.seccomp_arch_add.argtypes = (ctypes.c_void_p, ctypes.c_uint32)
    lib.seccomp_arch_resolve_name.restype = ctypes.c_uint32
    lib.seccomp_arch_resolve_name.argtypes = (ctypes.c_char_p,)
    lib.seccomp_arch_native.restype = ctypes.c_uint32
    lib.seccomp_attr_set.argtypes = (ctypes.c_void_p, ctypes.c_int, ctypes.c_uint32)
    lib.seccomp_syscall_resolve_name_arch.argtypes = (ctypes.c_uint32, ctypes.c_char_p)
    lib.seccomp_rule_add_array.argtypes = (
        ctypes.c_void_p, ctypes.c_uint32, ctypes.c_int, ctypes.c_uint, ctypes.POINTER(_ArgCmp),
    )
    lib.seccomp_export_bpf.argtypes = (ctypes.c_void_p, ctypes.c_int)
    lib.seccomp_version.restype = ctypes.POINTER(_Version)
    return lib


class LibSeccomp:
    """One loaded libseccomp. Holds no filter state between calls."""

    def __init__(self) -> None:
        self._lib = _load()

    def arch(self, name: str) -> int:
        """The architecture token for a libseccomp name ("x86_64", "x32", "aarch64", ...)."""
        token = int(self._lib.seccomp_arch_resolve_name(name.encode()))
        if token == 0:
            raise InvalidArgument(f"libseccomp: unknown architecture {name!r}")
        return token

    def version(self) -> tuple[int, int, int]:
        """libseccomp's version (seccomp_version(3))."""
        found = self._lib.seccomp_version().contents
        return int(found.major), int(found.minor), int(found.micro)

    def native_arch(self) -> int:
        return int(self._lib.seccomp_arch_native())

    def syscall(self, name: str, arch: int = 0) -> int | None:
        """The number of syscall ``name`` on ``arch`` (0: native), None when unknown there."""
        number = int(self._lib.seccomp_syscall_resolve_name_arch(arch, name.encode()))
        return None if number == _NR_SCMP_ERROR else number

    def compile(self, default_action: int, arches: Sequence[int], rules: Sequence[Rule]) -> bytes:
        """The BPF program (sock_filter instructions, native byte order) for these rules."""
        ctx = self._lib.seccomp_init(default_action)
        if not ctx:
            raise InvalidArgument(f"libseccomp: invalid default action {default_action:#x}")
        try:
            self._check(self._lib.seccomp_attr_set(ctx, _ATTR_CTL_NNP, 0), "attr_set", "nnp")
            # A binary search on the syscall number instead of one comparison per rule: the
            # kernel's load (its per-syscall cache runs the filter for every number) and each
            # syscall of the container then walk ~10 comparisons, not up to ~400. Before
            # libseccomp 2.5 the attribute is unknown (an error) and the list stays linear.
            self._lib.seccomp_attr_set(ctx, _ATTR_CTL_OPTIMIZE, _OPTIMIZE_BINARY_TREE)
            for arch in arches:
                result = self._lib.seccomp_arch_add(ctx, arch)
                if result != -errno.EEXIST:
                    self._check(result, "arch_add", f"{arch:#x}")
            for index, rule in enumerate(rules):
                self._add(ctx, index, rule)
            return self._export(ctx)
        finally:
            self._lib.seccomp_release(ctx)

    def _add(self, ctx: int, index: int, rule: Rule) -> None:
        conditions = (_ArgCmp * max(1, len(rule.conditions)))()
        for slot, cond in zip(conditions, rule.conditions, strict=False):
            slot.arg, slot.op, slot.datum_a, slot.datum_b = (
                cond.index, cond.op, cond.value, cond.value_two,
            )
        result = self._lib.seccomp_rule_add_array(
            ctx, rule.action, rule.syscall, len(rule.conditions), conditions
        )
        if result < 0:
            raise RuleRejected(
                index,
                f"libseccomp: rule for syscall {rule.syscall} (action {rule.action:#x}) "
                f"rejected: {os.strerror(-result)}",
            )

    def _export(self, ctx: int) -> bytes:
        fd = os.memfd_create("seccomp-bpf", os.MFD_CLOEXEC)
        try:
            self._check(self._lib.seccomp_export_bpf(ctx, fd), "export_bpf", "memfd")
            size = os.lseek(fd, 0, os.SEEK_END)
            return os.pread(fd, size, 0)
        finally:
            os.close(fd)

    @staticmethod
    def _check(result: int, call: str, detail: str) -> None:
        if result < 0:
            raise SystemCallError(f"seccomp_{call}", -result, detail)
