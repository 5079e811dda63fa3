"""The JSON shapes of containers: ``GET /containers/{id}/json`` and ``GET /containers/json``
items, as dockerd 20.10 writes them (engine-api.md section 10)."""

from __future__ import annotations

import functools
import shlex
import time
from collections.abc import Mapping, Sequence
from typing import Any

from dockyard.containers.record import RUNNING, Container, parse_time
from dockyard.services.container_network import ContainerNetworks
from dockyard.services.container_volumes import matches_volume, mount_json
from dockyard.services.containers import ContainerService

NETWORK_NAMES = {"default": "bridge", "bridge": "bridge", "host": "host", "none": "none"}


def inspect(service: ContainerService, container: Container,
            exec_ids: Sequence[str] = ()) -> dict[str, Any]:
    directory = service.store.dir(container.id)
    return {
        "Id": container.id, "Created": container.created, "Path": container.path,
        "Args": list(container.args), "State": container.state.to_json(),
        "Image": container.image_id, "ResolvConfPath": str(directory / "resolv.conf"),
        "HostnamePath": str(directory / "hostname"), "HostsPath": str(directory / "hosts"),
        "LogPath": str(service.store.log_path(container.id))
        if container.host.log_type == "json-file" else "",
        "Name": container.name, "RestartCount": container.restart_count,
        "Driver": service.driver, "Platform": "linux", "MountLabel": "", "ProcessLabel": "",
        "AppArmorProfile": "", "ExecIDs": list(exec_ids) or None,
        "HostConfig": container.host.to_json(), "GraphDriver": graph_driver(service, container),
        "Mounts": mounts(container), "Config": container.config.to_json(),
        "NetworkSettings": network_settings(container) if service.bundles.network is None
        else service.bundles.network.settings(container),
    }


def graph_driver(service: ContainerService, container: Container) -> dict[str, Any]:
    if service.driver != "overlay2" or not container.snapshot:
        return {"Data": None, "Name": service.driver}
    try:
        options = service.bundles.snapshotter.mounts(container.snapshot)[0].options
    except Exception:
        return {"Data": None, "Name": service.driver}
    data: dict[str, str] = {}
    for option in options:
        key, _, value = option.partition("=")
        if key in ("lowerdir", "upperdir", "workdir"):
            data[{"lowerdir": "LowerDir", "upperdir": "UpperDir", "workdir": "WorkDir"}[key]] = \
                value
    bundle = service.bundles.bundle(container)
    data["MergedDir"] = str(bundle.rootfs)
    return {"Data": dict(sorted(data.items())), "Name": service.driver}


def mounts(container: Container) -> list[dict[str, Any]]:
    return [mount_json(m) for m in container.host.mounts]


def network_settings(container: Container) -> dict[str, Any]:
    name = NETWORK_NAMES.get(container.host.network_mode, container.host.network_mode)
    endpoint = {"IPAMConfig": None, "Links": None, "Aliases": None, "NetworkID": name,
                "EndpointID": "", "Gateway": "", "IPAddress": "", "IPPrefixLen": 0,
                "IPv6Gateway": "", "GlobalIPv6Address": "", "GlobalIPv6PrefixLen": 0,
                "MacAddress": "", "DriverOpts": None}
    ports = {port: None for port in container.config.exposed_ports or {}}
    return {"Bridge": "", "SandboxID": "", "HairpinMode": False, "LinkLocalIPv6Address": "",
            "LinkLocalIPv6PrefixLen": 0, "Ports": ports, "SandboxKey": "",
            "SecondaryIPAddresses": None, "SecondaryIPv6Addresses": None, "EndpointID": "",
            "Gateway": "", "GlobalIPv6Address": "", "GlobalIPv6PrefixLen": 0, "IPAddress": "",
            "IPPrefixLen": 0, "IPv6Gateway": "", "MacAddress": "",
            "Networks": {name: endpoint}}


@functools.lru_cache(maxsize=4096)
def record_time(text: str) -> int:
    """``parse_time`` of a time in a container's record, remembered: such a text never
    changes meaning, strptime costs 15-20 us, and every listing reads every container's."""
    return parse_time(text)


def summary(container: Container, now: float | None = None,
            network: ContainerNetworks | None = None) -> dict[str, Any]:
    """A ``GET /containers/json`` item."""
    name = NETWORK_NAMES.get(container.host.network_mode, container.host.network_mode)
    ports, networks = network.summary(container) if network is not None else (
        [_port(p) for p in container.config.exposed_ports or {}],
        network_settings(container)["Networks"])
    return {
        "Id": container.id, "Names": [container.name], "Image": container.config.image,
        "ImageID": container.image_id, "Command": command(container),
        "Created": record_time(container.created) // 10**9,
        "Ports": ports,
        "Labels": dict(container.config.labels), "State": container.state.status,
        "Status": status_text(container, now), "HostConfig": {"NetworkMode":
                                                              container.host.network_mode},
        "NetworkSettings": {"Networks": networks if name else {}}, "Mounts": mounts(container),
    }


