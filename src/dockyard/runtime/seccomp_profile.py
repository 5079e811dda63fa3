"""Seccomp profiles as JSON: the OCI ``linux.seccomp`` object, and Docker's profile format.

Docker's format (moby ``profiles/seccomp``, containers-common's /usr/share/containers/seccomp.json)
adds ``archMap`` and per-group ``includes``/``excludes`` on capabilities, architectures and a
minimum kernel. dockerd resolves it into ``linux.seccomp`` when it writes a container's
config.json; :func:`docker_profile` does the same resolution, for a given bounding set:

- ``archMap``: the entry whose architecture is the native one gives it and its sub-architectures;
- a group is dropped when an ``excludes`` capability is in the bounding set, the ``excludes``
  arches name this machine, or the kernel is at least ``excludes.minKernel``;
- a group is kept only when every ``includes`` capability is in the bounding set, the
  ``includes`` arches (if any) name this machine and the kernel is at least ``includes.minKernel``.
"""

from __future__ import annotations

import platform
from collections.abc import Iterable, Mapping
from typing import Any

from dockyard.errors import InvalidArgument
from dockyard.runtime.seccomp import SeccompArg, SeccompSpec, SeccompSyscall

_GO_ARCH = {
    "x86_64": "amd64", "aarch64": "arm64", "i686": "386", "armv7l": "arm", "ppc64le": "ppc64le",
    "s390x": "s390x", "riscv64": "riscv64",
}  # fmt: skip
_SCMP_ARCH = {
    "amd64": "SCMP_ARCH_X86_64", "arm64": "SCMP_ARCH_AARCH64", "386": "SCMP_ARCH_X86",
    "arm": "SCMP_ARCH_ARM", "ppc64le": "SCMP_ARCH_PPC64LE", "s390x": "SCMP_ARCH_S390X",
    "riscv64": "SCMP_ARCH_RISCV64",
}  # fmt: skip


def go_arch(machine: str | None = None) -> str:
    """Go's name (GOARCH) for a machine name as uname reports it."""
    name = machine or platform.machine()
    return _GO_ARCH.get(name, name)


def _int(value: object, where: str, default: int | None = None) -> int:
    if value is None and default is not None:
        return default
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidArgument(f"{where}: expected an integer, got {value!r}")
    return value


def _strings(value: object, where: str) -> tuple[str, ...]:
    if value is None:
        return ()
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise InvalidArgument(f"{where}: expected a list of strings")
    return tuple(value)


def _object(value: object, where: str) -> Mapping[str, Any]:
    if not isinstance(value, dict):
        raise InvalidArgument(f"{where}: expected an object")
    return value


def _syscall(obj: Mapping[str, Any], where: str) -> SeccompSyscall:
    action = obj.get("action")
    if not isinstance(action, str):
        raise InvalidArgument(f"{where}.action: expected a string")
    errno_ret = obj.get("errnoRet")
    args = []
    for number, item in enumerate(obj.get("args") or ()):
        arg = _object(item, f"{where}.args[{number}]")
        op = arg.get("op")
        if not isinstance(op, str):
            raise InvalidArgument(f"{where}.args[{number}].op: expected a string")
        args.append(
            SeccompArg(
                index=_int(arg.get("index"), f"{where}.args[{number}].index"),
                value=_int(arg.get("value"), f"{where}.args[{number}].value"),
                value_two=_int(arg.get("valueTwo"), f"{where}.args[{number}].valueTwo", 0),
                op=op,
            )
        )
    return SeccompSyscall(
        names=_strings(obj.get("names"), f"{where}.names"),
        action=action,
        errno_ret=None if errno_ret is None else _int(errno_ret, f"{where}.errnoRet"),
        args=tuple(args),
    )


def parse_spec(obj: object, where: str = "linux.seccomp") -> SeccompSpec:
    """The OCI ``linux.seccomp`` object; errors name the field."""
    data = _object(obj, where)
    default = data.get("defaultAction", "")
    if not isinstance(default, str):
        raise InvalidArgument(f"{where}.defaultAction: expected a string")
    errno_ret = data.get("defaultErrnoRet")
    syscalls = data.get("syscalls") or []
    if not isinstance(syscalls, list):
        raise InvalidArgument(f"{where}.syscalls: expected a list")
    return SeccompSpec(
        default_action=default,
        default_errno_ret=None
        if errno_ret is None
        else _int(errno_ret, f"{where}.defaultErrnoRet"),
        architectures=_strings(data.get("architectures"), f"{where}.architectures"),
        flags=_strings(data.get("flags"), f"{where}.flags"),
        syscalls=tuple(
            _syscall(_object(call, f"{where}.syscalls[{n}]"), f"{where}.syscalls[{n}]")
            for n, call in enumerate(syscalls)
        ),
    )


def _version(text: str) -> tuple[int, ...]:
    parts = []
    for part in text.split("-", 1)[0].split(".")[:2]:
        digits = "".join(ch for ch in part if ch.isdigit())
        parts.append(int(digits or 0))
    return tuple(parts)


def _applies(call: Mapping[str, Any], bounding: frozenset[str], arch: str, kernel: str) -> bool:
    excludes = call.get("excludes") or {}
    includes = call.get("includes") or {}
    if any(cap in bounding for cap in excludes.get("caps") or ()):
        return False
    if arch in (excludes.get("arches") or ()):
        return False
    if excludes.get("minKernel") and _version(kernel) >= _version(excludes["minKernel"]):
        return False
    if not all(cap in bounding for cap in includes.get("caps") or ()):
        return False
    if includes.get("arches") and arch not in includes["arches"]:
        return False
    return not (includes.get("minKernel") and _version(kernel) < _version(includes["minKernel"]))


def docker_profile(
    obj: object,
    bounding: Iterable[str],
    arch: str | None = None,
    kernel: str | None = None,
) -> SeccompSpec:
    """Resolve a Docker-format profile for a container with this bounding set (see above)."""
    data = _object(obj, "seccomp profile")
    goarch = arch or go_arch()
    caps = frozenset(bounding)
    release = kernel or platform.release()
    if data.get("architectures") and data.get("archMap"):
        raise InvalidArgument("seccomp profile: both 'architectures' and 'archMap' are set")
    arches = list(_strings(data.get("architectures"), "seccomp profile.architectures"))
    for number, item in enumerate(data.get("archMap") or ()):
        entry = _object(item, f"seccomp profile.archMap[{number}]")
        if entry.get("architecture") == _SCMP_ARCH.get(goarch):
            arches.append(entry["architecture"])
            arches += _strings(entry.get("subArchitectures"), "seccomp profile.archMap")
    kept = [
        call
        for call in data.get("syscalls") or ()
        if _applies(_object(call, "seccomp profile.syscalls[]"), caps, goarch, release)
    ]
    return parse_spec({**data, "syscalls": kept, "architectures": arches}, "seccomp profile")
