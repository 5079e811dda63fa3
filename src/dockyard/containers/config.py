"""Docker's container options as values: ``Config`` and ``HostConfig`` of ``POST
/containers/create``, checked as dockerd checks them, and back to JSON for inspect.

Clients send the full Go structs (CLI 28 even sends fields newer than API 1.41), docker-py
small bodies: unknown fields are ignored, missing ones take Docker's zero values. The fields
the engine acts on are typed attributes; the rest of ``HostConfig`` is kept as sent
(``HostConfig.echo``) because inspect shows it back.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from dockyard.errors import InvalidArgument, NotFound

MIN_MEMORY = 6 * 1024 * 1024
DEFAULT_SHM_SIZE = 64 * 1024 * 1024
RESTART_POLICIES = ("", "no", "always", "unless-stopped", "on-failure")
NAME_PATTERN = re.compile(r"^/?[a-zA-Z0-9][a-zA-Z0-9_.-]+$")
NETWORK_MODES = ("default", "bridge", "host", "none")
ULIMITS = ("cpu", "fsize", "data", "stack", "core", "rss", "nproc", "nofile", "memlock", "as",
           "locks", "sigpending", "msgqueue", "nice", "rtprio", "rttime")
ALL_CAPS = (
    "CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_DAC_READ_SEARCH", "CAP_FOWNER", "CAP_FSETID",
    "CAP_KILL", "CAP_SETGID", "CAP_SETUID", "CAP_SETPCAP", "CAP_LINUX_IMMUTABLE",
    "CAP_NET_BIND_SERVICE", "CAP_NET_BROADCAST", "CAP_NET_ADMIN", "CAP_NET_RAW", "CAP_IPC_LOCK",
    "CAP_IPC_OWNER", "CAP_SYS_MODULE", "CAP_SYS_RAWIO", "CAP_SYS_CHROOT", "CAP_SYS_PTRACE",
    "CAP_SYS_PACCT", "CAP_SYS_ADMIN", "CAP_SYS_BOOT", "CAP_SYS_NICE", "CAP_SYS_RESOURCE",
    "CAP_SYS_TIME", "CAP_SYS_TTY_CONFIG", "CAP_MKNOD", "CAP_LEASE", "CAP_AUDIT_WRITE",
    "CAP_AUDIT_CONTROL", "CAP_SETFCAP", "CAP_MAC_OVERRIDE", "CAP_MAC_ADMIN", "CAP_SYSLOG",
    "CAP_WAKE_ALARM", "CAP_BLOCK_SUSPEND", "CAP_AUDIT_READ", "CAP_PERFMON", "CAP_BPF",
    "CAP_CHECKPOINT_RESTORE",
)
"""Linux's capabilities in bit order."""


def _strings(value: Any, what: str) -> tuple[str, ...] | None:
    if value is None:
        return None
    if isinstance(value, str):  # docker-py may send a string where Go has a strslice
        return (value,)
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise InvalidArgument(f"invalid {what}: want a list of strings")
    return tuple(value)


def _int(value: Any, what: str, default: int = 0) -> int:
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise InvalidArgument(f"invalid {what}: want a number")
    return int(value)


def _map(value: Any, what: str) -> dict[str, str]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise InvalidArgument(f"invalid {what}: want an object")
    return {str(k): "" if v is None else str(v) for k, v in value.items()}


def _object(value: Any, what: str) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise InvalidArgument(f"json: cannot unmarshal {what}: want an object")
    return value


