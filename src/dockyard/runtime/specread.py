"""Reading config.json into the values of ``spec.py``: every known field's type is checked and
each error names the document and the field (``config.json: linux.namespaces[2].type: ...``).
"""

from __future__ import annotations

from types import MappingProxyType

from dockyard.errors import InvalidArgument
from dockyard.runtime.jsontext import loads
from dockyard.runtime.spec import (
    EMPTY,
    NAMESPACE_TYPES,
    PROPAGATIONS,
    RLIMITS,
    BlockIO,
    Capabilities,
    ConsoleSize,
    Cpu,
    Device,
    DeviceRate,
    DeviceRule,
    DeviceWeight,
    Hook,
    Hooks,
    HugepageLimit,
    IdMapping,
    Linux,
    Memory,
    Mount,
    Namespace,
    Pids,
    Process,
    Resources,
    Rlimit,
    Root,
    Seccomp,
    SeccompArg,
    SeccompRule,
    Spec,
    User,
    version_at_least,
)

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Mapping

    from dockyard.runtime.jsontext import JSON

_U32 = (0, 2**32 - 1)
_U64 = (0, 2**64 - 1)
_I64 = (-(2**63), 2**63 - 1)


class _Obj:
    """One decoded JSON object and its path, with typed getters that name the field on error."""

    __slots__ = ("data", "path", "what")

    def __init__(self, data: dict[str, JSON], what: str, path: str = "") -> None:
        self.data = data
        self.what = what
        self.path = path

    def where(self, key: str) -> str:
        return f"{self.path}.{key}" if self.path else key

    def error(self, key: str, problem: str) -> InvalidArgument:
        return InvalidArgument(f"{self.what}: {self.where(key)}: {problem}")

    def _want(self, key: str, kind: str) -> InvalidArgument:
        value = self.data.get(key)
        got = "array" if isinstance(value, list) else "object" if isinstance(value, dict) \
            else "boolean" if isinstance(value, bool) else "number" \
            if isinstance(value, int | float) else "string"
        return self.error(key, f"want {kind}, got {got}")

    def string(self, key: str, default: str = "", *, required: bool = False) -> str:
        value = self.data.get(key)
        if value is None:
            if required:
                raise self.error(key, "missing")
            return default
        if not isinstance(value, str):
            raise self._want(key, "string")
        return value

    def boolean(self, key: str) -> bool:
        value = self.data.get(key)
        if value is None:
            return False
        if not isinstance(value, bool):
            raise self._want(key, "boolean")
        return value

    def opt_boolean(self, key: str) -> bool | None:
        return None if self.data.get(key) is None else self.boolean(key)

    def integer(self, key: str, limits: tuple[int, int] = _I64, *, required: bool = False) -> int:
        value = self.opt_integer(key, limits)
        if value is None:
            if required:
                raise self.error(key, "missing")
            return 0
        return value

    def opt_integer(self, key: str, limits: tuple[int, int] = _I64) -> int | None:
        value = self.data.get(key)
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int):
            raise self._want(key, "integer")
        if not limits[0] <= value <= limits[1]:
            raise self.error(key, f"{value} is out of range [{limits[0]}, {limits[1]}]")
        return value

    def strs(self, key: str) -> tuple[str, ...]:
        value = self.data.get(key)
        if value is None:
            return ()
        if not isinstance(value, list):
            raise self._want(key, "array of strings")
        for index, item in enumerate(value):
            if not isinstance(item, str):
                raise self.error(f"{key}[{index}]", "want string")
        return tuple(value)  # type: ignore[arg-type]

    def str_map(self, key: str) -> Mapping[str, str]:
        value = self.data.get(key)
        if value is None:
            return EMPTY
        if not isinstance(value, dict):
            raise self._want(key, "object of strings")
        for name, item in value.items():
            if not isinstance(item, str):
                raise self.error(f"{key}[{name!r}]", "want string")
        return MappingProxyType(value)  # type: ignore[arg-type]

    def obj(self, key: str) -> _Obj | None:
        value = self.data.get(key)
        if value is None:
            return None
        if not isinstance(value, dict):
            raise self._want(key, "object")
        return _Obj(value, self.what, self.where(key))

    def objs(self, key: str) -> list[_Obj]:
        value = self.data.get(key)
        if value is None:
            return []
        if not isinstance(value, list):
            raise self._want(key, "array")
        out = []
        for index, item in enumerate(value):
            if not isinstance(item, dict):
                raise self.error(f"{key}[{index}]", "want object")
            out.append(_Obj(item, self.what, self.where(f"{key}[{index}]")))
        return out


