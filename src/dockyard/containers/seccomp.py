"""Docker's seccomp profiles (the default one, or one given with ``--security-opt
seccomp=<json>``) turned into the OCI ``linux.seccomp`` value, as moby's ``setupSeccomp`` does.

A profile lists rules with conditions: ``includes``/``excludes`` on architectures (Go's
names: amd64, arm64, ...), capabilities and a minimum kernel. A rule applies when none of its
excluded capabilities is granted, all of its included ones are, the architecture matches and
the kernel is new enough. The default profile is Debian's copy of the one Docker and podman
share, ``/usr/share/containers/seccomp.json``.
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

DEFAULT_PROFILE = Path("/usr/share/containers/seccomp.json")
GO_ARCH = {"x86_64": "amd64", "aarch64": "arm64", "armv7l": "arm", "i686": "386",
           "ppc64le": "ppc64le", "s390x": "s390x", "riscv64": "riscv64"}
SECCOMP_ARCH = {"amd64": "SCMP_ARCH_X86_64", "arm64": "SCMP_ARCH_AARCH64", "386": "SCMP_ARCH_X86",
                "arm": "SCMP_ARCH_ARM", "ppc64le": "SCMP_ARCH_PPC64LE", "s390x": "SCMP_ARCH_S390X",
                "riscv64": "SCMP_ARCH_RISCV64"}


@functools.cache
def default_profile(path: Path = DEFAULT_PROFILE) -> Mapping[str, Any]:
    try:
        return load_profile(path.read_text(), str(path))
    except FileNotFoundError as exc:
        raise NotFound(f"the default seccomp profile {path} is missing "
                       "(Debian's golang-github-containers-common)") from exc


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
    """The OCI value for a container granted ``capabilities`` (CAP_ names)."""
    go_arch = GO_ARCH.get(machine or platform.machine(), machine or "")
    native = SECCOMP_ARCH.get(go_arch, "")
    out: dict[str, Any] = {"defaultAction": profile.get("defaultAction", "SCMP_ACT_ERRNO")}
    if profile.get("defaultErrnoRet") is not None:
        out["defaultErrnoRet"] = profile["defaultErrnoRet"]
    arches: list[str] = []
    for arch in profile.get("archMap") or ():
        if arch.get("architecture") == native:
            arches += [arch["architecture"], *(arch.get("subArchitectures") or ())]
    if not arches and profile.get("architectures"):
        arches = list(profile["architectures"])
    out["architectures"] = arches
    granted = set(capabilities)
    release = _kernel(kernel or os.uname().release)
    rules = []
    for rule in profile.get("syscalls") or ():
        if not _applies(rule, go_arch, granted, release):
            continue
        names = list(rule.get("names") or ([rule["name"]] if rule.get("name") else []))
        entry: dict[str, Any] = {"names": names, "action": rule.get("action", "")}
        args = [_arg(a) for a in rule.get("args") or ()]
        if args:
            entry["args"] = args
        if rule.get("errnoRet") is not None:
            entry["errnoRet"] = rule["errnoRet"]
        rules.append(entry)
    out["syscalls"] = rules
    return out


def _applies(rule: Mapping[str, Any], arch: str, granted: set[str],
             release: tuple[int, ...]) -> bool:
    excludes = rule.get("excludes") or {}
    includes = rule.get("includes") or {}
    if arch in (excludes.get("arches") or ()):
        return False
    if includes.get("arches") and arch not in includes["arches"]:
        return False
    if any(cap in granted for cap in excludes.get("caps") or ()):
        return False
    if any(cap not in granted for cap in includes.get("caps") or ()):
        return False
    minimum = includes.get("minKernel")
    return not (minimum and release < _kernel(str(minimum)))


def _arg(arg: Mapping[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {"index": arg.get("index", 0), "value": arg.get("value", 0)}
    if arg.get("valueTwo"):
        out["valueTwo"] = arg["valueTwo"]
    out["op"] = arg.get("op", "")
    return out


def _kernel(release: str) -> tuple[int, ...]:
    numbers = []
    for part in release.split("-", maxsplit=1)[0].split(".")[:3]:
        digits = "".join(c for c in part if c.isdigit())
        numbers.append(int(digits or 0))
    return tuple(numbers)