def _port(spec: str) -> dict[str, Any]:
    number, _, proto = spec.partition("/")
    return {"PrivatePort": int(number) if number.isdigit() else 0, "Type": proto or "tcp"}


def command(container: Container) -> str:
    """Path and args joined as dockerd joins them (shell-quoted where needed)."""
    if not container.path:
        return ""
    return " ".join([container.path, *(shlex.quote(a) if _needs_quote(a) else a
                                       for a in container.args)])


def _needs_quote(arg: str) -> bool:
    return arg == "" or any(c in arg for c in " \t\n'\"\\$`;&|<>()*?[]{}!#~")


def status_text(container: Container, now: float | None = None) -> str:
    """dockerd's human Status: "Up 3 seconds", "Up 5 seconds (healthy)", "Exited (0) 5 seconds
    ago", "Restarting (1) 2 seconds ago", "Created"."""
    state = container.state
    now = time.time() if now is None else now
    if state.status == "paused":
        started = record_time(state.started_at) / 1e9
        return "Up " + human_duration(now - started) + " (Paused)"
    if state.status == RUNNING:
        started = record_time(state.started_at) / 1e9
        health = (state.health or {}).get("Status")
        suffix = "" if not health else \
            " (health: starting)" if health == "starting" else f" ({health})"
        return "Up " + human_duration(now - started) + suffix
    if state.status == "restarting":
        finished = record_time(state.finished_at) / 1e9
        return f"Restarting ({state.exit_code}) {human_duration(now - finished)} ago"
    if state.status == "created":
        return "Created"
    if state.status == "removing":
        return "Removal In Progress"
    if state.status == "dead":
        return "Dead"
    finished = record_time(state.finished_at) / 1e9
    if not finished:
        return ""
    return f"Exited ({state.exit_code}) {human_duration(now - finished)} ago"


def human_duration(seconds: float) -> str:
    """Go's ``units.HumanDuration``."""
    if seconds < 1:
        return "Less than a second"
    s = int(seconds)
    if s == 1:
        return "1 second"
    if s < 60:
        return f"{s} seconds"
    minutes = int(seconds / 60)
    if minutes == 1:
        return "About a minute"
    if minutes < 60:
        return f"{minutes} minutes"
    hours = round(seconds / 3600)
    if hours == 1:
        return "About an hour"
    if hours < 48:
        return f"{hours} hours"
    if hours < 24 * 7 * 2:
        return f"{hours // 24} days"
    if hours < 24 * 30 * 2:
        return f"{hours // 24 // 7} weeks"
    if hours < 24 * 365 * 2:
        return f"{hours // 24 // 30} months"
    return f"{hours // 24 // 365} years"


def list_containers(service: ContainerService, *, all_containers: bool = False, limit: int = -1,
                    filters: Mapping[str, Sequence[str]] | None = None) -> list[dict[str, Any]]:
    """``GET /containers/json``, newest first (filters: id, name, status, label, ancestor;
    the rest comes with the filters work)."""
    filters = filters or {}
    now = time.time()
    chosen = []
    for container in sorted(service.all(), key=lambda c: record_time(c.created), reverse=True):
        if not all_containers and not container.state.running and "status" not in filters:
            continue
        if not _matches(container, filters):
            continue
        chosen.append(summary(container, now, service.bundles.network))
        if 0 < limit <= len(chosen):
            break
    return chosen


def _matches(container: Container, filters: Mapping[str, Sequence[str]]) -> bool:
    import re

    if filters.get("id") and not any(container.id.startswith(v) for v in filters["id"]):
        return False
    if filters.get("name") and not any(re.search(v, container.name.lstrip("/"))
                                       for v in filters["name"]):
        return False
    if filters.get("status") and container.state.status not in filters["status"]:
        return False
    if filters.get("volume") and not matches_volume(container, filters["volume"]):
        return False
    for label in filters.get("label", ()):
        key, sep, value = label.partition("=")
        if key not in container.config.labels or (sep and container.config.labels[key] != value):
            return False
    return not (filters.get("ancestor") and not any(
        v in (container.config.image, container.image_id) or container.image_id.startswith(
            "sha256:" + v) for v in filters["ancestor"]))
