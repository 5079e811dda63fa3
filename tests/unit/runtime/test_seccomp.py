from __future__ import annotations

import errno
import json
from pathlib import Path

import pytest

from dockyard.errors import InvalidArgument, Unsupported
from dockyard.runtime.seccomp import Program, Seccomp, SeccompArg, SeccompSpec, SeccompSyscall
from dockyard.runtime.seccomp_profile import docker_profile, parse_spec
from dockyard.sys import libseccomp as scmp
from dockyard.sys.recording import Call, RecordingSyscalls

from .bpf import AUDIT_ARCH_I386, run, seccomp_data

ALLOW = scmp.ACT_ALLOW
EPERM = scmp.ACT_ERRNO | errno.EPERM
ENOSYS = scmp.ACT_ERRNO | errno.ENOSYS
X86 = ("SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32")
NR = {"getpid": 39, "personality": 135, "mount": 165, "socket": 41, "clone3": 435, "acct": 163,
      "kexec_load": 246, "swapon": 167, "add_key": 248}  # fmt: skip
PROFILE = Path("/usr/share/containers/seccomp.json")
DOCKER_CAPS = (
    "CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FSETID", "CAP_FOWNER", "CAP_MKNOD", "CAP_NET_RAW",
    "CAP_SETGID", "CAP_SETUID", "CAP_SETFCAP", "CAP_SETPCAP", "CAP_NET_BIND_SERVICE",
    "CAP_SYS_CHROOT", "CAP_KILL", "CAP_AUDIT_WRITE",
)  # fmt: skip


def compile_(spec: SeccompSpec) -> Program:
    return Seccomp(RecordingSyscalls()).compile(spec)


def verdict(program: Program, name_or_nr: str | int, *args: int, arch: int | None = None) -> int:
    nr = NR[name_or_nr] if isinstance(name_or_nr, str) else name_or_nr
    data = seccomp_data(nr, args=args) if arch is None else seccomp_data(nr, arch, args)
    return run(program.bpf, data)


def allow_list(default: str = "SCMP_ACT_ERRNO", **more: object) -> SeccompSpec:
    return SeccompSpec(
        default_action=default,
        architectures=X86,
        syscalls=(
            SeccompSyscall(names=("getpid", "no_such_syscall"), action="SCMP_ACT_ALLOW"),
            SeccompSyscall(names=("mount",), action="SCMP_ACT_ERRNO", errno_ret=errno.EACCES),
            SeccompSyscall(
                names=("personality",),
                action="SCMP_ACT_ALLOW",
                args=(
                    SeccompArg(index=0, value=8, op="SCMP_CMP_EQ"),
                    SeccompArg(index=0, value=0, op="SCMP_CMP_EQ"),
                ),
            ),
            SeccompSyscall(
                names=("socket",),
                action="SCMP_ACT_ALLOW",
                args=(
                    SeccompArg(index=0, value=1, op="SCMP_CMP_EQ"),
                    SeccompArg(index=2, value=0, op="SCMP_CMP_EQ"),
                ),
            ),
        ),
        **more,  # type: ignore[arg-type]
    )


def test_actions_errno_and_conditions() -> None:
    program = compile_(allow_list())
    assert verdict(program, "getpid") == ALLOW
    assert verdict(program, "mount") == scmp.ACT_ERRNO | errno.EACCES
    # two conditions on argument 0: either matches (runc splits them into two rules)
    assert [verdict(program, "personality", v) for v in (0, 8, 9)] == [ALLOW, ALLOW, EPERM]
    # conditions on different arguments: all must hold
    assert [verdict(program, "socket", *a) for a in ((1, 0, 0), (1, 0, 6), (2, 0, 0))] == [
        ALLOW,
        EPERM,
        EPERM,
    ]


def test_enosys_stub_answers_numbers_above_the_profile() -> None:
    program = compile_(allow_list())
    assert verdict(program, 1000) == ENOSYS
    assert verdict(program, "clone3") == ENOSYS  # 435 > socket (41) ... personality (135)
    assert verdict(program, 100) == EPERM  # below the highest named: the default action
    assert verdict(program, 20, arch=AUDIT_ARCH_I386) == ALLOW  # getpid on i386
    assert verdict(program, 400, arch=AUDIT_ARCH_I386) == ENOSYS
    assert verdict(program, 39 | 1 << 30) == ALLOW  # x32 getpid
    assert verdict(program, 600 | 1 << 30) == ENOSYS


def test_no_stub_when_the_default_allows() -> None:
    program = compile_(allow_list("SCMP_ACT_ALLOW"))
    assert verdict(program, 1000) == ALLOW
    assert verdict(program, "mount") == scmp.ACT_ERRNO | errno.EACCES


