"""The calls into the confinement modules, at the points runc makes them, with the spec's
values converted to those modules' types.

==========================  ====================================  ===========================
when                        where                                 module
==========================  ====================================  ===========================
before the first fork       runtime (parent)                      seccomp: compile the filter
after the first fork        runtime (parent), before the child     cgroups: create, add(pid)
                            enters its namespaces
after the rootfs mounts     the init, before finalize             console: pty, /dev/console,
                                                                  master over the socket
around the user switch      the init                              capabilities
right before execve         the init                              seccomp: load
delete, kill --all, ps,     runtime                               cgroups: open, pids,
pause, resume, update                                             freeze/thaw, update,
                                                                  destroy
==========================  ====================================  ===========================

Each module is imported only by the function that needs it, so a command that does not use
one does not pay for its import.
"""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Mapping

    from dockyard.runtime.capabilities import Capabilities
    from dockyard.runtime.cgroups import BlockIO as CgroupBlockIO
    from dockyard.runtime.cgroups import CgroupHandle
    from dockyard.runtime.cgroups import Resources as CgroupResources
    from dockyard.runtime.devices import DeviceRule
    from dockyard.runtime.seccomp import Program
    from dockyard.runtime.spec import BlockIO, ConsoleSize, DeviceRate, Linux, Seccomp
    from dockyard.runtime.spec import Capabilities as CapabilityNames
    from dockyard.runtime.spec import Resources as SpecResources
    from dockyard.sys import Syscalls


def cgroup_resources(linux: Linux) -> CgroupResources:
    """``linux.resources`` (and the device paths of ``linux.devices``) as the cgroups type."""
    from dockyard.runtime.devices import DeviceRule, cgroup_rules

    spec = linux.resources
    rules = () if spec is None else tuple(
        DeviceRule(rule.allow, rule.type, rule.major, rule.minor, rule.access)
        for rule in spec.devices)
    devices = cgroup_rules(rules, [device.path for device in linux.devices])
    return _resources(spec, devices)


def update_resources(resources: SpecResources) -> CgroupResources:
    """``update``'s resources as the cgroups type: the device rules are left alone (runc's
    ``SkipDevices``)."""
    return _resources(resources, ())


def _resources(spec: SpecResources | None, devices: tuple[DeviceRule, ...]) \
        -> CgroupResources:
    from dockyard.runtime import cgroups

    if spec is None:
        return cgroups.Resources(devices=devices)
    memory, cpu = spec.memory, spec.cpu
    return cgroups.Resources(
        memory=None if memory is None else cgroups.Memory(
            limit=memory.limit, reservation=memory.reservation, swap=memory.swap,
            swappiness=memory.swappiness, disable_oom_killer=memory.disable_oom_killer),
        cpu=None if cpu is None else cgroups.Cpu(
            shares=cpu.shares, quota=cpu.quota, period=cpu.period,
            realtime_runtime=cpu.realtime_runtime, realtime_period=cpu.realtime_period,
            cpus=cpu.cpus, mems=cpu.mems, burst=cpu.burst, idle=cpu.idle),
        pids_limit=None if spec.pids is None else spec.pids.limit,
        devices=devices,
        unified=tuple(spec.unified.items()),
        block_io=None if spec.block_io is None else _block_io(spec.block_io),
        hugepage_limits=tuple((limit.page_size, limit.limit) for limit in spec.hugepage_limits),
    )


def _block_io(block: BlockIO) -> CgroupBlockIO:
    from dockyard.runtime import cgroups

    def rates(entries: tuple[DeviceRate, ...]) -> tuple[tuple[int, int, int], ...]:
        return tuple((rate.major, rate.minor, rate.rate) for rate in entries)

    return cgroups.BlockIO(
        weight=block.weight, leaf_weight=block.leaf_weight,
        weight_device=tuple((d.major, d.minor, d.weight, d.leaf_weight)
                            for d in block.weight_device),
        read_bps=rates(block.throttle_read_bps_device),
        write_bps=rates(block.throttle_write_bps_device),
        read_iops=rates(block.throttle_read_iops_device),
        write_iops=rates(block.throttle_write_iops_device))


