"""What a container asked of networks, and the names of what it got.

What it asked for (``NetworkMode``, ``NetworkingConfig.EndpointsConfig`` at create, later
``network connect``/``disconnect``) is kept beside its record::

    <data-root>/containers/<id>/networks.json   {"Networks": {name: EndpointSettings}}

Modes: ``default``/``bridge`` (the default bridge), a user network's name or ID, ``host`` (no
namespace of its own), ``none`` (a namespace of its own with its loopback only, which the
runtime makes), ``container:<name|id>`` (the namespace of a running container). Published
ports come from ``HostConfig.PortBindings`` and ``PublishAllPorts``. What it got is
:mod:`dockyard.services.container_network`'s.
"""

from __future__ import annotations

import hashlib
import ipaddress
import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dockyard.containers.record import Container
from dockyard.containers.store import write_atomic
from dockyard.errors import DockyardError, InvalidArgument, Unsupported
from dockyard.network.ports import PortRequest

FILE = "networks.json"
DEFAULT = "bridge"
BUILTIN = ("host", "none")


def network_kind(mode: str) -> str:
    """``bridge`` (any bridge network), ``host``, ``none`` or ``container``."""
    if mode in BUILTIN:
        return mode
    if mode.startswith("container:"):
        return "container"
    return "bridge"


def primary_network(mode: str) -> str:
    """The network ``NetworkMode`` names (``default`` is the default bridge)."""
    return DEFAULT if mode in ("", "default") else mode


@dataclass(frozen=True, slots=True)
class EndpointConfig:
    """One entry of ``EndpointsConfig`` (or a connect's ``EndpointConfig``), as asked."""

    aliases: tuple[str, ...] = ()
    ipv4: str = ""
    ipam: Mapping[str, str] | None = None  # IPAMConfig as sent: inspect shows it back
    network_id: str = ""                   # known once the container started or connected

    @classmethod
    def from_api(cls, obj: Any) -> EndpointConfig:
        if obj is None:
            return cls()
        if not isinstance(obj, Mapping):
            raise InvalidArgument("invalid EndpointSettings: want an object")
        aliases = obj.get("Aliases") or []
        if not isinstance(aliases, list) or not all(isinstance(a, str) for a in aliases):
            raise InvalidArgument("invalid Aliases: want a list of strings")
        ipam = obj.get("IPAMConfig")
        if ipam is not None and not isinstance(ipam, Mapping):
            raise InvalidArgument("invalid IPAMConfig: want an object")
        ipv4 = str((ipam or {}).get("IPv4Address") or "")
        if (ipam or {}).get("IPv6Address"):
            raise Unsupported("IPv6 addresses are not supported")
        if ipv4:
            try:
                ipaddress.IPv4Address(ipv4)
            except ValueError as exc:
                raise InvalidArgument(f"invalid IPv4 address: {ipv4}") from exc
        return cls(tuple(dict.fromkeys(aliases)), ipv4,
                   {str(k): str(v) for k, v in ipam.items() if v} if ipam is not None else None,
                   str(obj.get("NetworkID") or ""))

    def to_json(self) -> dict[str, Any]:
        return {"IPAMConfig": dict(self.ipam) if self.ipam is not None else None,
                "Aliases": list(self.aliases) or None, "NetworkID": self.network_id}


def requested_networks(mode: str, endpoints: Any, host_echo: Mapping[str, Any]) -> \
        dict[str, EndpointConfig]:
    """A create request's networks (``NetworkMode`` first, then ``EndpointsConfig``), checked
    as dockerd checks them at create; whether they exist is checked at start."""
    kind = network_kind(mode)
    if kind == "container" and (host_echo.get("PortBindings") or
                                host_echo.get("PublishAllPorts")):
        raise InvalidArgument("conflicting options: port publishing and the container type "
                              "network mode")
    if kind == "container" and not mode[10:]:
        raise InvalidArgument(f"invalid network mode: {mode}")
    if endpoints is not None and not isinstance(endpoints, Mapping):
        raise InvalidArgument("invalid NetworkingConfig.EndpointsConfig: want an object")
    wanted = {primary_network(str(k)): EndpointConfig.from_api(v)
              for k, v in (endpoints or {}).items()}
    if kind == "container":
        return {}
    for name, config in wanted.items():
        if name in (DEFAULT, *BUILTIN) and config.aliases:
            raise InvalidArgument("network-scoped alias is supported only for containers in "
                                  "user defined networks")
        if name in (DEFAULT, *BUILTIN) and config.ipv4:
            raise InvalidArgument("user specified IP address is supported on user defined "
                                  "networks only")
    primary = primary_network(mode)
    return {primary: wanted.pop(primary, EndpointConfig()), **wanted}


def save_networks(directory: Path, wanted: Mapping[str, EndpointConfig]) -> None:
    """Keep what a container asked for in its directory (``networks.json``)."""
    data = {"Networks": {k: v.to_json() for k, v in wanted.items()}}
    write_atomic(directory / FILE, json.dumps(data, separators=(",", ":")).encode(), 0o600)


def load_networks(directory: Path, mode: str) -> dict[str, EndpointConfig]:
    try:
        data = json.loads((directory / FILE).read_bytes())
        return {str(k): EndpointConfig.from_api(v)
                for k, v in (data.get("Networks") or {}).items()}
    except (FileNotFoundError, ValueError, AttributeError, DockyardError):
        if network_kind(mode) == "container":
            return {}
        return {primary_network(mode): EndpointConfig()}


def endpoint_id(container_id: str, resolved: Mapping[str, EndpointConfig]) -> str:
    first = next(iter(resolved.values()), EndpointConfig())
    return digest(container_id, first.network_id)


def digest(*parts: str) -> str:
    return hashlib.sha256("/".join(parts).encode()).hexdigest()


def port_key(spec: str) -> str:
    number, _, proto = spec.partition("/")
    return f"{number}/{proto or 'tcp'}"


def port_requests(container: Container) -> list[PortRequest]:
    """``HostConfig.PortBindings``, and with ``PublishAllPorts`` every other exposed port on a
    free host port, as dockerd publishes them."""
    echo = container.host.echo
    bindings = echo.get("PortBindings") or {}
    if not isinstance(bindings, Mapping):
        raise InvalidArgument("invalid PortBindings: want an object")
    requests: list[PortRequest] = []
    for key, entries in sorted(bindings.items()):
        for entry in entries or [{}]:
            if not isinstance(entry, Mapping):
                raise InvalidArgument(f"invalid PortBindings for {key}: want objects")
            requests.append(PortRequest.from_api(port_key(str(key)),
                                                 str(entry.get("HostIp") or ""),
                                                 str(entry.get("HostPort") or "")))
    if echo.get("PublishAllPorts"):
        published = {port_key(str(k)) for k in bindings}
        for key in sorted(port_key(k) for k in container.config.exposed_ports or {}):
            if key not in published:
                requests.append(PortRequest.from_api(key))
    return requests