@dataclass(frozen=True, slots=True)
class ContainerConfig:
    """``Config``: what the container runs, merged with the image's config at create."""

    hostname: str = ""
    domainname: str = ""
    user: str = ""
    attach_stdin: bool = False
    attach_stdout: bool = False
    attach_stderr: bool = False
    exposed_ports: Mapping[str, Any] | None = None
    tty: bool = False
    open_stdin: bool = False
    stdin_once: bool = False
    env: tuple[str, ...] | None = None
    cmd: tuple[str, ...] | None = None
    healthcheck: Mapping[str, Any] | None = None
    args_escaped: bool = False
    image: str = ""
    volumes: Mapping[str, Any] | None = None
    working_dir: str = ""
    entrypoint: tuple[str, ...] | None = None
    network_disabled: bool = False
    mac_address: str = ""
    on_build: tuple[str, ...] | None = None
    labels: Mapping[str, str] = field(default_factory=dict)
    stop_signal: str = ""
    stop_timeout: int | None = None
    shell: tuple[str, ...] | None = None

    @classmethod
    def from_json(cls, obj: Mapping[str, Any]) -> ContainerConfig:
        ports = obj.get("ExposedPorts")
        volumes = obj.get("Volumes")
        stop_timeout = obj.get("StopTimeout")
        return cls(
            hostname=str(obj.get("Hostname") or ""), domainname=str(obj.get("Domainname") or ""),
            user=str(obj.get("User") or ""), attach_stdin=bool(obj.get("AttachStdin")),
            attach_stdout=bool(obj.get("AttachStdout")),
            attach_stderr=bool(obj.get("AttachStderr")),
            exposed_ports=dict(ports) if isinstance(ports, dict) else None,
            tty=bool(obj.get("Tty")), open_stdin=bool(obj.get("OpenStdin")),
            stdin_once=bool(obj.get("StdinOnce")), env=_strings(obj.get("Env"), "Env"),
            cmd=_strings(obj.get("Cmd"), "Cmd"),
            healthcheck=obj.get("Healthcheck") if isinstance(obj.get("Healthcheck"), dict)
            else None,
            args_escaped=bool(obj.get("ArgsEscaped")), image=str(obj.get("Image") or ""),
            volumes=dict(volumes) if isinstance(volumes, dict) else None,
            working_dir=str(obj.get("WorkingDir") or ""),
            entrypoint=_strings(obj.get("Entrypoint"), "Entrypoint"),
            network_disabled=bool(obj.get("NetworkDisabled")),
            mac_address=str(obj.get("MacAddress") or ""),
            on_build=_strings(obj.get("OnBuild"), "OnBuild"),
            labels=_map(obj.get("Labels"), "Labels"), stop_signal=str(obj.get("StopSignal") or ""),
            stop_timeout=None if stop_timeout is None else _int(stop_timeout, "StopTimeout"),
            shell=_strings(obj.get("Shell"), "Shell"),
        )

    def to_json(self) -> dict[str, Any]:
        """As dockerd's inspect shows ``Config`` (omitempty where Go has it)."""
        out: dict[str, Any] = {
            "Hostname": self.hostname, "Domainname": self.domainname, "User": self.user,
            "AttachStdin": self.attach_stdin, "AttachStdout": self.attach_stdout,
            "AttachStderr": self.attach_stderr,
        }
        if self.exposed_ports:
            out["ExposedPorts"] = dict(self.exposed_ports)
        out.update({"Tty": self.tty, "OpenStdin": self.open_stdin, "StdinOnce": self.stdin_once,
                    "Env": _list(self.env), "Cmd": _list(self.cmd)})
        if self.healthcheck:
            out["Healthcheck"] = dict(self.healthcheck)
        if self.args_escaped:
            out["ArgsEscaped"] = True
        out.update({"Image": self.image, "Volumes": dict(self.volumes) if self.volumes else None,
                    "WorkingDir": self.working_dir, "Entrypoint": _list(self.entrypoint),
                    "OnBuild": _list(self.on_build), "Labels": dict(self.labels)})
        if self.network_disabled:
            out["NetworkDisabled"] = True
        if self.mac_address:
            out["MacAddress"] = self.mac_address
        if self.stop_signal:
            out["StopSignal"] = self.stop_signal
        if self.stop_timeout is not None:
            out["StopTimeout"] = self.stop_timeout
        if self.shell:
            out["Shell"] = list(self.shell)
        return out

    def with_image_defaults(self, image: Mapping[str, Any]) -> ContainerConfig:
        """dockerd's ``merge``: what the container leaves empty comes from the image's
        ``config``; Env is the image's with the container's overriding by name."""
        env = _merge_env(_strings(image.get("Env"), "image Env") or (), self.env or ())
        changes: dict[str, Any] = {"env": env}
        if not self.user:
            changes["user"] = str(image.get("User") or "")
        if not self.working_dir:
            changes["working_dir"] = str(image.get("WorkingDir") or "")
        if not self.entrypoint and not self.cmd:
            changes["cmd"] = _strings(image.get("Cmd"), "image Cmd")
        if self.entrypoint is None:
            changes["entrypoint"] = _strings(image.get("Entrypoint"), "image Entrypoint")
        image_ports = image.get("ExposedPorts")
        if isinstance(image_ports, dict) and image_ports:
            changes["exposed_ports"] = {**image_ports, **(self.exposed_ports or {})}
        image_volumes = image.get("Volumes")
        if isinstance(image_volumes, dict) and image_volumes:
            changes["volumes"] = {**image_volumes, **(self.volumes or {})}
        labels = _map(image.get("Labels"), "image Labels")
        changes["labels"] = {**labels, **self.labels}
        if not self.stop_signal and image.get("StopSignal"):
            changes["stop_signal"] = str(image["StopSignal"])
        if self.healthcheck is None and isinstance(image.get("Healthcheck"), dict):
            changes["healthcheck"] = image["Healthcheck"]
        if not self.on_build and image.get("OnBuild"):
            changes["on_build"] = _strings(image.get("OnBuild"), "image OnBuild")
        if self.shell is None and image.get("Shell"):
            changes["shell"] = _strings(image.get("Shell"), "image Shell")
        if not self.args_escaped and image.get("ArgsEscaped"):
            changes["args_escaped"] = True
        return replace(self, **changes)

    def command(self) -> tuple[str, ...]:
        """Entrypoint then Cmd: what the process runs; InvalidArgument if that is empty."""
        argv = (*(self.entrypoint or ()), *(self.cmd or ()))
        if not argv:
            raise InvalidArgument("No command specified")
        return argv


