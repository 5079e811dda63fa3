"""Filters loaded in forked children: the kernel answers as the profile says."""

from __future__ import annotations

import ctypes
import errno
import json
import os
import signal
from pathlib import Path

import pytest

from dockyard.runtime.seccomp import Seccomp, SeccompSpec, SeccompSyscall
from dockyard.runtime.seccomp_profile import docker_profile
from dockyard.sys.linux import LinuxSyscalls

pytestmark = pytest.mark.root

PROFILE = Path("/usr/share/containers/seccomp.json")
DOCKER_CAPS = (
    "CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FSETID", "CAP_FOWNER", "CAP_MKNOD", "CAP_NET_RAW",
    "CAP_SETGID", "CAP_SETUID", "CAP_SETFCAP", "CAP_SETPCAP", "CAP_NET_BIND_SERVICE",
    "CAP_SYS_CHROOT", "CAP_KILL", "CAP_AUDIT_WRITE",
)  # fmt: skip
NR = {"getpid": 39, "kexec_load": 246, "add_key": 248, "acct": 163, "getppid": 110}


def _errnos_in_child(spec: SeccompSpec, calls: list[int]) -> tuple[int, list[int]]:
    """Loads ``spec`` in a child, makes each raw syscall (all-zero args); returns the wait
    status and each call's errno (0 when it succeeded)."""
    program = Seccomp(LinuxSyscalls()).compile(spec)
    read_fd, write_fd = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - child
        try:
            os.close(read_fd)
            libc = ctypes.CDLL(None, use_errno=True)
            Seccomp(LinuxSyscalls()).load(program)
            for nr in calls:
                ctypes.set_errno(0)
                result = libc.syscall(nr, 0, 0, 0, 0, 0)
                os.write(write_fd, b"%d\n" % (ctypes.get_errno() if result < 0 else 0))
        finally:
            os._exit(0)
    os.close(write_fd)
    with os.fdopen(read_fd, "rb") as pipe:
        answers = [int(line) for line in pipe.read().split()]
    _, status = os.waitpid(pid, 0)
    return status, answers


@pytest.mark.skipif(not PROFILE.exists(), reason="golang-github-containers-common not installed")
def test_docker_default_profile_blocks_with_the_errno_it_names() -> None:
    spec = docker_profile(json.loads(PROFILE.read_text()), DOCKER_CAPS)
    calls = [NR["getpid"], NR["kexec_load"], NR["acct"], NR["add_key"], 1000]
    status, answers = _errnos_in_child(spec, calls)
    assert os.waitstatus_to_exitcode(status) == 0
    assert answers == [0, errno.EPERM, errno.EPERM, errno.ENOSYS, errno.ENOSYS]


@pytest.mark.parametrize(
    ("architectures", "above"),
    [(("SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"), errno.ENOSYS), ((), errno.EPERM)],
)
def test_errno_default_and_enosys_stub(architectures: tuple[str, ...], above: int) -> None:
    """As runc: the ENOSYS stub covers the listed architectures only."""
    spec = SeccompSpec(
        default_action="SCMP_ACT_ERRNO",
        architectures=architectures,
        syscalls=(
            SeccompSyscall(
                names=("getpid", "write", "exit_group", "exit", "close", "syscall", "rt_sigreturn"),
                action="SCMP_ACT_ALLOW",
            ),
            SeccompSyscall(names=("add_key",), action="SCMP_ACT_ERRNO", errno_ret=errno.EACCES),
        ),
    )
    status, answers = _errnos_in_child(spec, [NR["getpid"], NR["getppid"], NR["add_key"], 1000])
    assert os.waitstatus_to_exitcode(status) == 0
    assert answers == [0, errno.EPERM, errno.EACCES, above]


@pytest.mark.parametrize("action", ["SCMP_ACT_KILL", "SCMP_ACT_KILL_PROCESS", "SCMP_ACT_TRAP"])
def test_kill_and_trap_end_the_process_with_sigsys(action: str) -> None:
    spec = SeccompSpec(
        default_action="SCMP_ACT_ALLOW",
        syscalls=(SeccompSyscall(names=("getppid",), action=action),),
    )
    status, answers = _errnos_in_child(spec, [NR["getpid"], NR["getppid"], NR["getpid"]])
    assert os.WIFSIGNALED(status) and os.WTERMSIG(status) == signal.SIGSYS
    assert answers == [0]
