"""Docker's profile format to OCI: rules by architecture, capability and kernel; the default
profile against what dockerd 20.10 writes (tests/fixtures/seccomp/, see its README)."""

from __future__ import annotations

import json
import platform
from pathlib import Path
from typing import Any

import pytest

from dockyard.containers import ocispec
from dockyard.containers.config import ContainerConfig, parse_host_config
from dockyard.containers.record import Container
from dockyard.containers.seccomp import DEFAULT_PROFILE, default_profile, load_profile, oci_seccomp
from dockyard.containers.users import ExecUser
from dockyard.errors import InvalidArgument, NotFound

FIXTURES = Path(__file__).parents[2] / "fixtures" / "seccomp"
CAPTURES = sorted(p.stem.removeprefix("dockerd-") for p in FIXTURES.glob("dockerd-*.json"))
# the HostConfig each capture's ``docker run`` options make
HOST_CONFIGS: dict[str, dict[str, Any]] = {
    "default": {}, "cap-add-sys-admin": {"CapAdd": ["SYS_ADMIN"]},
    "cap-add-syslog": {"CapAdd": ["SYSLOG"]}, "cap-add-sys-ptrace": {"CapAdd": ["SYS_PTRACE"]},
    "cap-drop-all": {"CapDrop": ["ALL"]}, "privileged": {"Privileged": True},
}  # fmt: skip

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
        {"names": ["old"], "action": "SCMP_ACT_ALLOW", "excludes": {"minKernel": "6.18"}},
        {"names": ["personality"], "action": "SCMP_ACT_ALLOW",
         "args": [{"index": 0, "value": 8, "valueTwo": 0, "op": "SCMP_CMP_EQ"}]},
        {"names": ["modify_ldt"], "action": "SCMP_ACT_ALLOW", "includes": {"arches": ["x86"]}},
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
    old = oci_seccomp(PROFILE, [], machine="i686", kernel="6.17")
    assert old["architectures"] == []  # no archMap entry for x86: libseccomp's native one
    assert [r["names"][0] for r in old["syscalls"]] == [
        "read", "chroot", "old", "personality", "modify_ldt"]


def test_name_architectures_and_kernel_checks() -> None:
    single = {"defaultAction": "SCMP_ACT_ALLOW", "architectures": ["SCMP_ARCH_X86_64"],
              "syscalls": [{"name": "mount", "action": "SCMP_ACT_ERRNO"}]}
    assert oci_seccomp(single, [], machine="aarch64") == {
        "defaultAction": "SCMP_ACT_ALLOW", "architectures": ["SCMP_ARCH_X86_64"],
        "syscalls": [{"names": ["mount"], "action": "SCMP_ACT_ERRNO"}]}
    both = {**single, "archMap": PROFILE["archMap"]}
    with pytest.raises(InvalidArgument, match="'architectures' and 'archMap'"):
        oci_seccomp(both, [], machine="x86_64")
    named = {"syscalls": [{"name": "a", "names": ["b"], "action": "SCMP_ACT_ALLOW"}]}
    with pytest.raises(InvalidArgument, match="'name' and 'names'"):
        oci_seccomp(named, [], machine="x86_64")
    for bad in ("4", "4.8.1", "0.0", "four.8"):
        kernel = {"syscalls": [{"names": ["a"], "action": "SCMP_ACT_ALLOW",
                                "includes": {"minKernel": bad}}]}
        with pytest.raises(InvalidArgument, match=f'invalid kernel version: "{bad}"'):
            oci_seccomp(kernel, [], machine="x86_64", kernel="6.1")


def test_load_profile() -> None:
    assert load_profile('{"defaultAction": "SCMP_ACT_LOG"}') == {"defaultAction": "SCMP_ACT_LOG"}
    with pytest.raises(InvalidArgument, match=r"Error loading seccomp profile p\.json: "):
        load_profile("{", "p.json")
    with pytest.raises(InvalidArgument, match="not a json object"):
        load_profile("[]")
    with pytest.raises(NotFound, match="the default seccomp profile /nonexistent is missing"):
        default_profile(Path("/nonexistent"))


