"""The daemon's configuration: dockerd's flag names, plus a daemon.json with dockerd's keys.

A setting comes from a flag, or from the file, or is the default. Giving the same setting both
ways is an error, and so is a key the file may not hold; both are worded as dockerd words them,
since people who know one daemon will read the other's messages.
"""

from __future__ import annotations

import argparse
import ipaddress
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dockyard.errors import InvalidArgument
from dockyard.registry.endpoints import mirror_endpoint, validate_insecure

DEFAULT_HOST = "unix:///run/dockyard/dockyard.sock"
DEFAULT_DATA_ROOT = Path("/var/lib/dockyard")
DEFAULT_EXEC_ROOT = Path("/run/dockyard")
DEFAULT_CONFIG_FILE = Path("/etc/dockyard/daemon.json")
LOG_LEVELS = ("debug", "info", "warn", "error", "fatal")
STORAGE_DRIVERS = ("overlayfs", "native", "auto")
RUNTIMES = ("dockyard", "runc", "crun")

# daemon.json key -> argparse destination; the flag is spelled like the key except hosts (-H).
_KEYS = {
    "hosts": "hosts",
    "data-root": "data_root",
    "exec-root": "exec_root",
    "pidfile": "pidfile",
    "log-level": "log_level",
    "storage-driver": "storage_driver",
    "debug": "debug",
    "insecure-registries": "insecure_registries",
    "registry-mirrors": "registry_mirrors",
    "default-runtime": "default_runtime",
    "ip-forward": "ip_forward",
    "dns": "dns",
    "userland-proxy": "userland_proxy",
}
_LISTS = ("hosts", "insecure-registries", "registry-mirrors", "dns")
_BOOLS = ("debug", "ip-forward", "userland-proxy")


@dataclass(frozen=True, slots=True)
class Config:
    hosts: tuple[Path, ...]  # unix socket paths
    data_root: Path
    exec_root: Path
    pidfile: Path
    log_level: str
    storage_driver: str
    config_file: Path | None = None  # the daemon.json that was read, if any
    insecure_registries: tuple[str, ...] = ()  # host[:port] or CIDR; loopback always is
    registry_mirrors: tuple[str, ...] = ()  # Docker Hub pull-through mirrors, tried first
    default_runtime: str = "dockyard"  # dockyard (the warm library), runc or crun
    ip_forward: bool = True  # set net.ipv4.ip_forward=1 at start, as dockerd does
    dns: tuple[str, ...] = ()  # containers' resolvers; the embedded DNS forwards to them

    @property
    def debug(self) -> bool:
        return self.log_level == "debug"


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="dockyardd", description="the dockyard container engine")
    p.add_argument("-H", "--host", dest="hosts", action="append", metavar="HOST",
                   help=f"unix socket to listen on, repeatable (default {DEFAULT_HOST})")
    p.add_argument("--data-root", help=f"root of persistent state (default {DEFAULT_DATA_ROOT})")
    p.add_argument("--exec-root", help=f"root of runtime state (default {DEFAULT_EXEC_ROOT})")
    p.add_argument("-p", "--pidfile", help="pid file (default <exec-root>/dockyardd.pid)")
    p.add_argument("-l", "--log-level", help="debug, info, warn, error or fatal (default info)")
    p.add_argument("-D", "--debug", action="store_true", default=None, help="debug logging")
    p.add_argument("-s", "--storage-driver",
                   help="snapshotter: overlayfs, native or auto (default auto)")
    p.add_argument("--config-file", help=f"daemon.json to read (default {DEFAULT_CONFIG_FILE})")
    p.add_argument("--insecure-registry", dest="insecure_registries", action="append",
                   metavar="REGISTRY", help="registry (host[:port] or CIDR) reached over plain "
                   "HTTP or unchecked TLS, repeatable (127.0.0.0/8 and localhost always are)")
    p.add_argument("--registry-mirror", dest="registry_mirrors", action="append",
                   metavar="URL", help="Docker Hub mirror tried before Docker Hub, repeatable")
    p.add_argument("--default-runtime", help="OCI runtime of containers that name none: "
                   f"{', '.join(RUNTIMES)} (default dockyard)")
    p.add_argument("--ip-forward", type=_flag_bool, nargs="?", const=True, metavar="BOOL",
                   help="set net.ipv4.ip_forward=1 at start (default true; "
                   "--ip-forward=false leaves the host's setting alone)")
    p.add_argument("--dns", action="append", metavar="IP",
                   help="DNS server for containers, repeatable (default: the host's resolvers); "
                   "user networks' embedded DNS forwards to them")
    p.add_argument("--userland-proxy", type=_flag_bool, nargs="?", const=True, metavar="BOOL",
                   help="accepted for dockerd compatibility and ignored: published ports are "
                   "forwarded by the kernel, without a proxy")
    p.add_argument("-v", "--version", action="store_true", help="print the version and exit")
    return p


def _flag_bool(text: str) -> bool:
    """A Go boolean flag's value (``--ip-forward=false``)."""
    value = text.strip().lower()
    if value in ("1", "t", "true"):
        return True
    if value in ("0", "f", "false"):
        return False
    raise argparse.ArgumentTypeError(f"invalid boolean value {text!r}")


