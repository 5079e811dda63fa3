"""config.json (the OCI runtime spec, versions 1.0 to 1.2) as immutable values.

:func:`parse` checks the type of every field it knows and names the field in each error, e.g.
``config.json: linux.namespaces[2].type: unknown namespace type "foo"``. Fields it does not know
are ignored, as runc ignores them, so a newer spec still loads. What only a running container
can check (a cwd inside the root, a user in /etc/passwd) is checked by the init, not here.

The resources, seccomp and capabilities values are the ones the confinement modules take
(``cgroups/``, ``seccomp.py``, ``capabilities.py``). Field names are the spec's, in snake case.
"""

from __future__ import annotations

from types import MappingProxyType

from dockyard.errors import InvalidArgument
from dockyard.runtime.record import Record

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Mapping

EMPTY: Mapping[str, str] = MappingProxyType({})

NAMESPACE_TYPES = ("pid", "network", "mount", "ipc", "uts", "user", "cgroup", "time")
RLIMITS = {
    "RLIMIT_CPU": 0, "RLIMIT_FSIZE": 1, "RLIMIT_DATA": 2, "RLIMIT_STACK": 3, "RLIMIT_CORE": 4,
    "RLIMIT_RSS": 5, "RLIMIT_NPROC": 6, "RLIMIT_NOFILE": 7, "RLIMIT_MEMLOCK": 8, "RLIMIT_AS": 9,
    "RLIMIT_LOCKS": 10, "RLIMIT_SIGPENDING": 11, "RLIMIT_MSGQUEUE": 12, "RLIMIT_NICE": 13,
    "RLIMIT_RTPRIO": 14, "RLIMIT_RTTIME": 15,
}  # fmt: skip
PROPAGATIONS = ("", "private", "rprivate", "slave", "rslave", "shared", "rshared",
                "unbindable", "runbindable")


class Root(Record):
    path: str
    readonly: bool = False


class Mount(Record):
    destination: str
    type: str = ""
    source: str = ""
    options: tuple[str, ...] = ()


class Rlimit(Record):
    type: str
    soft: int
    hard: int


class User(Record):
    uid: int = 0
    gid: int = 0
    umask: int | None = None
    additional_gids: tuple[int, ...] = ()
    username: str = ""


class ConsoleSize(Record):
    height: int = 0
    width: int = 0


class Capabilities(Record):
    bounding: tuple[str, ...] = ()
    effective: tuple[str, ...] = ()
    inheritable: tuple[str, ...] = ()
    permitted: tuple[str, ...] = ()
    ambient: tuple[str, ...] = ()


class Process(Record):
    args: tuple[str, ...]
    cwd: str
    terminal: bool = False
    console_size: ConsoleSize | None = None
    user: User = User()
    env: tuple[str, ...] = ()
    capabilities: Capabilities | None = None
    rlimits: tuple[Rlimit, ...] = ()
    no_new_privileges: bool = False
    apparmor_profile: str = ""
    oom_score_adj: int | None = None
    selinux_label: str = ""


class Hook(Record):
    path: str
    args: tuple[str, ...] = ()
    env: tuple[str, ...] | None = None
    """None when absent: the hook inherits the environment of whoever runs it."""
    timeout: int | None = None


class Hooks(Record):
    prestart: tuple[Hook, ...] = ()
    create_runtime: tuple[Hook, ...] = ()
    create_container: tuple[Hook, ...] = ()
    start_container: tuple[Hook, ...] = ()
    poststart: tuple[Hook, ...] = ()
    poststop: tuple[Hook, ...] = ()


class Namespace(Record):
    type: str
    path: str = ""


class IdMapping(Record):
    container_id: int
    host_id: int
    size: int


class Device(Record):
    """A device node to create in the container (``linux.devices``)."""

    type: str
    path: str
    major: int = 0
    minor: int = 0
    file_mode: int | None = None
    uid: int | None = None
    gid: int | None = None


class DeviceRule(Record):
    """One entry of the device cgroup list (``linux.resources.devices``)."""

    allow: bool
    type: str = "a"
    major: int | None = None
    minor: int | None = None
    access: str = "rwm"


class Memory(Record):
    limit: int | None = None
    reservation: int | None = None
    swap: int | None = None
    kernel: int | None = None
    kernel_tcp: int | None = None
    swappiness: int | None = None
    disable_oom_killer: bool | None = None
    use_hierarchy: bool | None = None