def capture(name: str) -> dict[str, Any]:
    value: dict[str, Any] = json.loads((FIXTURES / f"dockerd-{name}.json").read_text())
    return value


def test_the_captures_are_there() -> None:
    assert sorted(HOST_CONFIGS) == CAPTURES
    assert DEFAULT_PROFILE.parent == Path(ocispec.__file__).parent  # package data


@pytest.mark.parametrize("name", [n for n in CAPTURES if n != "privileged"])
def test_default_profile_as_dockerd_writes_it(name: str) -> None:
    """Whole values: dockerd's output is deterministic (the profile's order, not a map's)."""
    theirs = capture(name)
    ours = oci_seccomp(default_profile(), theirs["bounding"], machine="x86_64", kernel="6.1.0")
    assert ours == theirs["seccomp"]


@pytest.mark.skipif(platform.machine() != "x86_64", reason="dockerd's captures are for x86_64")
@pytest.mark.parametrize("name", CAPTURES)
def test_spec_seccomp_as_dockerd_writes_it(name: str) -> None:
    """Through the spec builder: the capabilities of the options, and none for --privileged."""
    host = parse_host_config(HOST_CONFIGS[name], default_runtime="dockyard",
                             runtimes=("dockyard",))
    container = Container(id="c" * 64, name="/n", created="", image_id="sha256:x",
                          config=ContainerConfig(cmd=("sh",)), host=host)
    paths = ocispec.Paths(rootfs="rootfs", hostname="hostname", hosts="hosts",
                          resolv_conf="resolv.conf", netns="/run/dockyard/netns/x")
    spec = ocispec.build(container, ExecUser(0, 0, (0,)), paths, "cccccccccccc")
    assert spec["linux"].get("seccomp") == capture(name)["seccomp"]


def test_default_profile_confines_like_docker() -> None:
    """What issue #6 was about: podman's profile let these through unconditionally."""
    rules = oci_seccomp(default_profile(), capture("default")["bounding"], machine="x86_64",
                        kernel="6.1")["syscalls"]
    plain = {n for r in rules if r["action"] == "SCMP_ACT_ALLOW" and "args" not in r
             for n in r["names"]}
    for name in ("unshare", "mount", "umount2", "setns", "pivot_root", "keyctl", "syslog",
                 "clone", "clone3", "bpf", "kexec_load", "add_key"):
        assert name not in plain, name
    assert {"names": ["clone3"], "action": "SCMP_ACT_ERRNO", "errnoRet": 38} in rules
    assert {"names": ["clone"], "action": "SCMP_ACT_ALLOW",
            "args": [{"index": 0, "value": 0x7E020000, "op": "SCMP_CMP_MASKED_EQ"}]} in rules


def test_unconfined_and_a_given_profile() -> None:
    def spec_seccomp(option: str) -> Any:
        host = parse_host_config({"SecurityOpt": [option]}, default_runtime="dockyard",
                                 runtimes=("dockyard",))
        container = Container(id="c" * 64, name="/n", created="", image_id="sha256:x",
                              config=ContainerConfig(cmd=("sh",)), host=host)
        paths = ocispec.Paths(rootfs="r", hostname="h", hosts="o", resolv_conf="c", netns="/n")
        return ocispec.build(container, ExecUser(0, 0, (0,)), paths, "c")["linux"].get("seccomp")

    assert spec_seccomp("seccomp=unconfined") is None
    given = {"defaultAction": "SCMP_ACT_ALLOW",
             "syscalls": [{"names": ["unshare"], "action": "SCMP_ACT_ERRNO", "errnoRet": 1}]}
    assert spec_seccomp("seccomp=" + json.dumps(given)) == {
        "defaultAction": "SCMP_ACT_ALLOW", "architectures": [],
        "syscalls": [{"names": ["unshare"], "action": "SCMP_ACT_ERRNO", "errnoRet": 1}]}
