"""The real :class:`~dockyard.sys.Syscalls`: libc through ctypes, errors named by call and path."""

from __future__ import annotations

import ctypes
import os
import struct
import sys

from dockyard.errors import SystemCallError
from dockyard.sys import CapabilitySets


class _LazyLog:
    """Debug lines go to ``logging`` when a program has imported it (the daemon does); the
    one-shot runtime commands do not import it, which saves its start-up cost (~8 ms)."""

    def debug(self, message: str, *args: object) -> None:
        logging = sys.modules.get("logging")
        if logging is not None:
            logging.getLogger(__name__).debug(message, *args)


log = _LazyLog()


def _load_libc() -> ctypes.CDLL:
    try:  # ctypes.util.find_library is slow (it may run ldconfig): try the usual name first
        return ctypes.CDLL("libc.so.6", use_errno=True)
    except OSError:
        from ctypes.util import find_library

        return ctypes.CDLL(find_library("c") or "libc.so.6", use_errno=True)


_libc = _load_libc()
# Resolved now (dlsym and a ctypes function object each), not on first use: a warm spawner's
# forked children make these calls, and each would otherwise redo it on pages it must copy.
for _name in ("mount", "umount2", "unshare", "setns", "sethostname", "setdomainname", "prctl",
              "capget", "capset", "syscall"):
    getattr(_libc, _name)
_MACHINE = os.uname().machine


def _check(result: int, call: str, detail: str) -> None:
    if result != 0:
        raise SystemCallError(call, ctypes.get_errno(), detail)


_CAPABILITY_VERSION_3 = 0x20080522
_MADV_POPULATE_WRITE = 23
_MASK32 = 0xFFFFFFFF


class _CapHeader(ctypes.Structure):
    _fields_ = (("version", ctypes.c_uint32), ("pid", ctypes.c_int))


class _CapData(ctypes.Structure):
    _fields_ = (
        ("effective", ctypes.c_uint32),
        ("permitted", ctypes.c_uint32),
        ("inheritable", ctypes.c_uint32),
    )


class _SockFprog(ctypes.Structure):
    _fields_ = (("len", ctypes.c_ushort), ("filter", ctypes.c_void_p))


# _IOR('f', 1, long) and _IOW('f', 2, long); the kernel moves an int despite the size.
_FS_IOC_GETFLAGS = 0x80086601
_FS_IOC_SETFLAGS = 0x40086602

_SECCOMP_SET_MODE_FILTER = 1
_SYS_CLONE3 = 435  # the same on x86_64 and aarch64 (asm-generic numbering after 403)
_SYS_BPF = {"x86_64": 321, "aarch64": 280}
_BPF_PROG_LOAD, _BPF_PROG_ATTACH, _BPF_PROG_DETACH = 5, 8, 9
_BPF_PROG_GET_FD_BY_ID, _BPF_PROG_QUERY = 13, 16
_BPF_ATTR_SIZE = 144  # what this file fills of union bpf_attr; the rest must be zero
_BPF_LOG_SIZE = 1 << 16
_CLONE_INTO_CGROUP = 0x200000000
_SYS_OPENAT2 = 437  # asm-generic numbering: the same on x86_64 and aarch64
_SIGCHLD = 17


class _OpenHow(ctypes.Structure):
    _fields_ = (("flags", ctypes.c_uint64), ("mode", ctypes.c_uint64),
                ("resolve", ctypes.c_uint64))


class _CloneArgs(ctypes.Structure):
    _fields_ = tuple((name, ctypes.c_uint64) for name in (
        "flags", "pidfd", "child_tid", "parent_tid", "exit_signal", "stack", "stack_size",
        "tls", "set_tid", "set_tid_size", "cgroup"))  # fmt: skip
_SYS_SECCOMP = {"x86_64": 317, "aarch64": 277}
_CLONE_PIDFD = 0x1000
_PR_GET_CHILD_SUBREAPER = 37
_fork_calls: list[ctypes._NamedFuncPointer] = []
"""libc's syscall(2) called holding the GIL, PyOS_BeforeFork, PyOS_AfterFork_Parent and
PyOS_AfterFork_Child: resolved once, in the parent (a child would resolve them anew)."""


