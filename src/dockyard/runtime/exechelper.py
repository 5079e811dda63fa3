"""The last execve of a container process goes through a sealed in-memory program
(CVE-2019-5736).

The init is the runtime's Python interpreter until its final execve(2). If that execve runs
``/proc/self/exe`` (as the program, or as the ``#!`` interpreter of a script in the image),
the kernel resolves it to the *host's* interpreter binary, which the container could then
open through /proc/<pid>/exe and overwrite once it exits. runc closed this by running from a
sealed memfd copy of itself; this module does the same for the one step that matters: the
init execs a 45-byte static program from a sealed memfd, and that program execs the real
target. A ``/proc/self/exe`` in the target then names the sealed memfd, which nobody can
write. Everything before (the init is non-dumpable) is covered in ``init.py``.

The program, x86_64 (``helper argv = [path, arg0, arg1, ...]``)::

    _start: mov  (%rsp), %rax          ; argc
            cmp  $2, %rax
            jb   fail                  ; nothing to run
            mov  8(%rsp), %rdi         ; path = argv[0]
            lea  16(%rsp), %rsi        ; argv = &argv[1]
            lea  16(%rsp,%rax,8), %rdx ; envp = &argv[argc + 1]
            mov  $59, %eax             ; execve
            syscall
    fail:   mov  $127, %edi
            mov  $60, %eax             ; exit(127)
            syscall

On other machines the init executes the target directly (and says so in the debug log).
"""

from __future__ import annotations

import os
import struct

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import NoReturn

_CODE_X86_64 = bytes.fromhex(
    "488b0424" "4883f802" "7216" "488b7c2408" "488d742410" "488d54c410" "b83b000000" "0f05"
    "bf7f000000" "b83c000000" "0f05"
)
_BASE = 0x400000
_HEADERS = 64 + 56  # ELF64 header and one program header
F_SEAL_SEAL, F_SEAL_SHRINK, F_SEAL_GROW, F_SEAL_WRITE = 0x1, 0x2, 0x4, 0x8


def elf(code: bytes, machine: int = 62) -> bytes:
    """A static ELF64 executable whose one loadable segment is the headers plus ``code``."""
    size = _HEADERS + len(code)
    header = struct.pack(
        "<4sBBBBB7xHHIQQQIHHHHHH",
        b"\x7fELF", 2, 1, 1, 0, 0,  # 64-bit, little endian, version 1, System V ABI
        2, machine, 1,  # ET_EXEC, e_machine, EV_CURRENT
        _BASE + _HEADERS, 64, 0,  # entry, program headers at 64, no section headers
        0, 64, 56, 1, 64, 0, 0,  # flags, sizes, one program header
    )
    program = struct.pack("<IIQQQQQQ", 1, 5, 0, _BASE, _BASE, size, size, 0x1000)  # R+X
    return header + program + code


def program() -> bytes | None:
    """The helper for this machine, or None where there is none."""
    if os.uname().machine == "x86_64":
        return elf(_CODE_X86_64)
    return None


def sealed_copy() -> int:
    """A close-on-exec memfd holding the helper, sealed against any change; -1 if none."""
    code = program()
    if code is None:
        return -1
    import fcntl

    fd = os.memfd_create("dockyard-runtime-exec", os.MFD_CLOEXEC | os.MFD_ALLOW_SEALING)
    try:
        os.write(fd, code)
        fcntl.fcntl(fd, fcntl.F_ADD_SEALS,
                    F_SEAL_SEAL | F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE)
    except BaseException:
        os.close(fd)
        raise
    return fd


def execve(helper: int, path: str, argv: list[str], env: dict[str, str]) -> NoReturn:
    """execve ``path`` through ``helper`` (fexecve of the memfd); directly when it is -1."""
    if helper < 0:
        from dockyard.runtime.log import debug

        debug(__name__, "no exec helper for %s: executing %s directly", os.uname().machine,
              path)
        os.execve(path, argv, env)
    os.execve(helper, [path, *argv], env)