class Cpu(Record):
    shares: int | None = None
    quota: int | None = None
    burst: int | None = None
    period: int | None = None
    realtime_runtime: int | None = None
    realtime_period: int | None = None
    cpus: str = ""
    mems: str = ""
    idle: int | None = None


class Pids(Record):
    limit: int


class DeviceWeight(Record):
    major: int
    minor: int
    weight: int | None = None
    leaf_weight: int | None = None


class DeviceRate(Record):
    major: int
    minor: int
    rate: int


class BlockIO(Record):
    weight: int | None = None
    leaf_weight: int | None = None
    weight_device: tuple[DeviceWeight, ...] = ()
    throttle_read_bps_device: tuple[DeviceRate, ...] = ()
    throttle_write_bps_device: tuple[DeviceRate, ...] = ()
    throttle_read_iops_device: tuple[DeviceRate, ...] = ()
    throttle_write_iops_device: tuple[DeviceRate, ...] = ()


class HugepageLimit(Record):
    page_size: str
    limit: int


class Resources(Record):
    devices: tuple[DeviceRule, ...] = ()
    memory: Memory | None = None
    cpu: Cpu | None = None
    pids: Pids | None = None
    block_io: BlockIO | None = None
    hugepage_limits: tuple[HugepageLimit, ...] = ()
    unified: Mapping[str, str] = EMPTY


class SeccompArg(Record):
    index: int
    value: int
    op: str
    value_two: int = 0


class SeccompRule(Record):
    names: tuple[str, ...]
    action: str
    errno_ret: int | None = None
    args: tuple[SeccompArg, ...] = ()


class Seccomp(Record):
    default_action: str
    default_errno_ret: int | None = None
    architectures: tuple[str, ...] = ()
    flags: tuple[str, ...] = ()
    listener_path: str = ""
    listener_metadata: str = ""
    syscalls: tuple[SeccompRule, ...] = ()


class Linux(Record):
    namespaces: tuple[Namespace, ...] = ()
    uid_mappings: tuple[IdMapping, ...] = ()
    gid_mappings: tuple[IdMapping, ...] = ()
    devices: tuple[Device, ...] = ()
    cgroups_path: str = ""
    resources: Resources | None = None
    rootfs_propagation: str = ""
    seccomp: Seccomp | None = None
    sysctl: Mapping[str, str] = EMPTY
    masked_paths: tuple[str, ...] = ()
    readonly_paths: tuple[str, ...] = ()
    mount_label: str = ""

    def namespace(self, kind: str) -> Namespace | None:
        """The entry for namespace ``kind`` ("pid", "network", ...), or None."""
        for namespace in self.namespaces:
            if namespace.type == kind:
                return namespace
        return None


class Spec(Record):
    oci_version: str
    root: Root | None = None
    mounts: tuple[Mount, ...] = ()
    process: Process | None = None
    hostname: str = ""
    domainname: str = ""
    hooks: Hooks = Hooks()
    annotations: Mapping[str, str] = EMPTY
    linux: Linux = Linux()


def parse(data: bytes, what: str = "config.json") -> Spec:
    """Parse a config.json; errors are :class:`InvalidArgument` naming ``what`` and the field."""
    from dockyard.runtime.specread import read_spec

    return read_spec(data, what)


def parse_process(data: bytes, what: str) -> Process:
    """Parse a process.json (``exec --process``)."""
    from dockyard.runtime.specread import read_process

    return read_process(data, what)


def version_at_least(version: str, major: int, minor: int) -> bool:
    """Whether an ``ociVersion`` such as "1.0.2-dev" is at least ``major.minor``."""
    parts = version.split("-", 1)[0].split(".")
    try:
        return (int(parts[0]), int(parts[1]) if len(parts) > 1 else 0) >= (major, minor)
    except ValueError:
        return False


def load(bundle: str, name: str = "config.json") -> tuple[Spec, bytes]:
    """Read and parse ``<bundle>/config.json``; returns the spec and the bytes read."""
    path = f"{bundle.rstrip('/')}/{name}"
    try:
        with open(path, "rb") as file:
            data = file.read()
    except FileNotFoundError as exc:
        from dockyard.errors import NotFound

        raise NotFound(f"{path}: no such file (is --bundle right?)") from exc
    except OSError as exc:
        raise InvalidArgument(f"{path}: {exc.strerror}") from exc
    return parse(data, name), data