def create_cgroup(linux: Linux, container_id: str) -> CgroupHandle:
    """Make the container's cgroup (``linux.cgroupsPath``, else one named by the id)."""
    from dockyard.runtime import cgroups

    return cgroups.discover().create(linux.cgroups_path, cgroup_resources(linux), container_id)


def open_cgroup(paths: Mapping[str, str]) -> CgroupHandle:
    from dockyard.runtime import cgroups

    return cgroups.open_handle(paths)


def compile_seccomp(seccomp: Seccomp | None, sys: Syscalls,
                    cache: dict[Seccomp, Program | None] | None = None) -> Program | None:
    """The filter for ``linux.seccomp``, built in the runtime so a bad profile fails before
    any process exists; None when the spec has none (or an empty one, as runc). A warm
    spawner passes a ``cache``: the same profile (Docker's, mostly) is compiled once."""
    if seccomp is None:
        return None
    if cache is not None:  # one lookup: hashing and comparing a profile takes ~20 µs each
        try:
            return cache[seccomp]
        except KeyError:
            program = cache[seccomp] = compile_seccomp(seccomp, sys)
            return program
    from dockyard.runtime import seccomp as filters

    spec = filters.SeccompSpec(
        default_action=seccomp.default_action, default_errno_ret=seccomp.default_errno_ret,
        architectures=seccomp.architectures, flags=seccomp.flags,
        syscalls=tuple(
            filters.SeccompSyscall(
                names=rule.names, action=rule.action, errno_ret=rule.errno_ret,
                args=tuple(filters.SeccompArg(index=arg.index, value=arg.value, op=arg.op,
                                              value_two=arg.value_two) for arg in rule.args))
            for rule in seccomp.syscalls),
    )
    if not spec.enabled:
        return None
    return filters.Seccomp(sys).compile(spec)


def load_seccomp(program: Program | None, sys: Syscalls) -> None:
    """Install the compiled filter on the calling process (the init, before execve)."""
    if program is None:
        return
    from dockyard.runtime import seccomp as filters

    filters.Seccomp(sys).load(program)


def capabilities(names: CapabilityNames | None, sys: Syscalls) -> Capabilities:
    """The applier for ``process.capabilities`` (an absent object means every set empty)."""
    from dockyard.runtime import capabilities as caps

    spec = caps.CapabilitySpec() if names is None else caps.CapabilitySpec(
        bounding=names.bounding, effective=names.effective, inheritable=names.inheritable,
        permitted=names.permitted, ambient=names.ambient)
    last = caps.last_cap()
    return caps.RuncCapabilities(sys, caps.resolve(spec, last), last)


def connect_console(path: str) -> int:
    """The runtime's connection to ``--console-socket``, as an fd for the child stages."""
    from dockyard.runtime import console

    return console.connect(path).detach()


def attach_console(socket_fd: int, size: ConsoleSize | None, sys: Syscalls,
                   *, mount: bool) -> None:
    """A pty from the container's /dev/ptmx: the master goes to the caller over the console
    socket ``socket_fd``, the slave becomes stdio and the controlling terminal (runc's
    ``setupConsole`` + ``Setctty``); with ``mount`` it is also bound over /dev/console."""
    import os
    import socket

    from dockyard.runtime import console

    pty = console.open_pty()
    try:
        if size is not None and size.height and size.width:
            console.resize(pty.master, size.height, size.width)
        if mount:
            console.mount_console(sys, pty.slave_path)
        with socket.socket(fileno=socket_fd) as sock:
            console.send_master(sock, pty.master)
    finally:
        os.close(pty.master)
    console.attach(pty.slave_path)
