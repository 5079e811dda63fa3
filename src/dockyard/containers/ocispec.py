"""A container's OCI runtime spec (config.json) from its Docker options, with dockerd's defaults.

The output matches what dockerd 20.10 writes for the same options
(``tests/fixtures/runtime/dockerd-busybox-config.json``): Docker's capability list and seccomp
profile, masked and read-only paths, the default mounts and device rules, the net sysctls of a
private network namespace, ``cgroupsPath`` ``/dockyard/<id>``. Then the HostConfig options:
binds and tmpfs mounts, resources, ulimits, capabilities, privileged, security options, a
read-only root, Init (Debian's tini as pid 1) and the namespaces of the modes.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from dockyard.containers import seccomp
from dockyard.containers.config import ALL_CAPS, HostConfig, MountSpec, normalize_cap
from dockyard.containers.record import Container
from dockyard.containers.users import ExecUser
from dockyard.errors import InvalidArgument

OCI_VERSION = "1.0.2-dev"
DEFAULT_PATH = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
INIT_PATH = "/sbin/docker-init"
TINI = "/usr/bin/tini-static"
DEFAULT_CAPS = (
    "CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FSETID", "CAP_FOWNER", "CAP_MKNOD", "CAP_NET_RAW",
    "CAP_SETGID", "CAP_SETUID", "CAP_SETFCAP", "CAP_SETPCAP", "CAP_NET_BIND_SERVICE",
    "CAP_SYS_CHROOT", "CAP_KILL", "CAP_AUDIT_WRITE",
)
MASKED_PATHS = (
    "/proc/asound", "/proc/acpi", "/proc/kcore", "/proc/keys", "/proc/latency_stats",
    "/proc/timer_list", "/proc/timer_stats", "/proc/sched_debug", "/proc/scsi", "/sys/firmware",
)
READONLY_PATHS = ("/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger")
DEVICE_RULES = (
    {"allow": False, "access": "rwm"},
    {"allow": True, "type": "c", "major": 1, "minor": 5, "access": "rwm"},
    {"allow": True, "type": "c", "major": 1, "minor": 3, "access": "rwm"},
    {"allow": True, "type": "c", "major": 1, "minor": 9, "access": "rwm"},
    {"allow": True, "type": "c", "major": 1, "minor": 8, "access": "rwm"},
    {"allow": True, "type": "c", "major": 5, "minor": 0, "access": "rwm"},
    {"allow": True, "type": "c", "major": 5, "minor": 1, "access": "rwm"},
    {"allow": False, "type": "c", "major": 10, "minor": 229, "access": "rwm"},
)
NET_SYSCTLS = {"net.ipv4.ip_unprivileged_port_start": "0",
               "net.ipv4.ping_group_range": "0 2147483647"}
RLIMITS = {
    "cpu": "RLIMIT_CPU", "fsize": "RLIMIT_FSIZE", "data": "RLIMIT_DATA", "stack": "RLIMIT_STACK",
    "core": "RLIMIT_CORE", "rss": "RLIMIT_RSS", "nproc": "RLIMIT_NPROC",
    "nofile": "RLIMIT_NOFILE", "memlock": "RLIMIT_MEMLOCK", "as": "RLIMIT_AS",
    "locks": "RLIMIT_LOCKS", "sigpending": "RLIMIT_SIGPENDING", "msgqueue": "RLIMIT_MSGQUEUE",
    "nice": "RLIMIT_NICE", "rtprio": "RLIMIT_RTPRIO", "rttime": "RLIMIT_RTTIME",
}


@dataclass(frozen=True, slots=True)
class Paths:
    """Where the files of a container are on the host."""

    rootfs: str
    hostname: str
    hosts: str
    resolv_conf: str
    netns: str = ""          # a pinned namespace to join ("" with host networking)


def build(container: Container, user: ExecUser, paths: Paths, hostname: str) -> dict[str, Any]:
    """config.json for ``container`` (its Config already merged with the image's)."""
    host = container.host
    caps = capabilities(host)
    spec: dict[str, Any] = {
        "ociVersion": "1.1.0" if container.config.domainname else OCI_VERSION,
        "process": process(container, user, caps, hostname),
        "root": {"path": paths.rootfs, **({"readonly": True} if host.readonly_rootfs else {})},
        "hostname": "" if host.uts_mode == "host" else hostname,
        "mounts": mounts(host, paths),
        "linux": linux(container, caps, paths),
    }
    if container.config.domainname:
        spec["domainname"] = container.config.domainname
    return spec


def environment(container: Container, hostname: str) -> list[str]:
    base = [DEFAULT_PATH, f"HOSTNAME={hostname}"]
    if container.config.tty:
        base.append("TERM=xterm")
    merged: dict[str, str] = {}
    for item in (*base, *(container.config.env or ())):
        merged[item.split("=", 1)[0]] = item
    return list(merged.values())


def process(container: Container, user: ExecUser, caps: Sequence[str],
            hostname: str) -> dict[str, Any]:
    config, host = container.config, container.host
    args = list(config.command())
    if host.init:
        args = [INIT_PATH, "--", *args]
    out: dict[str, Any] = {"terminal": True} if config.tty else {}
    if config.tty and host.console_size != (0, 0):
        out["consoleSize"] = {"height": host.console_size[0], "width": host.console_size[1]}
    out["user"] = {"uid": user.uid, "gid": user.gid,
                   **({"additionalGids": list(user.additional_gids)}
                      if user.additional_gids else {})}
    out.update({"args": args, "env": environment(container, hostname),
                "cwd": config.working_dir or "/"})
    out["capabilities"] = {"bounding": list(caps), "effective": list(caps),
                           "permitted": list(caps)}
    if host.ulimits:
        out["rlimits"] = [{"type": _rlimit(u.name), "hard": u.hard, "soft": u.soft}
                          for u in host.ulimits]
    if no_new_privileges(host):
        out["noNewPrivileges"] = True
    out["oomScoreAdj"] = host.oom_score_adj
    return out


def _rlimit(name: str) -> str:
    if name not in RLIMITS:
        raise InvalidArgument(f"invalid ulimit type: {name}")
    return RLIMITS[name]


def no_new_privileges(host: HostConfig) -> bool:
    for option in host.security_opt:
        key, _, value = option.replace(":", "=", 1).partition("=")
        if key == "no-new-privileges":
            return value in ("", "true")
    return False


def capabilities(host: HostConfig) -> list[str]:
    """Docker's ``TweakCapabilities``: the default set, CapAdd, CapDrop ("ALL" allowed)."""
    if host.privileged:
        return list(grantable_caps())
    add = [normalize_cap(c) for c in host.cap_add]
    drop = [normalize_cap(c) for c in host.cap_drop]
    if "ALL" in add:
        base = list(grantable_caps())
    elif "ALL" in drop:
        base = []
    else:
        base = list(DEFAULT_CAPS)
    base = [c for c in base if c not in drop or c in add]
    base += [c for c in add if c != "ALL" and c not in base]
    return base


def grantable_caps() -> tuple[str, ...]:
    """Every capability this kernel has and this daemon may grant (its bounding set: a
    sandboxed daemon may lack some, and asking for them would fail the container)."""
    try:
        with open("/proc/sys/kernel/cap_last_cap") as handle:
            last = int(handle.read())
    except (OSError, ValueError):
        last = len(ALL_CAPS) - 1
    bounding = (1 << (last + 1)) - 1
    try:
        with open("/proc/self/status") as handle:
            for line in handle:
                if line.startswith("CapBnd:"):
                    bounding = int(line.split()[1], 16)
    except (OSError, ValueError):
        pass
    return tuple(cap for bit, cap in enumerate(ALL_CAPS[: last + 1]) if bounding >> bit & 1)


def mounts(host: HostConfig, paths: Paths) -> list[dict[str, Any]]:
    ro = ["ro"] if not host.privileged else []
    out: list[dict[str, Any]] = [
        {"destination": "/proc", "type": "proc", "source": "proc",
         "options": ["nosuid", "noexec", "nodev"]},
        {"destination": "/dev", "type": "tmpfs", "source": "tmpfs",
         "options": ["nosuid", "strictatime", "mode=755", "size=65536k"]},
        {"destination": "/dev/pts", "type": "devpts", "source": "devpts",
         "options": ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"]},
        {"destination": "/sys", "type": "sysfs", "source": "sysfs",
         "options": ["nosuid", "noexec", "nodev", *ro]},
        {"destination": "/sys/fs/cgroup", "type": "cgroup", "source": "cgroup",
         "options": [*ro, "nosuid", "noexec", "nodev"]},
        {"destination": "/dev/mqueue", "type": "mqueue", "source": "mqueue",
         "options": ["nosuid", "noexec", "nodev"]},
    ]
    if host.ipc_mode not in ("host", "none") and not host.ipc_mode.startswith("container:"):
        out.append({"destination": "/dev/shm", "type": "tmpfs", "source": "shm",
                    "options": ["nosuid", "noexec", "nodev", "mode=1777",
                                f"size={host.shm_size}"]})
    extra = [_user_mount(m) for m in host.mounts]
    user_targets = {m.target for m in host.mounts}
    for destination, source in (("/etc/resolv.conf", paths.resolv_conf),
                                ("/etc/hostname", paths.hostname), ("/etc/hosts", paths.hosts)):
        if destination not in user_targets:
            extra.append({"destination": destination, "type": "bind", "source": source,
                          "options": ["rbind", "rprivate"]})
    if host.init:
        extra.append({"destination": INIT_PATH, "type": "bind", "source": TINI,
                      "options": ["bind", "ro"]})
    out = [m for m in out if m["destination"] not in user_targets]
    extra.sort(key=lambda m: len([p for p in m["destination"].split("/") if p]))
    return out + extra


def _user_mount(mount: MountSpec) -> dict[str, Any]:
    if mount.type in ("bind", "volume"):  # a volume: its host path, bound as dockerd does
        propagation = list(mount.options) or ["rprivate"]
        options = ["rbind", *propagation]
        if mount.readonly:
            options.append("ro")
        return {"destination": mount.target, "type": "bind", "source": mount.source,
                "options": options}
    options = ["noexec", "nosuid", "nodev"]
    for option in mount.options:
        flag = option.removeprefix("no")
        if option in ("exec", "suid", "dev"):
            options = [o for o in options if o != "no" + option]
        elif flag in ("exec", "suid", "dev"):
            continue
        else:
            options.append(option)
    if mount.readonly:
        options.append("ro")
    return {"destination": mount.target, "type": "tmpfs", "source": "tmpfs", "options": options}


def linux(container: Container, caps: Sequence[str], paths: Paths) -> dict[str, Any]:
    host = container.host
    out: dict[str, Any] = {}
    sysctls = dict(NET_SYSCTLS) if not host.host_network else {}
    sysctls.update(host.sysctls)
    if sysctls:
        out["sysctl"] = sysctls
    out["resources"] = resources(host)
    parent = host.cgroup_parent or "/dockyard"
    out["cgroupsPath"] = f"{parent.rstrip('/')}/{container.id}"
    out["namespaces"] = namespaces(host, paths)
    if host.privileged:
        out["devices"] = host_devices()
    elif host.devices:
        out["devices"] = [_device(d) for d in host.devices]
    if not host.privileged:
        profile = _seccomp_profile(host)
        if profile is not None:
            out["seccomp"] = seccomp.oci_seccomp(profile, caps)
        out["maskedPaths"] = list(MASKED_PATHS if host.masked_paths is None
                                  else host.masked_paths)
        out["readonlyPaths"] = list(READONLY_PATHS if host.readonly_paths is None
                                    else host.readonly_paths)
    return out


def _seccomp_profile(host: HostConfig) -> Mapping[str, Any] | None:
    for option in host.security_opt:
        key, _, value = option.partition("=")
        if key == "seccomp":
            if value == "unconfined":
                return None
            return seccomp.load_profile(value)
    return seccomp.default_profile()


def resources(host: HostConfig) -> dict[str, Any]:
    rules: list[dict[str, Any]] = ([{"allow": True, "access": "rwm"}] if host.privileged
                                   else [dict(r) for r in DEVICE_RULES])
    if not host.privileged:
        for device in host.devices:
            node = _device(device)
            rules.append({"allow": True, "type": node["type"], "major": node["major"],
                          "minor": node["minor"],
                          "access": str(device.get("CgroupPermissions") or "rwm")})
    memory: dict[str, Any] = {}
    if host.memory:
        memory["limit"] = host.memory
    if host.memory_reservation:
        memory["reservation"] = host.memory_reservation
    if host.memory_swap:
        memory["swap"] = host.memory_swap
    if host.memory_swappiness is not None:
        memory["swappiness"] = host.memory_swappiness
    memory["disableOOMKiller"] = bool(host.oom_kill_disable)
    cpu: dict[str, Any] = {"shares": host.cpu_shares}
    if host.nano_cpus:
        cpu["period"] = 100000
        cpu["quota"] = host.nano_cpus * 100000 // 10**9
    if host.cpu_quota:
        cpu["quota"] = host.cpu_quota
    if host.cpu_period:
        cpu["period"] = host.cpu_period
    if host.cpuset_cpus:
        cpu["cpus"] = host.cpuset_cpus
    if host.cpuset_mems:
        cpu["mems"] = host.cpuset_mems
    out: dict[str, Any] = {"devices": rules, "memory": memory, "cpu": cpu}
    if host.pids_limit is not None:
        out["pids"] = {"limit": host.pids_limit if host.pids_limit > 0 else -1}
    out["blockIO"] = {"weight": 0}
    return out


def namespaces(host: HostConfig, paths: Paths) -> list[dict[str, str]]:
    out: list[dict[str, str]] = [{"type": "mount"}]
    if not host.host_network:
        out.append({"type": "network", **({"path": paths.netns} if paths.netns else {})})
    if host.uts_mode != "host":
        out.append({"type": "uts"})
    if host.pid_mode != "host":
        out.append(_joined("pid", host.pid_mode))
    if host.ipc_mode != "host":
        out.append(_joined("ipc", host.ipc_mode))
    return out


def _joined(kind: str, mode: str) -> dict[str, str]:
    if mode.startswith("/proc/"):  # a container: mode resolved by the service to a path
        return {"type": kind, "path": mode}
    return {"type": kind}


def _device(device: Mapping[str, Any]) -> dict[str, Any]:
    host_path = str(device.get("PathOnHost") or "")
    inside = str(device.get("PathInContainer") or host_path)
    try:
        info = os.stat(host_path)
    except OSError as exc:
        raise InvalidArgument(f"error gathering device information while adding custom "
                              f"device \"{host_path}\": {exc.strerror}") from exc
    if not (stat.S_ISCHR(info.st_mode) or stat.S_ISBLK(info.st_mode)):
        raise InvalidArgument(f"error gathering device information while adding custom "
                              f"device \"{host_path}\": not a device node")
    return _node(inside, info)


def _node(path: str, info: os.stat_result) -> dict[str, Any]:
    return {"path": path, "type": "c" if stat.S_ISCHR(info.st_mode) else "b",
            "major": os.major(info.st_rdev), "minor": os.minor(info.st_rdev),
            "fileMode": stat.S_IMODE(info.st_mode), "uid": info.st_uid, "gid": info.st_gid}


def host_devices(root: str = "/dev") -> list[dict[str, Any]]:
    """Every device node of the host's /dev, for a privileged container (as dockerd)."""
    found = []
    for directory, dirs, files in os.walk(root):
        dirs[:] = [d for d in dirs if os.path.join(directory, d) not in
                   ("/dev/pts", "/dev/shm", "/dev/mqueue")]
        for name in files:
            path = os.path.join(directory, name)
            if path in ("/dev/console", "/dev/ptmx", "/dev/tty"):
                continue
            try:
                info = os.lstat(path)
            except OSError:
                continue
            if stat.S_ISCHR(info.st_mode) or stat.S_ISBLK(info.st_mode):
                found.append(_node(path, info))
    return found