def test_default_errno_ret_and_kill_actions() -> None:
    spec = SeccompSpec(default_action="SCMP_ACT_ERRNO", default_errno_ret=errno.EACCES, syscalls=(
        SeccompSyscall(names=("getpid",), action="SCMP_ACT_KILL"),
        SeccompSyscall(names=("mount",), action="SCMP_ACT_KILL_PROCESS"),
        SeccompSyscall(names=("socket",), action="SCMP_ACT_TRAP"),
        SeccompSyscall(names=("personality",), action="SCMP_ACT_LOG"),
        SeccompSyscall(names=("clone3",), action="SCMP_ACT_TRACE"),
    ))  # fmt: skip
    program = compile_(spec)
    assert verdict(program, "getpid") == scmp.ACT_KILL_THREAD
    assert verdict(program, "mount") == scmp.ACT_KILL_PROCESS
    assert verdict(program, "socket") == scmp.ACT_TRAP
    assert verdict(program, "personality") == scmp.ACT_LOG
    assert verdict(program, "clone3") == scmp.ACT_TRACE | errno.EPERM
    assert verdict(program, 3) == scmp.ACT_ERRNO | errno.EACCES


def test_a_rule_equal_to_the_default_is_skipped() -> None:
    spec = SeccompSpec(
        default_action="SCMP_ACT_ALLOW",
        syscalls=(SeccompSyscall(names=("getpid",), action="SCMP_ACT_ALLOW"),),
    )
    assert verdict(compile_(spec), "getpid") == ALLOW


def test_load_passes_the_program_and_flags() -> None:
    sys = RecordingSyscalls()
    seccomp = Seccomp(sys)
    program = seccomp.compile(allow_list(flags=("SECCOMP_FILTER_FLAG_LOG",)))
    seccomp.load(program)
    assert program.flags == 2
    assert sys.calls == [Call("seccomp_set_filter", (program.bpf, 2))]


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        (
            SeccompSpec(default_action="SCMP_ACT_BOGUS"),
            "linux.seccomp.defaultAction: unknown seccomp action",
        ),
        (
            SeccompSpec(
                default_action="SCMP_ACT_ALLOW",
                syscalls=(SeccompSyscall(names=("getpid",), action="ALLOW"),),
            ),
            "linux.seccomp.syscalls[0].action: unknown seccomp action 'ALLOW'",
        ),
        (
            SeccompSpec(
                default_action="SCMP_ACT_ALLOW",
                syscalls=(
                    SeccompSyscall(names=("getpid",), action="SCMP_ACT_ERRNO"),
                    SeccompSyscall(
                        names=("mount",),
                        action="SCMP_ACT_ERRNO",
                        args=(SeccompArg(index=0, value=1, op="EQ"),),
                    ),
                ),
            ),
            "linux.seccomp.syscalls[1].args[0].op: unknown seccomp operator 'EQ'",
        ),
        (
            SeccompSpec(
                default_action="SCMP_ACT_ALLOW",
                syscalls=(
                    SeccompSyscall(
                        names=("mount",),
                        action="SCMP_ACT_ERRNO",
                        args=(SeccompArg(index=6, value=1, op="SCMP_CMP_EQ"),),
                    ),
                ),
            ),
            "linux.seccomp.syscalls[0].args[0].index: 6 is not 0..5",
        ),
        (
            SeccompSpec(default_action="SCMP_ACT_ALLOW", architectures=("SCMP_ARCH_VAX",)),
            "linux.seccomp.architectures[0]: unknown architecture 'SCMP_ARCH_VAX'",
        ),
        (
            SeccompSpec(default_action="SCMP_ACT_ALLOW", flags=("SECCOMP_FILTER_FLAG_FOO",)),
            "linux.seccomp.flags[0]: unknown flag",
        ),
        (
            SeccompSpec(
                default_action="SCMP_ACT_ALLOW",
                syscalls=(SeccompSyscall(names=("",), action="SCMP_ACT_ERRNO"),),
            ),
            "linux.seccomp.syscalls[0].names: empty syscall name",
        ),
    ],
)
def test_a_bad_rule_is_an_error_naming_it(spec: SeccompSpec, message: str) -> None:
    with pytest.raises(InvalidArgument, match=message.replace("[", r"\[").replace("]", r"\]")):
        compile_(spec)


