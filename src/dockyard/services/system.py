"""The engine as a whole: version, info and disk usage, in the shapes of dockerd 20.10 (API 1.41).

Facts about the host (kernel, OS release, CPUs, memory, cgroups) are probed once, on the first
``info`` call, so the daemon starts without reading /proc and /sys. Counts and sizes that change
(images, layers) are asked for on every call from the image service through the small
:class:`ImageSummaries` protocol.
"""

from __future__ import annotations

import os
import platform
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

API_VERSION = "1.41"
MIN_API_VERSION = "1.24"
INDEX_SERVER = "https://index.docker.io/v1/"

# Go's GOARCH for each uname machine (docker version prints OS/Arch with these).
_GO_ARCH = {
    "x86_64": "amd64", "amd64": "amd64", "aarch64": "arm64", "arm64": "arm64",
    "armv7l": "arm", "armv6l": "arm", "i386": "386", "i686": "386",
    "ppc64le": "ppc64le", "s390x": "s390x", "riscv64": "riscv64",
}
# Filesystem names as dockerd's fsutils reports the backing filesystem.
_FS_NAMES = {"ext2": "extfs", "ext3": "extfs", "ext4": "extfs"}


class ImageSummaries(Protocol):
    """What the system endpoints need from the image service."""

    def summaries(self) -> list[dict[str, Any]]:
        """One ``GET /images/json`` item per image (all=false), as dockerd lists them."""
        ...

    def layers_size(self) -> int:
        """Bytes used by all unpacked layers, each counted once."""
        ...


class VolumeUsage(Protocol):
    """What ``system df`` needs from the volume service."""

    def disk_usage(self) -> list[dict[str, Any]]:
        """Local volumes without mount options, each with ``UsageData {RefCount, Size}``."""
        ...


class BuildUsage(Protocol):
    """What ``/system/df`` shows of the build cache."""

    def usage(self) -> tuple[list[dict[str, Any]], int]:
        """``BuildCache`` records and ``BuilderSize``."""
        ...


@dataclass(frozen=True, slots=True)
class Build:
    """What this dockyard is: its version and where it came from."""

    version: str
    git_commit: str
    build_time: str  # RFC 3339, e.g. 2026-05-07T21:09:36.000000000+00:00
    python_version: str  # shown as the "Go version"


@dataclass(frozen=True, slots=True)
class Settings:
    """How the daemon runs: what ``docker info`` reports about its configuration."""

    engine_id: str
    data_root: Path
    exec_root: Path
    driver: str  # the snapshotter name: "overlayfs" or "native"
    debug: bool = False
    runtime: str = "dockyard-runtime"


@dataclass(frozen=True, slots=True)
class Host:
    """Facts about the machine, probed once."""

    kernel: str
    operating_system: str
    os_version: str
    machine: str
    ncpu: int
    mem_total: int
    name: str
    cgroup_version: str
    cgroup_controllers: frozenset[str]
    ipv4_forwarding: bool
    bridge_nf_iptables: bool
    bridge_nf_ip6tables: bool
    backing_filesystem: str

    @property
    def go_arch(self) -> str:
        return _GO_ARCH.get(self.machine, self.machine)


