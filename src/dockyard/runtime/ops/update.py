"""``update``: change a running (or created, or paused) container's cgroup limits.

The new values come from ``--resources FILE`` (``-`` for stdin; the ``linux.resources``
object of config.json: memory, cpu, blockIO, pids, unified) or from runc's flags (``--memory``,
``--memory-swap``, ``--memory-reservation``, ``--cpu-share``, ``--cpu-quota``,
``--cpu-period``, ``--cpu-rt-runtime``, ``--cpu-rt-period``, ``--cpuset-cpus``,
``--cpuset-mems``, ``--pids-limit``, ``--blkio-weight``); with a file the flags are ignored,
as in runc. As in runc, only the values given are written (a zero or absent value leaves the
cgroup's as it is), device rules are never touched, and a quota given without a period (or
the reverse) keeps the other at its current value: on cgroup v2, where both live in cpu.max,
the current one is read back from it. Memory sizes take Docker's units ("512m", "1g": powers
of 1024, runc's ``units.RAMInBytes``) or -1 for unlimited. A value whose control file this
cgroup lacks (a controller the parent does not delegate, swap accounting off) fails the
update, as in runc (create only warns); the other values have been written by then.
"""

from __future__ import annotations

from dockyard.errors import Conflict, InvalidArgument, Unsupported
from dockyard.runtime.state import STOPPED

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Mapping

    from dockyard.runtime.spec import Resources
    from dockyard.runtime.state import StateRoot

MEMORY_FLAGS = {"memory": "limit", "memory-swap": "swap", "memory-reservation": "reservation",
                "kernel-memory": "kernel", "kernel-memory-tcp": "kernel_tcp"}
CPU_FLAGS = {"cpu-share": "shares", "cpu-shares": "shares", "cpu-quota": "quota",
             "cpu-period": "period", "cpu-rt-runtime": "realtime_runtime",
             "cpu-rt-period": "realtime_period"}
_UNITS = {"": 1, "k": 1 << 10, "m": 1 << 20, "g": 1 << 30, "t": 1 << 40, "p": 1 << 50}


def read_resources(data: bytes, what: str) -> Resources:
    """A resources document (``--resources``), checked field by field like config.json's."""
    from dockyard.runtime.specread import read_resources as read

    return read(data, what)


def from_flags(flags: Mapping[str, object]) -> Resources:
    """The resources runc's update flags ask for (only the flags given)."""
    from dockyard.runtime.spec import BlockIO, Cpu, Memory, Pids, Resources

    for name, what in (("l3-cache-schema", "Intel RDT/CAT: l3 cache schema"),
                       ("mem-bw-schema", "Intel RDT/MBA: memory bandwidth schema")):
        if flags.get(name):
            raise Unsupported(f"{what} is not enabled")

    memory = {field: ram_in_bytes(str(flags[name]), name)
              for name, field in MEMORY_FLAGS.items() if flags.get(name) not in (None, "")}
    cpu: dict[str, object] = {}
    for name, field in CPU_FLAGS.items():
        if flags.get(name) not in (None, ""):
            cpu[field] = _integer(str(flags[name]), name,
                                  signed=field in ("quota", "realtime_runtime"))
    for name, field in (("cpuset-cpus", "cpus"), ("cpuset-mems", "mems")):
        if flags.get(name):
            cpu[field] = str(flags[name])
    pids = int(flags.get("pids-limit") or 0)  # type: ignore[call-overload]
    weight = int(flags.get("blkio-weight") or 0)  # type: ignore[call-overload]
    return Resources(memory=Memory().replace(**memory) if memory else None,
                     cpu=Cpu().replace(**cpu) if cpu else None,
                     pids=Pids(limit=pids) if pids else None,
                     block_io=BlockIO(weight=weight) if weight else None)


def ram_in_bytes(text: str, flag: str = "memory") -> int:
    """Docker's ``units.RAMInBytes`` (``^(\\d+(\\.\\d+)*) ?([kmgtp])?i?b?$``, any case,
    powers of 1024): "512", "512k", "1.5g", "64MiB", "64 mb"; "-1" stays -1."""
    if text == "-1":
        return -1
    body = text
    for letters in ("bB", "iI"):
        if body[-1:] and body[-1] in letters:
            body = body[:-1]
    unit = body[-1].lower() if body[-1:] and body[-1].lower() in "kmgtp" else ""
    number = body[:-1] if unit else body
    number = number[:-1] if number.endswith(" ") else number
    digits = number.split(".")
    if len(digits) > 2 or not all(part.isdigit() and part.isascii() for part in digits):
        raise InvalidArgument(f"invalid value for {flag}: invalid size: {text!r}")
    return int(float(number) * _UNITS[unit])


def _integer(text: str, flag: str, *, signed: bool) -> int:
    try:
        value = int(text)
    except ValueError as exc:
        raise InvalidArgument(f"invalid value for {flag}: {text!r} is not a number") from exc
    if value < 0 and not signed:
        raise InvalidArgument(f"invalid value for {flag}: {text!r} is negative")
    return value


def update(root: StateRoot, container_id: str, resources: Resources) -> None:
    """Apply ``resources`` to the container's cgroup."""
    from dockyard.runtime import confinement

    directory = root.open(container_id)
    directory.lock()
    try:
        saved = directory.read()
        if saved is None or directory.status(saved) == STOPPED or not saved.cgroup_paths:
            raise Conflict("container not running")
        resources = _pair_cpu_max(resources, saved.cgroup_paths)
        cgroup = confinement.open_cgroup(saved.cgroup_paths)
        cgroup.update(confinement.update_resources(resources))
        if cgroup.warnings:
            raise Unsupported("; ".join(cgroup.warnings))
    finally:
        directory.unlock()


def _pair_cpu_max(resources: Resources, paths: Mapping[str, str]) -> Resources:
    """On cgroup v2 a quota alone keeps the current period and the reverse (cpu.max holds
    both; runc keeps the other from its saved config)."""
    cpu = resources.cpu
    if cpu is None or set(paths) != {""} or bool(cpu.quota) == bool(cpu.period):
        return resources
    try:
        with open(f"{paths['']}/cpu.max", encoding="ascii") as file:
            fields = file.read().split()
    except OSError:
        return resources
    if len(fields) != 2 or not fields[1].isdigit():
        return resources
    if cpu.quota:
        return resources.replace(cpu=cpu.replace(period=int(fields[1])))
    return resources.replace(cpu=cpu.replace(quota=-1 if fields[0] == "max" else int(fields[0])))