def read_spec(data: bytes, what: str = "config.json") -> Spec:
    """Parse a config.json; errors are :class:`InvalidArgument` naming ``what`` and the field."""
    top = loads(data, what)
    if not isinstance(top, dict):
        raise InvalidArgument(f"{what}: want a JSON object")
    obj = _Obj(top, what)
    root = obj.obj("root")
    process = obj.obj("process")
    hooks = obj.obj("hooks")
    linux = obj.obj("linux")
    version = obj.string("ociVersion", required=True)
    return Spec(
        oci_version=version,
        root=None if root is None else Root(path=root.string("path", required=True),
                                            readonly=root.boolean("readonly")),
        mounts=tuple(_mount(item) for item in obj.objs("mounts")),
        process=None if process is None else _process(process),
        hostname=obj.string("hostname"),
        # "domainname" is a field from runtime-spec 1.1 on; in a 1.0 config it is an unknown
        # field, ignored as runc 1.1 (a 1.0 runtime) ignores it.
        domainname=obj.string("domainname") if version_at_least(version, 1, 1) else "",
        hooks=Hooks() if hooks is None else _hooks(hooks),
        annotations=obj.str_map("annotations"),
        linux=Linux() if linux is None else _linux(linux),
    )


def read_teardown(data: bytes, what: str = "config.json") -> Spec:
    """The part of a config.json that ``delete`` uses: ``hooks``, ``annotations`` and
    ``linux.namespaces``; every other field keeps its default (create checked the whole file
    before it saved it). Skips the seccomp profile, most of Docker's config."""
    top = loads(data, what)
    if not isinstance(top, dict):
        raise InvalidArgument(f"{what}: want a JSON object")
    obj = _Obj(top, what)
    hooks = obj.obj("hooks")
    linux = obj.obj("linux")
    namespaces = () if linux is None else tuple(
        Namespace(type=item.string("type", required=True), path=item.string("path"))
        for item in linux.objs("namespaces"))
    return Spec(oci_version=obj.string("ociVersion", required=True),
                hooks=Hooks() if hooks is None else _hooks(hooks),
                annotations=obj.str_map("annotations"), linux=Linux(namespaces=namespaces))


def read_process(data: bytes, what: str) -> Process:
    """Parse a process.json (``exec --process``)."""
    top = loads(data, what)
    if not isinstance(top, dict):
        raise InvalidArgument(f"{what}: want a JSON object")
    return _process(_Obj(top, what))


def read_resources(data: bytes, what: str) -> Resources:
    """Parse a resources document (``update --resources``: config.json's linux.resources)."""
    top = loads(data, what)
    if not isinstance(top, dict):
        raise InvalidArgument(f"{what}: want a JSON object")
    return _resources(_Obj(top, what))


def _mount(obj: _Obj) -> Mount:
    destination = obj.string("destination", required=True)
    if not destination.startswith("/"):
        raise obj.error("destination", f"{destination!r} is not an absolute path")
    return Mount(destination=destination, type=obj.string("type"), source=obj.string("source"),
                 options=obj.strs("options"))


def _process(obj: _Obj) -> Process:
    args = obj.strs("args")
    if not args:
        raise obj.error("args", "must not be empty")
    cwd = obj.string("cwd", required=True)
    if not cwd.startswith("/"):
        raise obj.error("cwd", f"{cwd!r} is not an absolute path")
    user = obj.obj("user")
    size = obj.obj("consoleSize")
    caps = obj.obj("capabilities")
    return Process(
        args=args,
        cwd=cwd,
        terminal=obj.boolean("terminal"),
        console_size=None if size is None else ConsoleSize(
            height=size.integer("height", _U32), width=size.integer("width", _U32)),
        user=User() if user is None else _user(user),
        env=obj.strs("env"),
        capabilities=None if caps is None else Capabilities(
            bounding=caps.strs("bounding"), effective=caps.strs("effective"),
            inheritable=caps.strs("inheritable"), permitted=caps.strs("permitted"),
            ambient=caps.strs("ambient")),
        rlimits=tuple(_rlimit(item) for item in obj.objs("rlimits")),
        no_new_privileges=obj.boolean("noNewPrivileges"),
        apparmor_profile=obj.string("apparmorProfile"),
        oom_score_adj=obj.opt_integer("oomScoreAdj", (-1000, 1000)),
        selinux_label=obj.string("selinuxLabel"),
    )