def _list(value: tuple[str, ...] | None) -> list[str] | None:
    return None if value is None else list(value)


def _merge_env(base: Sequence[str], overrides: Sequence[str]) -> tuple[str, ...]:
    merged: dict[str, str] = {}
    for item in (*base, *overrides):
        merged[item.split("=", 1)[0]] = item
    return tuple(merged.values())


@dataclass(frozen=True, slots=True)
class Ulimit:
    name: str
    soft: int
    hard: int


@dataclass(frozen=True, slots=True)
class MountSpec:
    """One bind, volume or tmpfs mount from ``Binds``, ``Mounts``, ``Tmpfs``, ``VolumesFrom``
    or the image's ``VOLUME``s. A volume's ``name`` is "" for an anonymous one until the create
    names it; its ``source`` is then the volume's host path."""

    type: str          # "bind", "volume" or "tmpfs"
    target: str
    source: str = ""
    readonly: bool = False
    options: tuple[str, ...] = ()     # bind: propagation; tmpfs: mount options
    mode: str = ""                    # the Binds mode string as given ("ro", "rw,z", ...)
    name: str = ""                    # volume: its name
    nocopy: bool = False              # volume: no copy of the image's content into it


@dataclass(frozen=True, slots=True)
class HostConfig:
    """``HostConfig``: how the container is confined and connected."""

    echo: Mapping[str, Any] = field(default_factory=dict)
    mounts: tuple[MountSpec, ...] = ()
    log_type: str = "json-file"
    log_options: Mapping[str, str] = field(default_factory=dict)
    network_mode: str = "default"
    restart_policy: str = "no"
    restart_retries: int = 0
    auto_remove: bool = False
    cap_add: tuple[str, ...] = ()
    cap_drop: tuple[str, ...] = ()
    privileged: bool = False
    readonly_rootfs: bool = False
    security_opt: tuple[str, ...] = ()
    memory: int = 0
    memory_reservation: int = 0
    memory_swap: int = 0
    memory_swappiness: int | None = None
    nano_cpus: int = 0
    cpu_shares: int = 0
    cpu_quota: int = 0
    cpu_period: int = 0
    cpuset_cpus: str = ""
    cpuset_mems: str = ""
    pids_limit: int | None = None
    ulimits: tuple[Ulimit, ...] = ()
    oom_score_adj: int = 0
    oom_kill_disable: bool | None = None
    shm_size: int = DEFAULT_SHM_SIZE
    sysctls: Mapping[str, str] = field(default_factory=dict)
    pid_mode: str = ""
    ipc_mode: str = "private"
    uts_mode: str = ""
    group_add: tuple[str, ...] = ()
    devices: tuple[Mapping[str, Any], ...] = ()
    cgroup_parent: str = ""
    init: bool = False
    runtime: str = ""
    console_size: tuple[int, int] = (0, 0)
    extra_hosts: tuple[str, ...] = ()
    dns: tuple[str, ...] = ()
    dns_search: tuple[str, ...] = ()
    dns_options: tuple[str, ...] = ()
    masked_paths: tuple[str, ...] | None = None
    readonly_paths: tuple[str, ...] | None = None
    volumes_from: tuple[str, ...] = ()

    @property
    def host_network(self) -> bool:
        return self.network_mode == "host"

    def to_json(self) -> dict[str, Any]:
        """As inspect shows it: what the client sent, with dockerd's filled-in defaults."""
        out = dict(self.echo)
        out["LogConfig"] = {"Type": self.log_type, "Config": dict(self.log_options)}
        out["NetworkMode"] = self.network_mode
        out["RestartPolicy"] = {"Name": self.restart_policy,
                                "MaximumRetryCount": self.restart_retries}
        out["ShmSize"] = self.shm_size
        out["IpcMode"] = self.ipc_mode
        out.setdefault("CgroupnsMode", "host")
        out["Runtime"] = self.runtime
        out["ConsoleSize"] = list(self.console_size)
        if out.get("MemorySwappiness") == -1:
            out["MemorySwappiness"] = None
        if not out.get("PidsLimit"):
            out["PidsLimit"] = None
        out["MaskedPaths"] = None if self.masked_paths is None else list(self.masked_paths)
        out["ReadonlyPaths"] = None if self.readonly_paths is None else list(self.readonly_paths)
        return out


