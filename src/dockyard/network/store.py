"""Network records (kept across reboots) and endpoint records (live state), as JSON files.

Two roots, because the two kinds of state live differently::

    <config root>/                     under the data root: survives a reboot
        <network id>.json              one Network: name, subnet, gateway, options, labels...
    <state root>/                      under the exec root: what a reboot removes anyway
        ipam/<network id>.json         address books (dockyard.network.ipam)
        endpoints/<container id>.json  a container's endpoints and published ports

Files are replaced atomically (:mod:`dockyard.network.jsonfile`). An endpoint file is written
after the kernel objects it names exist and removed after they are gone, so after a SIGKILL it
names at most objects that are gone already, and the kernel holds at most objects that
:meth:`dockyard.network.manager.Networks.reconcile` finds by their names and aliases.
"""

from __future__ import annotations

import ipaddress
import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from dockyard.errors import DataCorrupt, NotFound
from dockyard.network import jsonfile
from dockyard.network.ipam import Pool
from dockyard.network.ports import PortBinding

log = logging.getLogger(__name__)

OPTION_BRIDGE_NAME = "com.docker.network.bridge.name"
OPTION_MASQUERADE = "com.docker.network.bridge.enable_ip_masquerade"
OPTION_ICC = "com.docker.network.bridge.enable_icc"
OPTION_HOST_IP = "com.docker.network.bridge.host_binding_ipv4"
OPTION_MTU = "com.docker.network.driver.mtu"


@dataclass(frozen=True, slots=True)
class Network:
    """A bridge network as ``docker network inspect`` describes it."""

    id: str
    name: str
    bridge: str
    pool: Pool
    created: str
    internal: bool = False
    default: bool = False  # the "bridge" network: no embedded DNS, as with dockerd
    options: Mapping[str, str] = field(default_factory=dict)
    labels: Mapping[str, str] = field(default_factory=dict)

    @property
    def masquerade(self) -> bool:
        return self.options.get(OPTION_MASQUERADE, "true").lower() != "false"

    @property
    def icc(self) -> bool:
        return self.options.get(OPTION_ICC, "true").lower() != "false"

    @property
    def mtu(self) -> int:
        text = self.options.get(OPTION_MTU, "0")
        return int(text) if text.isdigit() else 0

    @property
    def host_ip(self) -> ipaddress.IPv4Address | None:
        """The host address ``-p`` binds to by default (host_binding_ipv4)."""
        text = self.options.get(OPTION_HOST_IP, "")
        return ipaddress.IPv4Address(text) if text and text != "0.0.0.0" else None

    def to_json(self) -> dict[str, Any]:
        return {"id": self.id, "name": self.name, "bridge": self.bridge,
                "pool": self.pool.to_json(), "created": self.created,
                "internal": self.internal, "default": self.default,
                "options": dict(self.options), "labels": dict(self.labels)}

    @classmethod
    def from_json(cls, data: Any) -> Network:
        return cls(id=str(data["id"]), name=str(data["name"]), bridge=str(data["bridge"]),
                   pool=Pool.from_json(data["pool"]), created=str(data["created"]),
                   internal=bool(data["internal"]), default=bool(data["default"]),
                   options={str(k): str(v) for k, v in data["options"].items()},
                   labels={str(k): str(v) for k, v in data["labels"].items()})


@dataclass(frozen=True, slots=True)
class Endpoint:
    """A container's place on one network."""

    container_id: str
    network_id: str
    ifname: str
    host_ifname: str
    address: ipaddress.IPv4Interface
    gateway: ipaddress.IPv4Address | None  # None on --internal networks: no route out
    mac: str
    name: str = ""
    aliases: tuple[str, ...] = ()
    static: bool = False  # the address was asked for (--ip)

    @property
    def ip(self) -> ipaddress.IPv4Address:
        return self.address.ip

    def to_json(self) -> dict[str, Any]:
        return {"network_id": self.network_id, "ifname": self.ifname,
                "host_ifname": self.host_ifname, "address": str(self.address),
                "gateway": str(self.gateway) if self.gateway else "", "mac": self.mac,
                "name": self.name, "aliases": list(self.aliases), "static": self.static}

    @classmethod
    def from_json(cls, container_id: str, data: Any) -> Endpoint:
        gateway = str(data["gateway"])
        return cls(container_id=container_id, network_id=str(data["network_id"]),
                   ifname=str(data["ifname"]), host_ifname=str(data["host_ifname"]),
                   address=ipaddress.IPv4Interface(str(data["address"])),
                   gateway=ipaddress.IPv4Address(gateway) if gateway else None,
                   mac=str(data["mac"]), name=str(data["name"]),
                   aliases=tuple(str(a) for a in data["aliases"]), static=bool(data["static"]))