class SystemService:
    """Answers /version, /info and /system/df."""

    def __init__(
        self,
        build: Build,
        settings: Settings,
        images: ImageSummaries | None = None,
        *,
        host: Callable[[Path], Host] | None = None,
        clock: Callable[[], int] = time.time_ns,
        volumes: VolumeUsage | None = None,
        builds: BuildUsage | None = None,
    ) -> None:
        self.build = build
        self.builds = builds
        self.settings = settings
        self._images = images
        self._volumes = volumes
        self._probe = host or probe_host
        self._host: Host | None = None
        self._lock = threading.Lock()
        self._clock = clock

    @property
    def host(self) -> Host:
        with self._lock:
            if self._host is None:
                self._host = self._probe(self.settings.data_root)
            return self._host

    def version(self) -> dict[str, Any]:
        build, uname = self.build, os.uname()
        arch = _GO_ARCH.get(uname.machine, uname.machine)
        details = {
            "ApiVersion": API_VERSION,
            "Arch": arch,
            "BuildTime": build.build_time,
            "Experimental": "false",
            "GitCommit": build.git_commit,
            "GoVersion": build.python_version,
            "KernelVersion": uname.release,
            "MinAPIVersion": MIN_API_VERSION,
            "Os": "linux",
        }
        return {
            "Platform": {"Name": "dockyard"},
            "Components": [{"Name": "Engine", "Version": build.version, "Details": details}],
            "Version": build.version,
            "ApiVersion": API_VERSION,
            "MinAPIVersion": MIN_API_VERSION,
            "GitCommit": build.git_commit,
            "GoVersion": build.python_version,
            "Os": "linux",
            "Arch": arch,
            "KernelVersion": uname.release,
            "BuildTime": build.build_time,
        }

    def info(self) -> dict[str, Any]:
        host, settings = self.host, self.settings
        images = len(self._images.summaries()) if self._images is not None else 0
        info: dict[str, Any] = {
            "ID": settings.engine_id,
            "Containers": 0,
            "ContainersRunning": 0,
            "ContainersPaused": 0,
            "ContainersStopped": 0,
            "Images": images,
            "Driver": settings.driver,
            "DriverStatus": self._driver_status(host),
            "Plugins": {"Volume": [], "Network": [], "Authorization": None, "Log": []},
            **_limits(host),
            "IPv4Forwarding": host.ipv4_forwarding,
            "BridgeNfIptables": host.bridge_nf_iptables,
            "BridgeNfIp6tables": host.bridge_nf_ip6tables,
            "Debug": settings.debug,
            "NFd": _count_fds(),
            "NGoroutines": threading.active_count(),
            "SystemTime": rfc3339_nano(self._clock()),
            "LoggingDriver": "json-file",
            "CgroupDriver": "cgroupfs",
            "CgroupVersion": host.cgroup_version,
            "NEventsListener": 0,
            "KernelVersion": host.kernel,
            "OperatingSystem": host.operating_system,
            "OSVersion": host.os_version,
            "OSType": "linux",
            "Architecture": host.machine,
            "IndexServerAddress": INDEX_SERVER,
            "RegistryConfig": _registry_config(),
            "NCPU": host.ncpu,
            "MemTotal": host.mem_total,
            "GenericResources": None,
            "DockerRootDir": str(settings.data_root),
            "HttpProxy": os.environ.get("HTTP_PROXY", os.environ.get("http_proxy", "")),
            "HttpsProxy": os.environ.get("HTTPS_PROXY", os.environ.get("https_proxy", "")),
            "NoProxy": os.environ.get("NO_PROXY", os.environ.get("no_proxy", "")),
            "Name": host.name,
            "Labels": [],
            "ExperimentalBuild": False,
            "ServerVersion": self.build.version,
            "Runtimes": {settings.runtime: {"path": settings.runtime}},
            "DefaultRuntime": settings.runtime,
            "Swarm": {
                "NodeID": "", "NodeAddr": "", "LocalNodeState": "inactive",
                "ControlAvailable": False, "Error": "", "RemoteManagers": None,
            },
            "LiveRestoreEnabled": False,
            "Isolation": "",
            "InitBinary": "",
            "ContainerdCommit": {"ID": "", "Expected": ""},
            "RuncCommit": {"ID": "", "Expected": ""},
            "InitCommit": {"ID": "", "Expected": ""},
            "SecurityOptions": [],
        }
        info["Warnings"] = _warnings(info) or None
        return info

    def _driver_status(self, host: Host) -> list[list[str]]:
        status = [["Backing Filesystem", host.backing_filesystem]]
        if self.settings.driver == "overlayfs":
            status.append(["Supports d_type", "true"])
        return status

    def disk_usage(self) -> dict[str, Any]:
        images = self._images.summaries() if self._images is not None else []
        layers = self._images.layers_size() if self._images is not None else 0
        usage: dict[str, Any] = {
            "LayersSize": layers,
            "Images": images,
            "Containers": [],
            "Volumes": self._volumes.disk_usage() if self._volumes is not None else [],
            "BuildCache": None,
            "BuilderSize": 0,
        }
        if self.builds is not None:
            records, size = self.builds.usage()
            usage["BuildCache"] = records or None
            usage["BuilderSize"] = size
        return usage


def _limits(host: Host) -> dict[str, bool]:
    has = host.cgroup_controllers.__contains__
    v1 = host.cgroup_version == "1"
    return {
        "MemoryLimit": has("memory"),
        "SwapLimit": has("memory"),
        "KernelMemory": v1 and has("memory"),
        "KernelMemoryTCP": v1 and has("memory"),
        "CpuCfsPeriod": has("cpu"),
        "CpuCfsQuota": has("cpu"),
        "CPUShares": has("cpu"),
        "CPUSet": has("cpuset"),
        "PidsLimit": has("pids"),
        "OomKillDisable": v1 and has("memory"),
    }