def parse_host_config(obj: Mapping[str, Any], *, default_runtime: str,
                      runtimes: Sequence[str], ncpu: int | None = None) -> HostConfig:
    """``HostConfig`` as dockerd checks it at create (wording as dockerd's)."""
    obj = _object(obj, "HostConfig")
    echo = {k: v for k, v in obj.items() if k not in ("Tmpfs",) or v}
    restart = _object(obj.get("RestartPolicy"), "RestartPolicy")
    log_config = _object(obj.get("LogConfig"), "LogConfig")
    console = obj.get("ConsoleSize") or [0, 0]
    host = HostConfig(
        echo=echo,
        mounts=_mounts(obj),
        log_type=str(log_config.get("Type") or "json-file"),
        log_options=_map(log_config.get("Config"), "LogConfig.Config"),
        network_mode=str(obj.get("NetworkMode") or "default"),
        restart_policy=str(restart.get("Name") or "no"),
        restart_retries=_int(restart.get("MaximumRetryCount"), "MaximumRetryCount"),
        auto_remove=bool(obj.get("AutoRemove")),
        cap_add=_strings(obj.get("CapAdd"), "CapAdd") or (),
        cap_drop=_strings(obj.get("CapDrop"), "CapDrop") or (),
        privileged=bool(obj.get("Privileged")),
        readonly_rootfs=bool(obj.get("ReadonlyRootfs")),
        security_opt=_strings(obj.get("SecurityOpt"), "SecurityOpt") or (),
        memory=_int(obj.get("Memory"), "Memory"),
        memory_reservation=_int(obj.get("MemoryReservation"), "MemoryReservation"),
        memory_swap=_int(obj.get("MemorySwap"), "MemorySwap"),
        memory_swappiness=None if obj.get("MemorySwappiness") in (None, -1)
        else _int(obj.get("MemorySwappiness"), "MemorySwappiness"),
        nano_cpus=_int(obj.get("NanoCpus"), "NanoCpus"),
        cpu_shares=_int(obj.get("CpuShares"), "CpuShares"),
        cpu_quota=_int(obj.get("CpuQuota"), "CpuQuota"),
        cpu_period=_int(obj.get("CpuPeriod"), "CpuPeriod"),
        cpuset_cpus=str(obj.get("CpusetCpus") or ""), cpuset_mems=str(obj.get("CpusetMems") or ""),
        pids_limit=_int(obj["PidsLimit"], "PidsLimit") if obj.get("PidsLimit") else None,
        ulimits=_ulimits(obj.get("Ulimits")),
        oom_score_adj=_int(obj.get("OomScoreAdj"), "OomScoreAdj"),
        oom_kill_disable=None if obj.get("OomKillDisable") is None
        else bool(obj.get("OomKillDisable")),
        shm_size=_int(obj.get("ShmSize"), "ShmSize") or DEFAULT_SHM_SIZE,
        sysctls=_map(obj.get("Sysctls"), "Sysctls"),
        pid_mode=str(obj.get("PidMode") or ""),
        ipc_mode=str(obj.get("IpcMode") or "private"),
        uts_mode=str(obj.get("UTSMode") or ""),
        group_add=_strings(obj.get("GroupAdd"), "GroupAdd") or (),
        devices=tuple(d for d in obj.get("Devices") or () if isinstance(d, dict)),
        cgroup_parent=str(obj.get("CgroupParent") or ""),
        init=bool(obj.get("Init")),
        runtime=str(obj.get("Runtime") or default_runtime),
        console_size=(_int(console[0], "ConsoleSize"), _int(console[1], "ConsoleSize"))
        if isinstance(console, list) and len(console) == 2 else (0, 0),
        extra_hosts=_strings(obj.get("ExtraHosts"), "ExtraHosts") or (),
        dns=_strings(obj.get("Dns"), "Dns") or (),
        dns_search=_strings(obj.get("DnsSearch"), "DnsSearch") or (),
        dns_options=_strings(obj.get("DnsOptions"), "DnsOptions") or (),
        masked_paths=_strings(obj.get("MaskedPaths"), "MaskedPaths"),
        readonly_paths=_strings(obj.get("ReadonlyPaths"), "ReadonlyPaths"),
        volumes_from=_strings(obj.get("VolumesFrom"), "VolumesFrom") or (),
    )
    check_host_config(host, runtimes, ncpu or os.cpu_count() or 1)
    return host