@dataclass(frozen=True, slots=True)
class Published:
    """A published port and the endpoint address its DNAT points to."""

    binding: PortBinding
    container_ip: ipaddress.IPv4Address

    def to_json(self) -> dict[str, Any]:
        b = self.binding
        return {"proto": b.proto, "container_port": b.container_port,
                "host_ip": str(b.host_ip) if b.host_ip else "", "host_port": b.host_port,
                "container_ip": str(self.container_ip)}

    @classmethod
    def from_json(cls, data: Any) -> Published:
        host_ip = str(data["host_ip"])
        binding = PortBinding(str(data["proto"]), int(data["container_port"]),
                              ipaddress.IPv4Address(host_ip) if host_ip else None,
                              int(data["host_port"]))
        return cls(binding, ipaddress.IPv4Address(str(data["container_ip"])))


@dataclass(frozen=True, slots=True)
class Sandbox:
    """Everything the network layer set up for one container."""

    container_id: str
    netns: str
    endpoints: tuple[Endpoint, ...] = ()
    ports: tuple[Published, ...] = ()

    def to_json(self) -> dict[str, Any]:
        return {"container_id": self.container_id, "netns": self.netns,
                "endpoints": [e.to_json() for e in self.endpoints],
                "ports": [p.to_json() for p in self.ports]}

    @classmethod
    def from_json(cls, data: Any) -> Sandbox:
        cid = str(data["container_id"])
        return cls(cid, str(data["netns"]),
                   tuple(Endpoint.from_json(cid, e) for e in data["endpoints"]),
                   tuple(Published.from_json(p) for p in data["ports"]))


class NetworkStore:
    """Network records under ``root`` (one file each)."""

    def __init__(self, root: Path) -> None:
        self._root = root
        root.mkdir(parents=True, exist_ok=True)
        jsonfile.remove_temps(root)

    def put(self, network: Network) -> None:
        jsonfile.write(self._root / f"{network.id}.json", network.to_json())

    def delete(self, network_id: str) -> None:
        jsonfile.remove(self._root / f"{network_id}.json")

    def all(self) -> list[Network]:
        found = []
        for path in sorted(self._root.glob("*.json")):
            try:
                found.append(Network.from_json(jsonfile.read(path)))
            except FileNotFoundError:
                continue
            except (KeyError, TypeError, ValueError) as exc:
                raise DataCorrupt(f"network record {path}: {exc}") from exc
        return found


class SandboxStore:
    """Endpoint records under ``root``, one file per container."""

    def __init__(self, root: Path) -> None:
        self._root = root
        root.mkdir(parents=True, exist_ok=True)
        jsonfile.remove_temps(root)

    def put(self, sandbox: Sandbox) -> None:
        if not sandbox.endpoints and not sandbox.ports:
            self.delete(sandbox.container_id)
            return
        jsonfile.write(self._root / f"{sandbox.container_id}.json", sandbox.to_json())

    def delete(self, container_id: str) -> None:
        jsonfile.remove(self._root / f"{container_id}.json")

    def get(self, container_id: str) -> Sandbox:
        try:
            return Sandbox.from_json(jsonfile.read(self._root / f"{container_id}.json"))
        except FileNotFoundError as exc:
            raise NotFound(f"no network endpoints for container {container_id}") from exc

    def all(self) -> list[Sandbox]:
        found = []
        for path in sorted(self._root.glob("*.json")):
            try:
                found.append(Sandbox.from_json(jsonfile.read(path)))
            except FileNotFoundError:
                continue
            except (KeyError, TypeError, ValueError) as exc:
                raise DataCorrupt(f"endpoint record {path}: {exc}") from exc
        return found
