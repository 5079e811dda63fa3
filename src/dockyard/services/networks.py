"""The ``/networks`` endpoints' use cases, in dockerd 20.10's shapes and words (API 1.41).

Bridge networks are the network layer's (:class:`dockyard.network.manager.Networks`); ``host``
and ``none`` are listed beside them as dockerd lists its built-in networks (drivers ``host`` and
``null``), with IDs derived from the daemon's network root so they stay put across restarts.
What the Engine API shows but the network layer does not need (``Attachable``, the IPAM
configuration and options as the client sent them) is kept beside each network record::

    <data-root>/network/engine/<network id>.json    {"Attachable", "IPAM": {"Options", "Config"}}

Filters (moby ``daemon/network/filter.go``): ``name`` and ``id`` are regular expressions found
in the name or ID, ``driver`` exact, ``label`` ``k`` or ``k=v``, ``type`` ``custom`` or
``builtin``, ``scope`` ``local``, ``dangling`` (no container attached); prune takes ``until``,
``label`` and ``label!`` and removes custom networks without endpoints.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from dockyard.containers.record import Container, format_time
from dockyard.errors import (
    Conflict,
    DockyardError,
    InvalidArgument,
    NotFound,
    PermissionDenied,
    Unsupported,
)
from dockyard.events import Event
from dockyard.network import jsonfile
from dockyard.network.dns import DnsHub
from dockyard.network.manager import Networks
from dockyard.network.store import (
    OPTION_BRIDGE_NAME,
    OPTION_HOST_IP,
    OPTION_ICC,
    OPTION_MASQUERADE,
    OPTION_MTU,
    Network,
)
from dockyard.services.container_endpoints import EndpointConfig, network_kind
from dockyard.services.container_network import ContainerNetworks
from dockyard.services.image_filters import check_keys, invalid_filter, match_labels

log = logging.getLogger(__name__)

LIST_FILTERS = frozenset({"driver", "id", "label", "name", "scope", "type", "dangling"})
PRUNE_FILTERS = frozenset({"until", "label", "label!"})
BUILTIN_DRIVERS = {"host": "host", "none": "null"}


@dataclass(frozen=True, slots=True)
class Builtin:
    """``host`` or ``none``: listed and inspected, never created or removed."""

    name: str
    id: str
    created: str

    @property
    def driver(self) -> str:
        return BUILTIN_DRIVERS[self.name]


AnyNetwork = Network | Builtin


class NetworkService:
    """List, inspect, create, remove, prune networks; connect and disconnect containers."""

    def __init__(self, networks: Networks, attached: ContainerNetworks, root: Path,
                 containers: Callable[[], list[Container]], dns: DnsHub | None = None) -> None:
        self.networks = networks
        self.dns = dns
        self.attached = attached
        self.engine = root / "engine"
        self.engine.mkdir(parents=True, exist_ok=True)
        self.containers = containers
        self._pruning = threading.Lock()
        default = networks.get("bridge")
        self.builtins = tuple(
            Builtin(name, hashlib.sha256(f"{root}/{name}".encode()).hexdigest(),
                    default.created) for name in BUILTIN_DRIVERS)

    # -- the daemon's start and stop -----------------------------------------------------------

    def reconcile(self) -> None:
        """After the containers are recovered: release what dead containers held and remove
        what a crash left (see :meth:`Networks.reconcile`)."""
        alive = {c.id for c in self.containers() if c.state.running}
        found = self.networks.reconcile(alive)
        if any((found.containers, found.links, found.ports, found.addresses, found.bridges)):
            log.info("network reconciled: %s", found)

    def close(self) -> None:
        """Stop: the kernel side goes when no container is attached (see
        :meth:`Networks.dismantle`), otherwise it stays for the next daemon to adopt."""
        try:
            if self.networks.dismantle():
                log.info("no container attached: bridges and rules removed")
        finally:
            self.networks.close()
            if self.dns is not None:
                self.dns.close()

    # -- lookups -------------------------------------------------------------------------------

    def get(self, ref: str) -> AnyNetwork:
        """By ID, name or unique ID prefix; NotFound as dockerd words it."""
        for builtin in self.builtins:
            if ref in (builtin.name, builtin.id):
                return builtin
        try:
            return self.networks.get(ref)
        except NotFound:
            matches = [b for b in self.builtins if ref and b.id.startswith(ref)]
            if len(matches) == 1:
                return matches[0]
            raise

    def all(self) -> list[AnyNetwork]:
        default = [n for n in self.networks.networks() if n.default]
        rest = [n for n in self.networks.networks() if not n.default]
        return [*default, *self.builtins, *rest]

    # -- views ---------------------------------------------------------------------------------

    def render(self, network: AnyNetwork, *, containers: bool) -> dict[str, Any]:
        """A network as ``GET /networks/{id}`` (``containers``) or ``GET /networks`` shows it."""
        if isinstance(network, Builtin):
            return _render(network.name, network.id, network.created, network.driver,
                           {"Driver": "default", "Options": None, "Config": []},
                           internal=False, attachable=False,
                           containers=self._builtin_members(network) if containers else {},
                           options={}, labels={})
        extra = self._extra(network.id)
        ipam = extra.get("IPAM") or {"Driver": "default", "Options": None,
                                     "Config": [_auto_config(network)]}
        options = _default_options(network) if network.default else dict(network.options)
        return _render(network.name, network.id, network.created, "bridge", ipam,
                       internal=network.internal, attachable=bool(extra.get("Attachable")),
                       containers=self._members(network) if containers else {},
                       options=options, labels=dict(network.labels))

    def _members(self, network: Network) -> dict[str, Any]:
        from dockyard.services.container_network_views import endpoint_json

        out: dict[str, Any] = {}
        for endpoint in sorted(self.networks.network_endpoints(network.id),
                               key=lambda e: e.container_id):
            fields = endpoint_json(endpoint.container_id, endpoint)
            out[endpoint.container_id] = {
                "Name": endpoint.name, "EndpointID": fields["EndpointID"],
                "MacAddress": endpoint.mac, "IPv4Address": str(endpoint.address),
                "IPv6Address": ""}
        return out

    def _builtin_members(self, network: Builtin) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for container in sorted(self.containers(), key=lambda c: c.id):
            if container.state.running and container.host.network_mode == network.name:
                out[container.id] = {
                    "Name": container.name.lstrip("/"),
                    "EndpointID": hashlib.sha256(f"{container.id}/{network.id}".encode())
                    .hexdigest(), "MacAddress": "", "IPv4Address": "", "IPv6Address": ""}
        return out

    def _extra(self, network_id: str) -> dict[str, Any]:
        try:
            data = jsonfile.read(self.engine / f"{network_id}.json")
        except (FileNotFoundError, ValueError):
            return {}
        return data if isinstance(data, dict) else {}

    # -- the endpoints -------------------------------------------------------------------------

    def list_networks(self, filters: Mapping[str, Sequence[str]]) -> list[dict[str, Any]]:
        check_keys(filters, LIST_FILTERS)
        _check_values(filters)
        return [self.render(n, containers=False) for n in self.all()
                if self._matches(n, filters)]

    def inspect(self, ref: str) -> dict[str, Any]:
        return self.render(self.get(ref), containers=True)

    def _matches(self, network: AnyNetwork, filters: Mapping[str, Sequence[str]]) -> bool:
        builtin = isinstance(network, Builtin) or network.default
        driver = network.driver if isinstance(network, Builtin) else "bridge"
        labels = {} if isinstance(network, Builtin) else dict(network.labels)
        for key, values in filters.items():
            if key == "label":
                if not match_labels(values, labels):
                    return False
            elif values and not any(self._test(network, key, v, builtin=builtin, driver=driver)
                                    for v in values):
                return False
        return True

    def _test(self, network: AnyNetwork, key: str, value: str, *, builtin: bool,
              driver: str) -> bool:
        if key == "name":
            return re.search(value, network.name) is not None
        if key == "id":
            return re.search(value, network.id) is not None
        if key == "driver":
            return value == driver
        if key == "scope":
            return value == "local"
        if key == "type":
            return (value == "builtin") == builtin
        return (value in ("true", "1")) == (not builtin and not self._used(network))

    def _used(self, network: AnyNetwork) -> bool:
        return isinstance(network, Builtin) or bool(self.networks.network_endpoints(network.id))

    def create(self, body: Any) -> dict[str, Any]:
        """``POST /networks/create``: 201 ``{"Id", "Warning"}``."""
        request = CreateRequest.parse(body)
        if request.name in (*BUILTIN_DRIVERS, "bridge"):
            raise PermissionDenied(f"operation is not permitted on predefined {request.name} "
                                   "network ")
        subnet, gateway, ip_range = request.pool()
        network = self.networks.create(request.name, subnet=subnet, gateway=gateway,
                                       ip_range=ip_range, internal=request.internal,
                                       options=request.options, labels=request.labels)
        ipam = {"Driver": "default", "Options": dict(request.ipam_options),
                "Config": list(request.ipam_config) or [_auto_config(network)]}
        jsonfile.write(self.engine / f"{network.id}.json",
                       {"Attachable": request.attachable, "IPAM": ipam})
        self.attached.emit("create", network.id)
        log.info("network %s created (%s)", network.name, network.id[:12])
        return {"Id": network.id, "Warning": ""}

    def remove(self, ref: str) -> None:
        """``DELETE /networks/{id}``: refused for built-in networks and while in use."""
        network = self.get(ref)
        if isinstance(network, Builtin):
            raise PermissionDenied(f"{network.name} is a pre-defined network and cannot be "
                                   "removed")
        self.networks.remove(network.id)
        jsonfile.remove(self.engine / f"{network.id}.json")
        if self.attached.events is not None:  # gone from the manager: named here
            self.attached.events.publish(Event("network", "destroy", network.id,
                                               {"name": network.name, "type": "bridge"}))

    def prune(self, filters: Mapping[str, Sequence[str]]) -> dict[str, Any]:
        check_keys(filters, PRUNE_FILTERS)
        until = _until(filters.get("until", ()))
        if not self._pruning.acquire(blocking=False):
            raise Conflict("a prune operation is already running")
        try:
            deleted = []
            for network in self.networks.networks():
                if network.default or self.networks.network_endpoints(network.id):
                    continue
                if until is not None and _created(network.created) >= until:
                    continue
                if not match_labels(filters.get("label", []), network.labels):
                    continue
                if any(match_labels([v], network.labels) for v in filters.get("label!", ())):
                    continue
                try:
                    self.remove(network.id)
                except DockyardError as exc:
                    log.warning("prune: network %s: %s", network.name, exc)
                    continue
                deleted.append(network.name)
            return {"NetworksDeleted": deleted or None}
        finally:
            self._pruning.release()

    def network_for_connect(self, ref: str) -> Network:
        network = self.get(ref)
        if isinstance(network, Builtin):
            raise InvalidArgument("container cannot be disconnected from host network or "
                                  "connected to host network" if network.name == "host" else
                                  "container cannot be connected to multiple networks with one "
                                  "of the networks in private (none) mode")
        return network

    def connect(self, container: Container, network: Network, body: Mapping[str, Any]) -> None:
        """``POST /networks/{id}/connect`` (the caller holds the container's lock)."""
        self.attached.connect(container, network,
                              EndpointConfig.from_api(body.get("EndpointConfig")))

    def disconnect(self, container: Container, ref: str, *, force: bool) -> None:
        network = self.get(ref)
        if isinstance(network, Builtin):
            if network_kind(container.host.network_mode) == network.name:
                raise InvalidArgument("container cannot be disconnected from host network or "
                                      "connected to host network")
            raise InvalidArgument(f"container {container.id} is not connected to network "
                                  f"{network.name}")
        self.attached.disconnect(container, network, force=force)


@dataclass(frozen=True, slots=True)
class CreateRequest:
    """A ``POST /networks/create`` body, checked."""

    name: str
    internal: bool = False
    attachable: bool = False
    options: Mapping[str, str] = field(default_factory=dict)
    labels: Mapping[str, str] = field(default_factory=dict)
    ipam_config: tuple[dict[str, str], ...] = ()
    ipam_options: Mapping[str, str] = field(default_factory=dict)

    @classmethod
    def parse(cls, body: Any) -> CreateRequest:
        if not isinstance(body, Mapping):
            raise InvalidArgument("invalid JSON: the body must be an object")
        name = str(body.get("Name") or "")
        if not name:
            raise InvalidArgument("network name is required")
        driver = str(body.get("Driver") or "bridge")
        if driver in BUILTIN_DRIVERS.values():
            raise PermissionDenied(f'only one instance of "{driver}" network is allowed')
        if driver != "bridge":
            raise NotFound(f"plugin \"{driver}\" not found")
        for flag, what in (("EnableIPv6", "IPv6 networks"), ("Ingress", "ingress networks"),
                           ("ConfigOnly", "config-only networks")):
            if body.get(flag):
                raise Unsupported(f"{what} are not supported")
        if (body.get("ConfigFrom") or {}).get("Network"):
            raise Unsupported("networks created from a config-only network are not supported")
        ipam = body.get("IPAM") or {}
        if not isinstance(ipam, Mapping):
            raise InvalidArgument("invalid IPAM: want an object")
        if str(ipam.get("Driver") or "default") != "default":
            raise Unsupported(f"IPAM driver {ipam.get('Driver')} is not supported")
        return cls(name, bool(body.get("Internal")), bool(body.get("Attachable")),
                   _strings(body.get("Options"), "Options"),
                   _strings(body.get("Labels"), "Labels"),
                   tuple(_ipam_entry(e) for e in ipam.get("Config") or ()),
                   _strings(ipam.get("Options"), "IPAM.Options"))

    def pool(self) -> tuple[str, str, str]:
        """subnet, gateway, ip range (IPv4 only; one subnet)."""
        if len(self.ipam_config) > 1:
            raise Unsupported("only one subnet per network is supported")
        entry = self.ipam_config[0] if self.ipam_config else {}
        if (entry.get("Gateway") or entry.get("IPRange")) and not entry.get("Subnet"):
            raise InvalidArgument("invalid pool request: gateway and ip range need a subnet")
        return entry.get("Subnet", ""), entry.get("Gateway", ""), entry.get("IPRange", "")


def _ipam_entry(entry: Any) -> dict[str, str]:
    if not isinstance(entry, Mapping):
        raise InvalidArgument("invalid IPAM.Config: want objects")
    out = {k: str(entry[k]) for k in ("Subnet", "IPRange", "Gateway") if entry.get(k)}
    if any(":" in v for v in out.values()):
        raise Unsupported("IPv6 subnets are not supported")
    if entry.get("AuxiliaryAddresses"):
        raise Unsupported("auxiliary addresses are not supported")
    return out


def _strings(value: Any, what: str) -> dict[str, str]:
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise InvalidArgument(f"invalid {what}: want an object")
    return {str(k): "" if v is None else str(v) for k, v in value.items()}


def _render(name: str, network_id: str, created: str, driver: str, ipam: Mapping[str, Any], *,
            internal: bool, attachable: bool, containers: Mapping[str, Any],
            options: Mapping[str, str], labels: Mapping[str, str]) -> dict[str, Any]:
    return {"Name": name, "Id": network_id, "Created": _go_time(created), "Scope": "local",
            "Driver": driver, "EnableIPv6": False, "IPAM": dict(ipam), "Internal": internal,
            "Attachable": attachable, "Ingress": False, "ConfigFrom": {"Network": ""},
            "ConfigOnly": False, "Containers": dict(containers), "Options": dict(options),
            "Labels": dict(labels)}


def _auto_config(network: Network) -> dict[str, str]:
    if network.default:
        return {"Subnet": str(network.pool.subnet)}
    return {"Subnet": str(network.pool.subnet), "Gateway": str(network.pool.gateway)}


def _default_options(network: Network) -> dict[str, str]:
    return {"com.docker.network.bridge.default_bridge": "true",
            OPTION_ICC: "true", OPTION_MASQUERADE: "true", OPTION_HOST_IP: "0.0.0.0",
            OPTION_BRIDGE_NAME: network.bridge, OPTION_MTU: "1500", **network.options}


def _created(text: str) -> float:
    try:
        return datetime.fromisoformat(text).timestamp()
    except ValueError:
        return 0.0


def _go_time(text: str) -> str:
    """An ISO time as Go's RFC3339Nano in UTC."""
    try:
        stamp = datetime.fromisoformat(text)
    except ValueError:
        return text
    return format_time(int(stamp.timestamp()) * 10**9 + stamp.microsecond * 1000)


def _until(values: Iterable[str]) -> float | None:
    """``until``: a Unix time, an RFC 3339 time or a Go duration before now (``24h``)."""
    import time

    found = None
    for value in values:
        match = re.fullmatch(r"(\d+(?:\.\d+)?)([smh])", value)
        if match:
            seconds = float(match[1]) * {"s": 1, "m": 60, "h": 3600}[match[2]]
            found = time.time() - seconds
            continue
        try:
            found = float(value)
            continue
        except ValueError:
            pass
        try:
            found = datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()
        except ValueError as exc:
            raise invalid_filter("until", [value]) from exc
    return found


def _check_values(filters: Mapping[str, Sequence[str]]) -> None:
    for value in filters.get("type", ()):
        if value not in ("custom", "builtin"):
            raise InvalidArgument(f"invalid filter: 'type'='{value}'")
    for value in filters.get("dangling", ()):
        if value not in ("true", "false", "1", "0"):
            raise InvalidArgument(f"invalid filter 'dangling={value}'")


def loads(data: bytes) -> Any:
    """A request body as JSON (InvalidArgument on bad JSON)."""
    try:
        return json.loads(data) if data.strip() else {}
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InvalidArgument(f"invalid JSON: {exc}") from exc