def check_host_config(host: HostConfig, runtimes: Sequence[str], ncpu: int) -> None:
    if host.runtime not in runtimes:
        raise InvalidArgument(f"Unknown runtime specified {host.runtime}")
    if host.restart_policy not in RESTART_POLICIES:
        raise InvalidArgument(f"invalid restart policy '{host.restart_policy}'")
    if host.restart_retries and host.restart_policy != "on-failure":
        raise InvalidArgument("maximum retry count cannot be used with restart policy "
                              f"'{host.restart_policy}'")
    if host.restart_retries < 0:
        raise InvalidArgument("maximum retry count cannot be negative")
    if host.auto_remove and host.restart_policy not in ("", "no"):
        raise InvalidArgument("can't create 'AutoRemove' container with restart policy")
    if 0 < host.memory < MIN_MEMORY:
        raise InvalidArgument("Minimum memory limit allowed is 6MB")
    if host.memory > 0 and host.memory_swap > 0 and host.memory_swap < host.memory:
        raise InvalidArgument("Minimum memoryswap limit should be larger than memory limit, "
                              "see usage")
    if host.memory_swap > 0 and host.memory == 0:
        raise InvalidArgument("You should always set the Memory limit when using Memoryswap "
                              "limit, see usage")
    if host.memory_reservation and host.memory and host.memory < host.memory_reservation:
        raise InvalidArgument("Minimum memory limit can not be less than memory reservation "
                              "limit, see usage")
    if host.nano_cpus and (host.cpu_period or host.cpu_quota):
        raise InvalidArgument("Conflicting options: Nano CPUs and CPU Period cannot both be set"
                              if host.cpu_period else
                              "Conflicting options: Nano CPUs and CPU Quota cannot both be set")
    if host.nano_cpus < 0 or host.nano_cpus > ncpu * 10**9:
        raise InvalidArgument(f"Range of CPUs is from 0.01 to {ncpu}.00, as there are only "
                              f"{ncpu} CPUs available")
    if host.cpu_period and not 1000 <= host.cpu_period <= 1000000:
        raise InvalidArgument("CPU cfs period can not be less than 1ms (i.e. 1000) or larger "
                              "than 1s (i.e. 1000000)")
    if host.cpu_quota and host.cpu_quota > 0 and host.cpu_quota < 1000:
        raise InvalidArgument("CPU cfs quota can not be less than 1ms (i.e. 1000)")
    if not -1000 <= host.oom_score_adj <= 1000:
        raise InvalidArgument(f"Invalid value {host.oom_score_adj}, range for oom score adj "
                              "is [-1000, 1000]")
    if host.shm_size < 0:
        raise InvalidArgument("SHM size can not be less than 0")
    if host.log_type not in ("json-file", "none"):
        raise InvalidArgument(f'logger: no log driver named \'{host.log_type}\' is registered')
    _check_log_options(host.log_type, host.log_options)
    _check_network_mode(host.network_mode)
    for option in host.security_opt:
        check_security_opt(option)
    for cap in (*host.cap_add, *host.cap_drop):
        normalize_cap(cap)
    for ulimit in host.ulimits:
        if ulimit.name not in ULIMITS:
            raise InvalidArgument(f"invalid ulimit type: {ulimit.name}")