def test_notify_is_unsupported() -> None:
    spec = SeccompSpec(
        default_action="SCMP_ACT_ALLOW",
        syscalls=(SeccompSyscall(names=("mount",), action="SCMP_ACT_NOTIFY"),),
    )
    with pytest.raises(Unsupported, match=r"syscalls\[0\].action"):
        compile_(spec)


def test_parse_spec_reads_the_oci_object_and_names_bad_fields() -> None:
    obj = {
        "defaultAction": "SCMP_ACT_ERRNO",
        "defaultErrnoRet": 1,
        "architectures": ["SCMP_ARCH_X86_64"],
        "syscalls": [
            {"names": ["personality"], "action": "SCMP_ACT_ALLOW",
             "args": [{"index": 0, "value": 8, "op": "SCMP_CMP_EQ"}]},
        ],
    }  # fmt: skip
    assert parse_spec(obj) == SeccompSpec(
        default_action="SCMP_ACT_ERRNO",
        default_errno_ret=1,
        architectures=("SCMP_ARCH_X86_64",),
        syscalls=(
            SeccompSyscall(
                names=("personality",),
                action="SCMP_ACT_ALLOW",
                args=(SeccompArg(index=0, value=8, op="SCMP_CMP_EQ"),),
            ),
        ),
    )
    with pytest.raises(InvalidArgument, match=r"linux.seccomp.syscalls\[0\].args\[0\].index"):
        bad_arg = {"index": "0", "value": 1, "op": "x"}
        call = {"names": ["a"], "action": "SCMP_ACT_ERRNO", "args": [bad_arg]}
        parse_spec({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [call]})


@pytest.mark.skipif(not PROFILE.exists(), reason="golang-github-containers-common not installed")
def test_docker_default_profile_resolves_and_blocks_what_it_blocks() -> None:
    spec = docker_profile(json.loads(PROFILE.read_text()), DOCKER_CAPS, arch="amd64", kernel="6.1")
    assert spec.architectures == X86
    program = compile_(spec)
    assert verdict(program, "getpid") == ALLOW
    assert verdict(program, "mount") == ALLOW  # podman's profile leaves mount to capabilities
    assert verdict(program, "kexec_load") == EPERM  # listed with errnoRet 1
    assert verdict(program, "swapon") == EPERM
    assert verdict(program, "acct") == EPERM  # CAP_SYS_PACCT missing: the excludes group
    assert verdict(program, "add_key") == ENOSYS  # not listed: the default, errno 38
    assert verdict(program, "personality", 8) == ALLOW
    assert verdict(program, "personality", 7) == ENOSYS
    assert verdict(program, 1000) == ENOSYS
    pacct = docker_profile(
        json.loads(PROFILE.read_text()), (*DOCKER_CAPS, "CAP_SYS_PACCT"), arch="amd64", kernel="6.1"
    )
    assert verdict(compile_(pacct), "acct") == ALLOW


def test_docker_profile_includes_and_excludes() -> None:
    profile = {
        "defaultAction": "SCMP_ACT_ERRNO",
        "archMap": [
            {"architecture": "SCMP_ARCH_X86_64", "subArchitectures": ["SCMP_ARCH_X86"]},
            {"architecture": "SCMP_ARCH_AARCH64", "subArchitectures": ["SCMP_ARCH_ARM"]},
        ],
        "syscalls": [
            {"names": ["a"], "action": "SCMP_ACT_ALLOW", "includes": {"caps": ["CAP_X", "CAP_Y"]}},
            {"names": ["b"], "action": "SCMP_ACT_ALLOW", "excludes": {"caps": ["CAP_X"]}},
            {"names": ["c"], "action": "SCMP_ACT_ALLOW", "includes": {"arches": ["arm64"]}},
            {"names": ["d"], "action": "SCMP_ACT_ALLOW", "includes": {"minKernel": "5.8"}},
            {"names": ["e"], "action": "SCMP_ACT_ALLOW", "excludes": {"minKernel": "5.8"}},
            {"names": ["f"], "action": "SCMP_ACT_ALLOW", "excludes": {"arches": ["amd64"]}},
        ],
    }
    spec = docker_profile(profile, ["CAP_X"], arch="amd64", kernel="5.10.0-21-amd64")
    assert spec.architectures == ("SCMP_ARCH_X86_64", "SCMP_ARCH_X86")
    assert [call.names for call in spec.syscalls] == [("d",)]
    spec = docker_profile(profile, ["CAP_X", "CAP_Y"], arch="arm64", kernel="5.4")
    assert spec.architectures == ("SCMP_ARCH_AARCH64", "SCMP_ARCH_ARM")
    assert [call.names for call in spec.syscalls] == [("a",), ("c",), ("e",), ("f",)]
