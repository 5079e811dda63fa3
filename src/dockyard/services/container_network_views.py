"""The JSON views of a container's networks: ``NetworkSettings`` of ``GET /containers/{id}/json``
and the ``Ports``/``NetworkSettings.Networks`` of a ``GET /containers/json`` item, in dockerd
20.10's shapes (the top-level address fields are the default bridge's, as dockerd fills them)."""

from __future__ import annotations

from typing import Any

from dockyard.containers.record import Container
from dockyard.network.store import Endpoint
from dockyard.services.container_endpoints import DEFAULT, digest, network_kind, port_key
from dockyard.services.container_network import ContainerNetworks

EMPTY_ENDPOINT: dict[str, Any] = {
    "IPAMConfig": None, "Links": None, "Aliases": None, "NetworkID": "", "EndpointID": "",
    "Gateway": "", "IPAddress": "", "IPPrefixLen": 0, "IPv6Gateway": "", "GlobalIPv6Address": "",
    "GlobalIPv6PrefixLen": 0, "MacAddress": "", "DriverOpts": None,
}


def endpoint_json(container_id: str, endpoint: Endpoint) -> dict[str, Any]:
    """The run-time fields of an attached endpoint."""
    return {"NetworkID": endpoint.network_id,
            "EndpointID": digest(container_id, endpoint.network_id, endpoint.host_ifname),
            "Gateway": str(endpoint.gateway or ""), "IPAddress": str(endpoint.ip),
            "IPPrefixLen": endpoint.address.network.prefixlen, "MacAddress": endpoint.mac}


def settings(net: ContainerNetworks, container: Container) -> dict[str, Any]:
    """``NetworkSettings`` of ``GET /containers/{id}/json``."""
    running = container.state.running
    networks = endpoints_json(net, container, aliases=True)
    main = networks.get(DEFAULT) if running else None
    kind = network_kind(container.host.network_mode)
    sandbox = running and kind in ("bridge", "none")
    return {
        "Bridge": "", "SandboxID": digest("sandbox", container.id) if sandbox else "",
        "HairpinMode": False, "LinkLocalIPv6Address": "", "LinkLocalIPv6PrefixLen": 0,
        "Ports": ports_json(net, container) if running and kind == "bridge" else {},
        "SandboxKey": net.namespace_file(container) if sandbox else "",
        "SecondaryIPAddresses": None, "SecondaryIPv6Addresses": None,
        **{key: (main or {}).get(key, EMPTY_ENDPOINT[key]) for key in (
            "EndpointID", "Gateway", "GlobalIPv6Address", "GlobalIPv6PrefixLen",
            "IPAddress", "IPPrefixLen", "IPv6Gateway", "MacAddress")},
        "Networks": networks,
    }


def summary(net: ContainerNetworks,
            container: Container) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """``Ports`` and ``NetworkSettings.Networks`` of a ``GET /containers/json`` item."""
    ports: list[dict[str, Any]] = []
    if container.state.running and network_kind(container.host.network_mode) == "bridge":
        for key, bindings in ports_json(net, container).items():
            number, _, proto = key.partition("/")
            if not bindings:
                ports.append({"PrivatePort": int(number), "Type": proto})
            for b in bindings or ():
                ports.append({"IP": b["HostIp"], "PrivatePort": int(number),
                              "PublicPort": int(b["HostPort"]), "Type": proto})
    return ports, endpoints_json(net, container, aliases=False)


def endpoints_json(net: ContainerNetworks, container: Container, *,
                   aliases: bool) -> dict[str, Any]:
    live = {e.network_id: e for e in net.networks.endpoints(container.id)} \
        if container.state.running else {}
    out: dict[str, Any] = {}
    for name, config in net.requested(container).items():
        network = net.find(name)
        shown = network.name if network is not None else name
        endpoint = live.get(network.id) if network is not None else None
        item = dict(EMPTY_ENDPOINT)
        item.update(config.to_json())
        if not aliases:
            item["Aliases"] = None
        if endpoint is not None:
            item.update(endpoint_json(container.id, endpoint))
            if aliases and endpoint.aliases:
                item["Aliases"] = list(endpoint.aliases)
        elif network is not None and container.state.running:
            item["NetworkID"] = network.id
        out[shown] = {key: item[key] for key in EMPTY_ENDPOINT}
    return out


def ports_json(net: ContainerNetworks, container: Container) -> dict[str, Any]:
    """``NetworkSettings.Ports``: each exposed or published port, its bindings or None."""
    ports: dict[str, Any] = {port_key(k): None for k in container.config.exposed_ports or {}}
    for binding in net.networks.ports(container.id):
        key = f"{binding.container_port}/{binding.proto}"
        entries = ports.get(key) or []
        entries.append({"HostIp": str(binding.host_ip or "0.0.0.0"),
                        "HostPort": str(binding.host_port)})
        ports[key] = entries
    return dict(sorted(ports.items()))