def _check_network_mode(mode: str) -> None:
    """At create only the form is checked: dockerd looks the network up at start (a 404
    from create would make the CLI pull the image)."""
    if mode.startswith("container:") and not mode[10:]:
        raise InvalidArgument(f"invalid network mode: {mode}")


def check_network(mode: str) -> None:
    """At start: the networks that exist until the Networks issue brings user networks."""
    if mode not in NETWORK_MODES:
        raise NotFound(f"network {mode} not found")


def normalize_cap(name: str) -> str:
    """``net_admin``, ``CAP_NET_ADMIN``, ``ALL``: Docker's spelling, checked."""
    cap = name.upper()
    cap = cap if cap == "ALL" or cap.startswith("CAP_") else "CAP_" + cap
    if cap != "ALL" and cap not in ALL_CAPS:
        raise InvalidArgument(f'unknown capability: "{cap}"')
    return cap


def check_security_opt(option: str) -> None:
    key, sep, value = option.partition("=")
    if not sep:
        key, sep, value = option.partition(":")
    if key == "no-new-privileges" and (not sep or value in ("true", "false")):
        return
    if key == "seccomp" and value:
        return
    if key in ("apparmor", "label") and value:
        return
    raise InvalidArgument(f"invalid --security-opt: {option!r}")


def _ulimits(value: Any) -> tuple[Ulimit, ...]:
    out = []
    for item in value or ():
        if not isinstance(item, dict) or not isinstance(item.get("Name"), str):
            raise InvalidArgument("invalid Ulimits: want objects with Name, Soft and Hard")
        soft, hard = _int(item.get("Soft"), "Ulimit Soft"), _int(item.get("Hard"), "Ulimit Hard")
        if soft > hard:
            raise InvalidArgument(f"ulimit soft limit must be less than or equal to hard limit: "
                                  f"{soft} > {hard}")
        out.append(Ulimit(item["Name"], soft, hard))
    return tuple(out)


def _mounts(obj: Mapping[str, Any]) -> tuple[MountSpec, ...]:
    mounts = [parse_bind(b) for b in _strings(obj.get("Binds"), "Binds") or ()]
    for item in obj.get("Mounts") or ():
        mounts.append(_mount(_object(item, "Mounts")))
    for target, options in _map(obj.get("Tmpfs"), "Tmpfs").items():
        mounts.append(MountSpec("tmpfs", target, options=tuple(o for o in options.split(",")
                                                                   if o)))
    targets: set[str] = set()
    for mount in mounts:
        if not mount.target.startswith("/"):
            raise InvalidArgument(f"invalid mount config: invalid mount path: '{mount.target}' "
                                  "mount path must be absolute")
        if mount.target in targets:
            raise InvalidArgument(f"Duplicate mount point: {mount.target}")
        targets.add(mount.target)
    return tuple(mounts)