def load(args: argparse.Namespace) -> Config:
    """Merge flags, the config file and defaults into a Config."""
    explicit_file = args.config_file is not None
    path = Path(args.config_file) if explicit_file else DEFAULT_CONFIG_FILE
    file_values = read_file(path, required=explicit_file)
    if file_values is not None:
        _check_conflicts(path, args, file_values)
    values = {dest: getattr(args, dest) for dest in _KEYS.values()}
    for key, value in (file_values or {}).items():
        values[_KEYS[key]] = value
    return _build(values, path if file_values is not None else None)


def read_file(path: Path, *, required: bool) -> dict[str, Any] | None:
    """The file's settings, None if it is absent and was not asked for."""
    prefix = f"unable to configure the Docker daemon with file {path}"
    try:
        text = path.read_text()
    except FileNotFoundError as exc:
        if not required:
            return None
        raise InvalidArgument(f"{prefix}: open {path}: no such file or directory") from exc
    except OSError as exc:
        raise InvalidArgument(f"{prefix}: {exc.strerror}") from exc
    try:
        data = json.loads(text) if text.strip() else {}
    except json.JSONDecodeError as exc:
        raise InvalidArgument(f"{prefix}: {exc}") from exc
    if not isinstance(data, dict):
        raise InvalidArgument(f"{prefix}: the file does not hold a json object")
    unknown = [key for key in data if key not in _KEYS]
    if unknown:
        raise InvalidArgument(
            f"{prefix}: the following directives don't match any configuration option: "
            + ", ".join(unknown)
        )
    _check_types(prefix, data)
    return data


def _check_types(prefix: str, data: dict[str, Any]) -> None:
    for key, value in data.items():
        if key in _LISTS:
            ok = isinstance(value, list) and all(isinstance(v, str) for v in value)
        elif key in _BOOLS:
            ok = isinstance(value, bool)
        else:
            ok = isinstance(value, str)
        if not ok:
            raise InvalidArgument(f"{prefix}: bad value for {key}: {json.dumps(value)}")


def _check_conflicts(path: Path, args: argparse.Namespace, data: dict[str, Any]) -> None:
    conflicts = []
    for key, value in data.items():  # in the file's order
        flag = getattr(args, _KEYS[key])
        if flag is not None:
            conflicts.append(f"{key}: (from flag: {_go(flag)}, from file: {_go(value)})")
    if conflicts:
        raise InvalidArgument(
            f"unable to configure the Docker daemon with file {path}: the following directives "
            "are specified both as a flag and in the configuration file: " + ", ".join(conflicts)
        )


def _go(value: object) -> str:
    """A value printed as Go's %v prints it."""
    if isinstance(value, list):
        return "[" + " ".join(str(v) for v in value) + "]"
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _build(values: dict[str, Any], config_file: Path | None) -> Config:
    exec_root = Path(values["exec_root"] or DEFAULT_EXEC_ROOT)
    level = values["log_level"] or ("debug" if values["debug"] else "info")
    if level not in LOG_LEVELS:
        raise InvalidArgument(f"unable to parse logging level: {level}")
    driver = values["storage_driver"] or "auto"
    if driver not in STORAGE_DRIVERS:
        raise InvalidArgument(
            f"unknown storage driver {driver!r}: want one of {', '.join(STORAGE_DRIVERS)}"
        )
    runtime = values["default_runtime"] or "dockyard"
    if runtime not in RUNTIMES:
        raise InvalidArgument(f"default runtime {runtime!r} is not a known runtime: want one of "
                              f"{', '.join(RUNTIMES)}")
    return Config(
        hosts=tuple(parse_host(h) for h in (values["hosts"] or [DEFAULT_HOST])),
        data_root=Path(values["data_root"] or DEFAULT_DATA_ROOT).absolute(),
        exec_root=exec_root.absolute(),
        pidfile=Path(values["pidfile"] or exec_root / "dockyardd.pid").absolute(),
        log_level=level,
        storage_driver=driver,
        config_file=config_file,
        insecure_registries=tuple(validate_insecure(r) for r in
                                  values["insecure_registries"] or ()),
        registry_mirrors=tuple(m.rstrip("/") for m in values["registry_mirrors"] or ()
                               if mirror_endpoint(m)),
        default_runtime=runtime,
        ip_forward=values["ip_forward"] is not False,
        dns=tuple(_dns(d) for d in values["dns"] or ()),
    )


def _dns(text: str) -> str:
    try:
        return str(ipaddress.ip_address(text))
    except ValueError as exc:
        raise InvalidArgument(f"{text} is not an ip address") from exc


def parse_host(host: str) -> Path:
    """``unix:///path`` -> /path; ``unix://`` alone is the default socket."""
    scheme, sep, rest = host.partition("://")
    if not sep or scheme != "unix":
        raise InvalidArgument(f"invalid host {host!r}: dockyardd listens on unix sockets only "
                              "(unix:///path/to/socket)")
    if not rest:
        return parse_host(DEFAULT_HOST)
    if not rest.startswith("/"):
        raise InvalidArgument(f"invalid host {host!r}: the socket path must be absolute")
    return Path(rest)