def _user(obj: _Obj) -> User:
    gids = obj.data.get("additionalGids")
    if gids is not None and not isinstance(gids, list):
        raise obj.error("additionalGids", "want array of integers")
    additional = []
    for index, gid in enumerate(gids or ()):
        if isinstance(gid, bool) or not isinstance(gid, int) or not 0 <= gid < 2**32:
            raise obj.error(f"additionalGids[{index}]", "want an integer in [0, 4294967295]")
        additional.append(gid)
    return User(uid=obj.integer("uid", _U32), gid=obj.integer("gid", _U32),
                umask=obj.opt_integer("umask", _U32), additional_gids=tuple(additional),
                username=obj.string("username"))


def _rlimit(obj: _Obj) -> Rlimit:
    kind = obj.string("type", required=True)
    if kind not in RLIMITS:
        raise obj.error("type", f"unknown rlimit type {kind!r}")
    return Rlimit(type=kind, soft=obj.integer("soft", _U64), hard=obj.integer("hard", _U64))


def _hooks(obj: _Obj) -> Hooks:
    def hooks(key: str) -> tuple[Hook, ...]:
        return tuple(
            Hook(path=item.string("path", required=True), args=item.strs("args"),
                 env=None if item.data.get("env") is None else item.strs("env"),
                 timeout=item.opt_integer("timeout", (1, 2**31 - 1)))
            for item in obj.objs(key)
        )

    return Hooks(prestart=hooks("prestart"), create_runtime=hooks("createRuntime"),
                 create_container=hooks("createContainer"),
                 start_container=hooks("startContainer"), poststart=hooks("poststart"),
                 poststop=hooks("poststop"))


def _linux(obj: _Obj) -> Linux:
    namespaces: list[Namespace] = []
    for item in obj.objs("namespaces"):
        kind = item.string("type", required=True)
        if kind not in NAMESPACE_TYPES:
            raise item.error("type", f'unknown namespace type "{kind}"')
        if any(ns.type == kind for ns in namespaces):
            raise item.error("type", f'duplicate namespace type "{kind}"')
        namespaces.append(Namespace(type=kind, path=item.string("path")))
    propagation = obj.string("rootfsPropagation")
    if propagation not in PROPAGATIONS:
        raise obj.error("rootfsPropagation", f"unsupported propagation {propagation!r}")
    resources = obj.obj("resources")
    seccomp = obj.obj("seccomp")
    return Linux(
        namespaces=tuple(namespaces),
        uid_mappings=tuple(_id_mapping(item) for item in obj.objs("uidMappings")),
        gid_mappings=tuple(_id_mapping(item) for item in obj.objs("gidMappings")),
        devices=tuple(_device(item) for item in obj.objs("devices")),
        cgroups_path=obj.string("cgroupsPath"),
        resources=None if resources is None else _resources(resources),
        rootfs_propagation=propagation,
        seccomp=None if seccomp is None else _seccomp(seccomp),
        sysctl=obj.str_map("sysctl"),
        masked_paths=obj.strs("maskedPaths"),
        readonly_paths=obj.strs("readonlyPaths"),
        mount_label=obj.string("mountLabel"),
    )


def _id_mapping(obj: _Obj) -> IdMapping:
    return IdMapping(container_id=obj.integer("containerID", _U32, required=True),
                     host_id=obj.integer("hostID", _U32, required=True),
                     size=obj.integer("size", _U32, required=True))


def _device(obj: _Obj) -> Device:
    kind = obj.string("type", required=True)
    if kind not in ("c", "u", "b", "p"):
        raise obj.error("type", f"unknown device type {kind!r}")
    path = obj.string("path", required=True)
    if not path.startswith("/"):
        raise obj.error("path", f"{path!r} is not an absolute path")
    return Device(type=kind, path=path, major=obj.integer("major"), minor=obj.integer("minor"),
                  file_mode=obj.opt_integer("fileMode", _U32), uid=obj.opt_integer("uid", _U32),
                  gid=obj.opt_integer("gid", _U32))