def parse_bind(spec: str) -> MountSpec:
    """``/host:/ctr[:mode]``, ``name:/ctr[:mode]`` (a named volume) or ``/ctr`` (an anonymous
    volume) of ``-v``, as dockerd's Linux parser reads them."""
    parts = spec.split(":")
    if len(parts) == 1 and parts[0]:
        return MountSpec("volume", parts[0])
    if len(parts) not in (2, 3) or not parts[0] or not parts[1]:
        raise InvalidArgument(f"invalid volume specification: '{spec}'")
    source, target = parts[0], parts[1]
    mode = parts[2] if len(parts) == 3 else ""
    flags = [m for m in mode.split(",") if m]
    known = {"ro", "rw", "z", "Z", "nocopy", "private", "rprivate", "shared", "rshared",
             "slave", "rslave"}
    if any(f not in known for f in flags) or ("ro" in flags and "rw" in flags):
        raise InvalidArgument(f"invalid mode: {mode}")
    propagation = tuple(f for f in flags if f.endswith(("private", "shared", "slave")))
    if not source.startswith("/"):
        if propagation:
            raise InvalidArgument(f"invalid volume specification: '{spec}': propagation is "
                                  "not supported for volumes")
        return MountSpec("volume", target, readonly="ro" in flags, mode=mode or "z",
                         name=source, nocopy="nocopy" in flags)
    if "nocopy" in flags:
        raise InvalidArgument('invalid mount config for type "bind": field VolumeOptions must '
                              "not be specified")
    return MountSpec("bind", target, source, "ro" in flags, propagation, mode)


def _mount(item: Mapping[str, Any]) -> MountSpec:
    kind = str(item.get("Type") or "")
    target = str(item.get("Target") or "")
    if kind == "bind":
        bind = _object(item.get("BindOptions"), "BindOptions")
        propagation = str(bind.get("Propagation") or "")
        source = str(item.get("Source") or "")
        if not os.path.exists(source):
            raise InvalidArgument(f"invalid mount config for type \"bind\": bind source path "
                                  f"does not exist: {source}")
        return MountSpec("bind", target, source, bool(item.get("ReadOnly")),
                         (propagation,) if propagation else ())
    if kind == "tmpfs":
        tmpfs = _object(item.get("TmpfsOptions"), "TmpfsOptions")
        options = []
        if tmpfs.get("SizeBytes"):
            options.append(f"size={_int(tmpfs['SizeBytes'], 'SizeBytes')}")
        if tmpfs.get("Mode"):
            options.append(f"mode={_int(tmpfs['Mode'], 'Mode'):o}")
        return MountSpec("tmpfs", target, readonly=bool(item.get("ReadOnly")),
                         options=tuple(options))
    if kind == "volume":
        volume = _object(item.get("VolumeOptions"), "VolumeOptions")
        return MountSpec("volume", target, readonly=bool(item.get("ReadOnly")), mode="z",
                         name=str(item.get("Source") or ""), nocopy=bool(volume.get("NoCopy")))
    raise InvalidArgument(f"invalid mount config: mount type unknown: \"{kind}\"")


def check_name(name: str) -> str:
    """A container name as given (``x`` or ``/x``): dockerd's rule; returns ``/x``."""
    if not NAME_PATTERN.match(name):
        raise InvalidArgument(f"Invalid container name ({name}), only [a-zA-Z0-9][a-zA-Z0-9_.-] "
                              "are allowed")
    return name if name.startswith("/") else "/" + name


LOG_OPTIONS = ("max-size", "max-file", "compress", "labels", "labels-regex", "env",
               "env-regex", "tag", "mode", "max-buffer-size")


def parse_size(text: str) -> int:
    """``10m``, ``1g``, ``512k``, bytes: log-opt max-size (docker's RAMInBytes)."""
    text = text.strip().lower()
    if not text:
        return 0
    units = {"b": 1, "k": 1 << 10, "m": 1 << 20, "g": 1 << 30, "t": 1 << 40}
    number = text.rstrip("bkmgti")
    suffix = text[len(number):].removesuffix("ib").removesuffix("b") or "b"
    try:
        return int(float(number) * units[suffix[0]])
    except (ValueError, KeyError) as exc:
        raise InvalidArgument(f"invalid size: '{text}'") from exc


def _check_log_options(kind: str, options: Mapping[str, str]) -> None:
    for key in options:
        if kind == "none" or key not in LOG_OPTIONS:
            raise InvalidArgument(f"unknown log opt '{key}' for {kind} log driver")
    parse_size(options.get("max-size", ""))
    max_file = options.get("max-file", "1")
    if not max_file.isdigit() or int(max_file) < 1:
        raise InvalidArgument("max-file cannot be less than 1")