# dockerd 20.10's server-side warnings (daemon/info*.go), in its order and words.
_WARNINGS = (
    ("MemoryLimit", "WARNING: No memory limit support"),
    ("SwapLimit", "WARNING: No swap limit support"),
    ("OomKillDisable", "WARNING: No oom kill disable support"),
    ("CpuCfsQuota", "WARNING: No cpu cfs quota support"),
    ("CpuCfsPeriod", "WARNING: No cpu cfs period support"),
    ("CPUShares", "WARNING: No cpu shares support"),
    ("CPUSet", "WARNING: No cpuset support"),
    ("IPv4Forwarding", "WARNING: IPv4 forwarding is disabled"),
    ("BridgeNfIptables", "WARNING: bridge-nf-call-iptables is disabled"),
    ("BridgeNfIp6tables", "WARNING: bridge-nf-call-ip6tables is disabled"),
)


def _warnings(info: dict[str, Any]) -> list[str]:
    v2 = info["CgroupVersion"] == "2"
    return [
        text for key, text in _WARNINGS
        if not info[key] and not (v2 and key == "OomKillDisable")
    ]


def _registry_config() -> dict[str, Any]:
    return {
        "AllowNondistributableArtifactsCIDRs": [],
        "AllowNondistributableArtifactsHostnames": [],
        "InsecureRegistryCIDRs": ["127.0.0.0/8"],
        "IndexConfigs": {
            "docker.io": {"Name": "docker.io", "Mirrors": [], "Secure": True, "Official": True}
        },
        "Mirrors": [],
    }


def rfc3339_nano(ns: int) -> str:
    """Go's time.RFC3339Nano in UTC: trailing zeros of the fraction dropped."""
    seconds, frac = divmod(ns, 1_000_000_000)
    text = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(seconds))
    if frac:
        text += "." + f"{frac:09d}".rstrip("0")
    return text + "Z"


def _count_fds() -> int:
    try:
        return len(os.listdir("/proc/self/fd"))
    except OSError:
        return 0


def probe_host(data_root: Path) -> Host:
    release = _os_release(Path("/etc/os-release"))
    version, controllers = _cgroups(Path("/sys/fs/cgroup"))
    return Host(
        kernel=os.uname().release,
        operating_system=release.get("PRETTY_NAME", "Linux"),
        os_version=release.get("VERSION_ID", ""),
        machine=platform.machine(),
        ncpu=len(os.sched_getaffinity(0)),
        mem_total=_mem_total(Path("/proc/meminfo")),
        name=socket.gethostname(),
        cgroup_version=version,
        cgroup_controllers=controllers,
        ipv4_forwarding=_sysctl_on("net/ipv4/ip_forward"),
        bridge_nf_iptables=_sysctl_on("net/bridge/bridge-nf-call-iptables"),
        bridge_nf_ip6tables=_sysctl_on("net/bridge/bridge-nf-call-ip6tables"),
        backing_filesystem=backing_filesystem(data_root, Path("/proc/self/mountinfo")),
    )


def _os_release(path: Path) -> dict[str, str]:
    fields: dict[str, str] = {}
    try:
        lines = path.read_text().splitlines()
    except OSError:
        return fields
    for line in lines:
        key, eq, value = line.partition("=")
        if eq:
            fields[key.strip()] = value.strip().strip('"')
    return fields


def _cgroups(root: Path) -> tuple[str, frozenset[str]]:
    try:
        return "2", frozenset((root / "cgroup.controllers").read_text().split())
    except OSError:
        pass
    names = {"memory", "cpu", "cpuset", "pids"}
    return "1", frozenset(n for n in names if (root / n).is_dir())


def _mem_total(path: Path) -> int:
    try:
        for line in path.read_text().splitlines():
            if line.startswith("MemTotal:"):
                return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return 0


def _sysctl_on(name: str) -> bool:
    try:
        return Path("/proc/sys", name).read_text().strip() == "1"
    except OSError:
        return False


def backing_filesystem(path: Path, mountinfo: Path) -> str:
    """The type of the filesystem ``path`` lives on, named as dockerd names it."""
    target = os.path.realpath(path)
    best, fstype = "", "unknown"
    try:
        lines = mountinfo.read_text().splitlines()
    except OSError:
        return fstype
    for line in lines:
        left, sep, right = line.partition(" - ")
        fields = left.split()
        if not sep or len(fields) < 5:
            continue
        point = fields[4].replace("\\040", " ")
        inside = target == point or target.startswith(point.rstrip("/") + "/")
        if inside and len(point) >= len(best):
            best, fstype = point, right.split()[0]
    return _FS_NAMES.get(fstype, fstype)
