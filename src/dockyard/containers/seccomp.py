"""Docker's seccomp profiles (the default one, or one given with ``--security-opt
seccomp=<json>``) turned into the OCI ``linux.seccomp`` value, as moby's ``setupSeccomp`` does.

A profile lists rules with conditions: ``includes``/``excludes`` on architectures
(libseccomp's native names, as moby maps GOARCH: amd64, arm64, x86, ...), capabilities (of the
bounding set) and a minimum kernel ("<kernel>.<major>"). A rule applies when none of its
excluded capabilities is granted, all of its included ones are, the architecture matches and
the kernel is new enough (an ``excludes.minKernel`` drops the rule from that kernel on).

The default profile, ``seccomp_default.json`` beside this module, is the one dockerd 20.10
applies (moby ``profiles/seccomp`` at v20.10.24, checked against what the dockerd on the
development VM writes: ``tests/fixtures/seccomp/``). Unlike podman's copy in
``/usr/share/containers/seccomp.json``, it refuses keyctl, add_key and pivot_root outright,
allows mount, umount2, unshare, setns (and bpf, sethostname, ...) only with CAP_SYS_ADMIN and
syslog only with CAP_SYSLOG or CAP_SYS_ADMIN, allows ``clone`` without CAP_SYS_ADMIN only when
no CLONE_NEW* flag is set, and then answers ``clone3`` with ENOSYS so the C library falls back
to ``clone``. Newer moby versions differ: 23 has ``defaultErrnoRet`` 1, refuses AF_ALG and
AF_VSOCK sockets, allows process_vm_readv/writev from kernel 4.8 and has rules for CAP_BPF and
CAP_PERFMON; 25 refuses io_uring; later ones allow calls added since (cachestat, fchmodat2,
map_shadow_stack, ...).
"""

from __future__ import annotations

import functools
import json
import os
import platform
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from dockyard.errors import InvalidArgument, NotFound

DEFAULT_PROFILE = Path(__file__).with_name("seccomp_default.json")
# uname's machine names to libseccomp's native names (moby's goToNative of GOARCH)
NATIVE_ARCH = {"x86_64": "amd64", "aarch64": "arm64", "armv7l": "arm", "armv6l": "arm",
               "i686": "x86", "i386": "x86", "ppc64le": "ppc64le", "s390x": "s390x",
               "riscv64": "riscv64"}
SECCOMP_ARCH = {"amd64": "SCMP_ARCH_X86_64", "arm64": "SCMP_ARCH_AARCH64", "x86": "SCMP_ARCH_X86",
                "arm": "SCMP_ARCH_ARM", "ppc64le": "SCMP_ARCH_PPC64LE", "s390x": "SCMP_ARCH_S390X",
                "riscv64": "SCMP_ARCH_RISCV64"}


@functools.cache
def default_profile(path: Path = DEFAULT_PROFILE) -> Mapping[str, Any]:
    try:
        return load_profile(path.read_text(), str(path))
    except FileNotFoundError as exc:
        raise NotFound(f"the default seccomp profile {path} is missing "
                       "(it is package data of dockyard.containers)") from exc


def load_profile(text: str, what: str = "seccomp profile") -> Mapping[str, Any]:
    try:
        profile = json.loads(text)
    except ValueError as exc:
        raise InvalidArgument(f"Error loading seccomp profile {what}: {exc}") from exc
    if not isinstance(profile, dict):
        raise InvalidArgument(f"Error loading seccomp profile {what}: not a json object")
    return profile


def oci_seccomp(profile: Mapping[str, Any], capabilities: Sequence[str],
                machine: str | None = None, kernel: str | None = None) -> dict[str, Any]:
    """The OCI value for a container whose bounding set is ``capabilities`` (CAP_ names), on
    ``machine`` (uname's name) with ``kernel`` (a release); both default to this host's."""
    arch = NATIVE_ARCH.get(machine or platform.machine(), machine or "")
    out: dict[str, Any] = {"defaultAction": profile.get("defaultAction", "SCMP_ACT_ERRNO")}
    if profile.get("defaultErrnoRet") is not None:  # moby 23 and later; 20.10 ignores it
        out["defaultErrnoRet"] = profile["defaultErrnoRet"]
    out["architectures"] = _architectures(profile, arch)
    granted = set(capabilities)
    release = _kernel(kernel or os.uname().release)
    out["syscalls"] = [_syscall(rule) for rule in profile.get("syscalls") or ()
                       if _applies(rule, arch, granted, release)]
    return out


def _architectures(profile: Mapping[str, Any], arch: str) -> list[str]:
    """``architectures`` as given, or the native entry of ``archMap`` with its
    sub-architectures; both at once is an error, as in moby."""
    if profile.get("architectures") and profile.get("archMap"):
        raise InvalidArgument("'architectures' and 'archMap' were specified in the seccomp "
                              "profile, use either 'architectures' or 'archMap'")
    arches = list(profile.get("architectures") or ())
    native = SECCOMP_ARCH.get(arch, "")
    for entry in profile.get("archMap") or ():
        if native and entry.get("architecture") == native:
            arches += [entry["architecture"], *(entry.get("subArchitectures") or ())]
            break
    return arches


def _syscall(rule: Mapping[str, Any]) -> dict[str, Any]:
    if rule.get("name") and rule.get("names"):
        raise InvalidArgument("'name' and 'names' were specified in the seccomp profile, "
                              "use either 'name' or 'names'")
    names = list(rule.get("names") or ([rule["name"]] if rule.get("name") else []))
    entry: dict[str, Any] = {"names": names, "action": rule.get("action", "")}
    args = [_arg(a) for a in rule.get("args") or ()]
    if args:
        entry["args"] = args
    if rule.get("errnoRet") is not None:
        entry["errnoRet"] = rule["errnoRet"]
    return entry


def _applies(rule: Mapping[str, Any], arch: str, granted: set[str],
             release: tuple[int, int]) -> bool:
    excludes = rule.get("excludes") or {}
    includes = rule.get("includes") or {}
    if arch in (excludes.get("arches") or ()):
        return False
    if any(cap in granted for cap in excludes.get("caps") or ()):
        return False
    if excludes.get("minKernel") and release >= _min_kernel(excludes["minKernel"]):
        return False
    if includes.get("arches") and arch not in includes["arches"]:
        return False
    if any(cap not in granted for cap in includes.get("caps") or ()):
        return False
    return not (includes.get("minKernel") and release < _min_kernel(includes["minKernel"]))


def _arg(arg: Mapping[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {"index": arg.get("index", 0), "value": arg.get("value", 0)}
    if arg.get("valueTwo"):
        out["valueTwo"] = arg["valueTwo"]
    out["op"] = arg.get("op", "")
    return out


def _min_kernel(value: object) -> tuple[int, int]:
    """A rule's minKernel, "<kernel>.<major>" as moby takes it."""
    parts = str(value).split(".")
    if len(parts) != 2 or not all(p.isdigit() for p in parts) or set(parts) == {"0"}:
        raise InvalidArgument(f'invalid kernel version: "{value}", expected "<kernel>.<major>"')
    return int(parts[0]), int(parts[1])


def _kernel(release: str) -> tuple[int, int]:
    """The host's kernel and major revision: "6.18.44-fc" is (6, 18), as moby compares."""
    numbers = []
    for part in [*release.split("-", maxsplit=1)[0].split("."), "0", "0"][:2]:
        digits = "".join(c for c in part if c.isdigit())
        numbers.append(int(digits or 0))
    return numbers[0], numbers[1]
