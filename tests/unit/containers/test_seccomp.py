"""Docker's profile format to OCI: rules by architecture, capability and kernel."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from dockyard.containers.ocispec import DEFAULT_CAPS
from dockyard.containers.seccomp import DEFAULT_PROFILE, default_profile, oci_seccomp

FIXTURE = Path(__file__).parents[2] / "fixtures" / "runtime" / "dockerd-busybox-config.json"

PROFILE = {
    "defaultAction": "SCMP_ACT_ERRNO", "defaultErrnoRet": 1,
    "archMap": [{"architecture": "SCMP_ARCH_X86_64",
                 "subArchitectures": ["SCMP_ARCH_X86", "SCMP_ARCH_X32"]},
                {"architecture": "SCMP_ARCH_AARCH64", "subArchitectures": ["SCMP_ARCH_ARM"]}],
    "syscalls": [
        {"names": ["read", "write"], "action": "SCMP_ACT_ALLOW", "args": []},
        {"names": ["arch_prctl"], "action": "SCMP_ACT_ALLOW", "includes": {"arches": ["amd64"]}},
        {"names": ["chroot"], "action": "SCMP_ACT_ALLOW",
         "includes": {"caps": ["CAP_SYS_CHROOT"]}},
        {"names": ["chroot"], "action": "SCMP_ACT_ERRNO", "errnoRet": 1,
         "excludes": {"caps": ["CAP_SYS_CHROOT"]}},
        {"names": ["new"], "action": "SCMP_ACT_ALLOW", "includes": {"minKernel": "7.0"}},
        {"names": ["personality"], "action": "SCMP_ACT_ALLOW",
         "args": [{"index": 0, "value": 8, "valueTwo": 0, "op": "SCMP_CMP_EQ"}]},
    ],
}


def test_conditions() -> None:
    out = oci_seccomp(PROFILE, ["CAP_SYS_CHROOT"], machine="x86_64", kernel="6.18.44-fc")
    assert out == {
        "defaultAction": "SCMP_ACT_ERRNO", "defaultErrnoRet": 1,
        "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"],
        "syscalls": [
            {"names": ["read", "write"], "action": "SCMP_ACT_ALLOW"},
            {"names": ["arch_prctl"], "action": "SCMP_ACT_ALLOW"},
            {"names": ["chroot"], "action": "SCMP_ACT_ALLOW"},
            {"names": ["personality"], "action": "SCMP_ACT_ALLOW",
             "args": [{"index": 0, "value": 8, "op": "SCMP_CMP_EQ"}]},
        ],
    }
    arm = oci_seccomp(PROFILE, [], machine="aarch64", kernel="7.1")
    assert arm["architectures"] == ["SCMP_ARCH_AARCH64", "SCMP_ARCH_ARM"]
    assert [r["names"][0] for r in arm["syscalls"]] == ["read", "chroot", "new", "personality"]
    assert arm["syscalls"][1] == {"names": ["chroot"], "action": "SCMP_ACT_ERRNO", "errnoRet": 1}


@pytest.mark.skipif(not DEFAULT_PROFILE.exists(), reason="no /usr/share/containers/seccomp.json")
def test_default_profile_like_dockerd() -> None:
    ours = oci_seccomp(default_profile(), DEFAULT_CAPS, machine="x86_64")
    theirs = json.loads(FIXTURE.read_text())["linux"]["seccomp"]
    assert ours["defaultAction"] == theirs["defaultAction"]
    assert ours["architectures"] == theirs["architectures"]
    allowed = {n for r in ours["syscalls"] if r["action"] == "SCMP_ACT_ALLOW" and "args" not in r
               for n in r["names"]}
    theirs_allowed = {n for r in theirs["syscalls"] if r["action"] == "SCMP_ACT_ALLOW"
                      and "args" not in r for n in r["names"]}
    # Debian's file is podman's copy of the profile: it leaves namespace and mount calls to the
    # capability checks (dockerd 20.10's gates them by CAP_SYS_ADMIN in the filter too), and
    # dockerd 20.10 lets a few newer calls through that the file does not name
    assert allowed - theirs_allowed <= PODMAN_ONLY
    assert theirs_allowed - allowed <= DOCKERD_ONLY
    assert "chroot" in allowed and "bpf" not in allowed and "kexec_load" not in allowed


PODMAN_ONLY = {
    "clone", "clone3", "fsconfig", "fsmount", "fsopen", "fspick", "get_mempolicy", "keyctl",
    "mbind", "mount", "mount_setattr", "move_mount", "name_to_handle_at", "open_tree",
    "pidfd_getfd", "pivot_root", "pkey_alloc", "pkey_free", "pkey_mprotect",
    "process_vm_readv", "process_vm_writev", "readdir", "reboot", "set_mempolicy", "setns",
    "sigaction", "signal", "sigpending", "sigsuspend", "syscall", "syslog", "timerfd", "umount",
    "umount2", "unshare",
}
DOCKERD_ONLY = {
    "futex_waitv", "io_pgetevents", "io_pgetevents_time64", "io_uring_enter",
    "io_uring_register", "io_uring_setup", "vmsplice",
}