def _resources(obj: _Obj) -> Resources:
    memory, cpu, pids = obj.obj("memory"), obj.obj("cpu"), obj.obj("pids")
    block = obj.obj("blockIO")
    return Resources(
        devices=tuple(_device_rule(item) for item in obj.objs("devices")),
        memory=None if memory is None else Memory(
            limit=memory.opt_integer("limit"), reservation=memory.opt_integer("reservation"),
            swap=memory.opt_integer("swap"), kernel=memory.opt_integer("kernel"),
            kernel_tcp=memory.opt_integer("kernelTCP"),
            swappiness=memory.opt_integer("swappiness", _U64),
            disable_oom_killer=memory.opt_boolean("disableOOMKiller"),
            use_hierarchy=memory.opt_boolean("useHierarchy")),
        cpu=None if cpu is None else Cpu(
            shares=cpu.opt_integer("shares", _U64), quota=cpu.opt_integer("quota"),
            burst=cpu.opt_integer("burst", _U64), period=cpu.opt_integer("period", _U64),
            realtime_runtime=cpu.opt_integer("realtimeRuntime"),
            realtime_period=cpu.opt_integer("realtimePeriod", _U64), cpus=cpu.string("cpus"),
            mems=cpu.string("mems"), idle=cpu.opt_integer("idle")),
        pids=None if pids is None else Pids(limit=pids.integer("limit", required=True)),
        block_io=None if block is None else _block_io(block),
        hugepage_limits=tuple(
            HugepageLimit(page_size=item.string("pageSize", required=True),
                          limit=item.integer("limit", _U64, required=True))
            for item in obj.objs("hugepageLimits")),
        unified=obj.str_map("unified"),
    )


def _device_rule(obj: _Obj) -> DeviceRule:
    kind = obj.string("type", "a")
    if kind not in ("a", "b", "c"):
        raise obj.error("type", f"unknown device type {kind!r}")
    access = obj.string("access", "rwm")
    if set(access) - set("rwm"):
        raise obj.error("access", f"{access!r} is not a combination of r, w and m")
    if "allow" not in obj.data:
        raise obj.error("allow", "missing")
    return DeviceRule(allow=obj.boolean("allow"), type=kind, major=obj.opt_integer("major"),
                      minor=obj.opt_integer("minor"), access=access)


def _block_io(obj: _Obj) -> BlockIO:
    def rates(key: str) -> tuple[DeviceRate, ...]:
        return tuple(DeviceRate(major=item.integer("major", required=True),
                                minor=item.integer("minor", required=True),
                                rate=item.integer("rate", _U64, required=True))
                     for item in obj.objs(key))

    return BlockIO(
        weight=obj.opt_integer("weight", (0, 65535)),
        leaf_weight=obj.opt_integer("leafWeight", (0, 65535)),
        weight_device=tuple(
            DeviceWeight(major=item.integer("major", required=True),
                         minor=item.integer("minor", required=True),
                         weight=item.opt_integer("weight", (0, 65535)),
                         leaf_weight=item.opt_integer("leafWeight", (0, 65535)))
            for item in obj.objs("weightDevice")),
        throttle_read_bps_device=rates("throttleReadBpsDevice"),
        throttle_write_bps_device=rates("throttleWriteBpsDevice"),
        throttle_read_iops_device=rates("throttleReadIOPSDevice"),
        throttle_write_iops_device=rates("throttleWriteIOPSDevice"),
    )


def _seccomp(obj: _Obj) -> Seccomp:
    rules = []
    for item in obj.objs("syscalls"):
        names = item.strs("names")
        if not names:
            raise item.error("names", "must not be empty")
        rules.append(SeccompRule(
            names=names, action=item.string("action", required=True),
            errno_ret=item.opt_integer("errnoRet", _U32),
            args=tuple(SeccompArg(index=arg.integer("index", _U32, required=True),
                                  value=arg.integer("value", _U64, required=True),
                                  value_two=arg.integer("valueTwo", _U64),
                                  op=arg.string("op", required=True))
                       for arg in item.objs("args"))))
    return Seccomp(
        default_action=obj.string("defaultAction", required=True),
        default_errno_ret=obj.opt_integer("defaultErrnoRet", _U32),
        architectures=obj.strs("architectures"), flags=obj.strs("flags"),
        listener_path=obj.string("listenerPath"), listener_metadata=obj.string("listenerMetadata"),
        syscalls=tuple(rules),
    )