def _clone3(args: _CloneArgs, what: str) -> int:
    """clone3(2) as os.fork: the interpreter's fork hooks around the call, which is made
    holding the GIL (a PyDLL function), so no other thread of ours runs meanwhile. Returns
    0 in the child, the child's pid in the parent."""
    if not _fork_calls:
        function = ctypes.PyDLL(None, use_errno=True).syscall
        function.restype = ctypes.c_long
        api = ctypes.pythonapi
        _fork_calls.extend((function, api.PyOS_BeforeFork, api.PyOS_AfterFork_Parent,
                            api.PyOS_AfterFork_Child))
    syscall, before, after_parent, after_child = _fork_calls
    before()
    pid = int(syscall(ctypes.c_long(_SYS_CLONE3), ctypes.byref(args),
                      ctypes.c_size_t(ctypes.sizeof(args))))
    if pid == 0:
        after_child()
        return 0
    error = ctypes.get_errno()
    after_parent()
    if pid < 0:
        raise SystemCallError("clone3", error, what)
    return pid


def _b(text: str) -> bytes:
    return text.encode("utf-8", "surrogateescape")


class LinuxSyscalls:
    """Makes the calls. Holds no state: one instance may be shared."""

    def mount(
        self, source: str, target: str, fstype: str, flags: int = 0, data: str = ""
    ) -> None:
        log.debug("mount(%r, %r, %r, %#x, %r)", source, target, fstype, flags, data)
        result = _libc.mount(
            _b(source), _b(target), _b(fstype) if fstype else None,
            ctypes.c_ulong(flags), _b(data) if data else None,
        )
        _check(result, "mount", f"{fstype or 'none'} on {target}")

    def umount(self, target: str, flags: int = 0) -> None:
        log.debug("umount2(%r, %#x)", target, flags)
        _check(_libc.umount2(_b(target), ctypes.c_int(flags)), "umount2", target)

    def unshare(self, flags: int) -> None:
        log.debug("unshare(%#x)", flags)
        _check(_libc.unshare(ctypes.c_int(flags)), "unshare", f"{flags:#x}")

    def setns(self, fd: int, nstype: int = 0) -> None:
        log.debug("setns(%d, %#x)", fd, nstype)
        _check(_libc.setns(ctypes.c_int(fd), ctypes.c_int(nstype)), "setns", f"fd {fd}")

    def pivot_root(self, new_root: str, put_old: str) -> None:
        log.debug("pivot_root(%r, %r)", new_root, put_old)
        # glibc has no wrapper: syscall(SYS_pivot_root); 155 on x86_64, 41 on aarch64.
        number = 41 if _MACHINE == "aarch64" else 155
        _check(_libc.syscall(number, _b(new_root), _b(put_old)), "pivot_root", new_root)

    def syncfs(self, fd: int) -> None:
        log.debug("syncfs(%d)", fd)
        _check(_libc.syncfs(ctypes.c_int(fd)), "syncfs", f"fd {fd}")

    def populate_write(self, address: int, length: int) -> None:
        result = _libc.madvise(ctypes.c_void_p(address), ctypes.c_size_t(length),
                               ctypes.c_int(_MADV_POPULATE_WRITE))
        _check(result, "madvise", f"MADV_POPULATE_WRITE {address:#x}+{length}")

    def sethostname(self, name: str) -> None:
        data = _b(name)
        _check(_libc.sethostname(data, ctypes.c_size_t(len(data))), "sethostname", name)

    def prctl(
        self, option: int, arg2: int = 0, arg3: int = 0, arg4: int = 0, arg5: int = 0
    ) -> int:
        log.debug("prctl(%d, %d, %d, %d, %d)", option, arg2, arg3, arg4, arg5)
        args = (ctypes.c_ulong(arg) for arg in (arg2, arg3, arg4, arg5))
        result = int(_libc.prctl(ctypes.c_int(option), *args))
        if result < 0:
            raise SystemCallError("prctl", ctypes.get_errno(), f"option {option} arg {arg2}")
        return result

    def capget(self) -> CapabilitySets:
        header = _CapHeader(_CAPABILITY_VERSION_3, 0)
        data = (_CapData * 2)()
        _check(_libc.capget(ctypes.byref(header), data), "capget", "self")
        return CapabilitySets(
            effective=data[0].effective | data[1].effective << 32,
            permitted=data[0].permitted | data[1].permitted << 32,
            inheritable=data[0].inheritable | data[1].inheritable << 32,
        )

    def capset(self, sets: CapabilitySets) -> None:
        log.debug("capset(%r)", sets)
        header = _CapHeader(_CAPABILITY_VERSION_3, 0)
        data = (_CapData * 2)()
        for half, shift in ((0, 0), (1, 32)):
            data[half].effective = sets.effective >> shift & _MASK32
            data[half].permitted = sets.permitted >> shift & _MASK32
            data[half].inheritable = sets.inheritable >> shift & _MASK32
        _check(_libc.capset(ctypes.byref(header), data), "capset", "self")

    def seccomp_set_filter(self, program: bytes, flags: int = 0) -> int:
        log.debug("seccomp(SET_MODE_FILTER, %#x, <%d instructions>)", flags, len(program) // 8)
        if len(program) % 8 or not program:
            raise SystemCallError("seccomp", 22, f"program of {len(program)} bytes")
        buffer = ctypes.create_string_buffer(program, len(program))
        prog = _SockFprog(len(program) // 8, ctypes.cast(buffer, ctypes.c_void_p))
        number = _SYS_SECCOMP.get(_MACHINE, 317)
        result = int(
            _libc.syscall(
                number, _SECCOMP_SET_MODE_FILTER, ctypes.c_uint(flags), ctypes.byref(prog)
            )
        )
        if result < 0:
            raise SystemCallError("seccomp", ctypes.get_errno(), "SECCOMP_SET_MODE_FILTER")
        return result

    def setdomainname(self, name: str) -> None:
        data = _b(name)
        log.debug("setdomainname(%r)", name)
        _check(_libc.setdomainname(data, ctypes.c_size_t(len(data))), "setdomainname", name)

    def mknod(self, path: str, mode: int, device: int) -> None:
        log.debug("mknod(%r, %#o, %#x)", path, mode, device)
        try:
            os.mknod(path, mode, device)
        except OSError as exc:
            raise SystemCallError("mknod", exc.errno or 0, path) from exc

    def chroot(self, path: str) -> None:
        log.debug("chroot(%r)", path)
        try:
            os.chroot(path)
        except OSError as exc:
            raise SystemCallError("chroot", exc.errno or 0, path) from exc

    def close_range(self, first: int, last: int = 0xFFFFFFFF, flags: int = 0) -> None:
        log.debug("close_range(%d, %#x, %#x)", first, last, flags)
        number = 436  # the same on x86_64 and aarch64 (asm-generic numbering after 403)
        result = _libc.syscall(number, ctypes.c_uint(first), ctypes.c_uint(last),
                               ctypes.c_uint(flags))
        _check(result, "close_range", f"from fd {first}")

    def fork_into_cgroup(self, cgroup_fd: int) -> int:
        log.debug("clone3(CLONE_INTO_CGROUP, fd %d)", cgroup_fd)
        args = _CloneArgs(flags=_CLONE_INTO_CGROUP, exit_signal=_SIGCHLD, cgroup=cgroup_fd)
        return _clone3(args, f"CLONE_INTO_CGROUP of fd {cgroup_fd}")

    def clone_into_cgroup(self, cgroup_fd: int, flags: int = 0) -> tuple[int, int]:
        log.debug("clone3(CLONE_PIDFD | %#x, cgroup fd %d)", flags, cgroup_fd)
        pidfd = ctypes.c_int(-1)
        flags |= _CLONE_PIDFD | (_CLONE_INTO_CGROUP if cgroup_fd >= 0 else 0)
        args = _CloneArgs(flags=flags, pidfd=ctypes.addressof(pidfd), exit_signal=_SIGCHLD,
                          cgroup=max(cgroup_fd, 0))
        pid = _clone3(args, f"flags {flags:#x}, cgroup fd {cgroup_fd}")
        return (0, -1) if pid == 0 else (pid, pidfd.value)

    def child_subreaper(self) -> bool:
        value = ctypes.c_int(0)
        result = int(_libc.prctl(ctypes.c_int(_PR_GET_CHILD_SUBREAPER),
                                 ctypes.c_ulong(ctypes.addressof(value)), ctypes.c_ulong(0),
                                 ctypes.c_ulong(0), ctypes.c_ulong(0)))
        if result < 0:
            raise SystemCallError("prctl", ctypes.get_errno(), "PR_GET_CHILD_SUBREAPER")
        return bool(value.value)

    def _bpf(self, command: int, attr: ctypes.Array[ctypes.c_char], what: str) -> int:
        number = _SYS_BPF.get(_MACHINE)
        if number is None:
            raise SystemCallError("bpf", 38, f"{what}: no syscall number for {_MACHINE}")
        syscall = _libc.syscall
        syscall.restype = ctypes.c_long
        result = int(syscall(ctypes.c_long(number), ctypes.c_int(command), attr,
                             ctypes.c_uint(len(attr))))
        if result < 0:
            raise SystemCallError("bpf", ctypes.get_errno(), what)
        return result

    def bpf_prog_load(self, prog_type: int, instructions: bytes, license: str) -> int:
        log.debug("bpf(BPF_PROG_LOAD, type %d, %d instructions)", prog_type,
                  len(instructions) // 8)
        code = ctypes.create_string_buffer(instructions, len(instructions))
        name = ctypes.create_string_buffer(license.encode())
        verifier = ctypes.create_string_buffer(_BPF_LOG_SIZE)
        attr = ctypes.create_string_buffer(_BPF_ATTR_SIZE)
        struct.pack_into("=IIQQIIQ", attr, 0, prog_type, len(instructions) // 8,
                         ctypes.addressof(code), ctypes.addressof(name), 1, _BPF_LOG_SIZE,
                         ctypes.addressof(verifier))
        try:
            return self._bpf(_BPF_PROG_LOAD, attr, f"BPF_PROG_LOAD of type {prog_type}")
        except SystemCallError as exc:
            text = verifier.value.decode(errors="replace").strip()
            if text:
                exc.args = (f"{exc}: verifier: {text}",)
            raise

    def bpf_prog_attach(self, target_fd: int, prog_fd: int, attach_type: int,
                        flags: int = 0, replace_fd: int = 0) -> None:
        log.debug("bpf(BPF_PROG_ATTACH, fd %d to fd %d, type %d, flags %#x)", prog_fd,
                  target_fd, attach_type, flags)
        attr = ctypes.create_string_buffer(_BPF_ATTR_SIZE)
        struct.pack_into("=IIIII", attr, 0, target_fd, prog_fd, attach_type, flags, replace_fd)
        self._bpf(_BPF_PROG_ATTACH, attr, f"BPF_PROG_ATTACH to fd {target_fd}")

    def bpf_prog_detach(self, target_fd: int, prog_fd: int, attach_type: int) -> None:
        log.debug("bpf(BPF_PROG_DETACH, fd %d from fd %d)", prog_fd, target_fd)
        attr = ctypes.create_string_buffer(_BPF_ATTR_SIZE)
        struct.pack_into("=III", attr, 0, target_fd, prog_fd, attach_type)
        self._bpf(_BPF_PROG_DETACH, attr, f"BPF_PROG_DETACH from fd {target_fd}")

    def bpf_prog_query(self, target_fd: int, attach_type: int) -> list[int]:
        ids = (ctypes.c_uint32 * 64)()
        attr = ctypes.create_string_buffer(_BPF_ATTR_SIZE)
        struct.pack_into("=IIIIQI", attr, 0, target_fd, attach_type, 0, 0,
                         ctypes.addressof(ids), len(ids))
        self._bpf(_BPF_PROG_QUERY, attr, f"BPF_PROG_QUERY of fd {target_fd}")
        count = struct.unpack_from("=I", attr, 24)[0]
        return [int(ids[index]) for index in range(min(count, len(ids)))]

    def bpf_prog_get_fd_by_id(self, prog_id: int) -> int:
        attr = ctypes.create_string_buffer(_BPF_ATTR_SIZE)
        struct.pack_into("=I", attr, 0, prog_id)
        return self._bpf(_BPF_PROG_GET_FD_BY_ID, attr, f"BPF_PROG_GET_FD_BY_ID {prog_id}")

    def inode_flags(self, fd: int) -> int:
        value = ctypes.c_int(0)
        result = _libc.ioctl(ctypes.c_int(fd), ctypes.c_ulong(_FS_IOC_GETFLAGS),
                             ctypes.byref(value))
        _check(result, "ioctl", f"FS_IOC_GETFLAGS of fd {fd}")
        return value.value & 0xFFFFFFFF

    def openat2(self, dirfd: int, path: str, flags: int, mode: int = 0, resolve: int = 0) -> int:
        log.debug("openat2(%d, %s, %#x, %#o, resolve %#x)", dirfd, path, flags, mode, resolve)
        how = _OpenHow(flags=flags, mode=mode, resolve=resolve)
        syscall = _libc.syscall
        syscall.restype = ctypes.c_long
        fd = int(syscall(ctypes.c_long(_SYS_OPENAT2), ctypes.c_int(dirfd), _b(path),
                         ctypes.byref(how), ctypes.c_size_t(ctypes.sizeof(how))))
        if fd < 0:
            raise SystemCallError("openat2", ctypes.get_errno(), path)
        return fd

    def set_inode_flags(self, fd: int, flags: int) -> None:
        log.debug("ioctl(%d, FS_IOC_SETFLAGS, %#x)", fd, flags)
        value = ctypes.c_int(ctypes.c_uint32(flags).value)
        result = _libc.ioctl(ctypes.c_int(fd), ctypes.c_ulong(_FS_IOC_SETFLAGS),
                             ctypes.byref(value))
        _check(result, "ioctl", f"FS_IOC_SETFLAGS {flags:#x} of fd {fd}")
