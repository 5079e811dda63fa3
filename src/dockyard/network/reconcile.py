"""Reconciliation: make the kernel and the address books match the records after a crash.

A daemon killed mid-operation leaves at most (the write order is kernel object first, record
last; removal is the reverse):

- a veth on one of dockyard's bridges that no endpoint record names (killed between
  RTM_NEWLINK and the endpoint file) - found by bridge and ``dyv`` name, deleted;
- map elements (published ports) that no record names - deleted; and records whose elements
  are missing (someone flushed the table) - added back;
- address allocations without an endpoint - released; address books without a network -
  deleted;
- a bridge, set elements or dockerd-chain accepts of a network whose record was never written
  or already removed - found by the bridge-name prefix and in the sets, removed.

Everything is scoped by the names this daemon uses (its bridges, its table, its prefix), so a
second daemon, or a test, beside it is left alone.
"""

from __future__ import annotations

import contextlib
import ipaddress
import logging
from collections.abc import Collection, Iterable
from dataclasses import dataclass

from dockyard.errors import NotFound
from dockyard.network.bridge import VETH_PREFIX, Bridges
from dockyard.network.firewall import Dnat, Firewall
from dockyard.network.ipam import GATEWAY_OWNER, Ipam
from dockyard.network.netlink import Rtnl
from dockyard.network.store import Endpoint, Network

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Reconciled:
    """What a reconciliation removed or restored."""

    containers: tuple[str, ...] = ()
    links: tuple[str, ...] = ()
    ports: tuple[Dnat, ...] = ()
    restored_ports: tuple[Dnat, ...] = ()
    addresses: tuple[str, ...] = ()
    bridges: tuple[str, ...] = ()


def stray_links(bridges: Bridges, networks: Iterable[Network],
                known: Collection[str]) -> tuple[str, ...]:
    """Delete dockyard veths on dockyard bridges that no endpoint names."""
    gone = []
    for network in networks:
        for name, _alias in bridges.ports(network.bridge):
            if name.startswith(VETH_PREFIX) and name not in known:
                bridges.detach(name)
                gone.append(name)
    return tuple(sorted(gone))


def stray_ports(firewall: Firewall, known: Collection[Dnat]) -> tuple[tuple[Dnat, ...],
                                                                     tuple[Dnat, ...]]:
    """Delete published ports no record names; add back recorded ones that are missing."""
    present = set(firewall.published())
    stray = tuple(sorted(present - set(known)))
    missing = tuple(sorted(set(known) - present))
    if stray:
        firewall.unpublish(stray)
    if missing:
        firewall.publish(missing)
    return stray, missing


def stray_addresses(ipam: Ipam, networks: Iterable[Network],
                    endpoints: Iterable[Endpoint]) -> tuple[str, ...]:
    """Release allocations without an endpoint; delete books without a network."""
    held = {(e.network_id, e.container_id, e.ip) for e in endpoints}
    by_id = {n.id: n for n in networks}
    gone = []
    for network_id in ipam.networks():
        network = by_id.get(network_id)
        if network is None:
            ipam.delete(network_id)
            gone.append(f"{network_id}:*")
            continue
        for address, owner in ipam.allocations(network_id).items():
            if owner != GATEWAY_OWNER and (network_id, owner, address) not in held:
                ipam.release(network_id, address)
                gone.append(f"{network.name}:{address}")
    return tuple(gone)


def stray_bridges(rtnl: Rtnl, bridges: Bridges, firewall: Firewall, networks: Iterable[Network],
                  prefix: str) -> tuple[str, ...]:
    """Remove bridges (by prefix), set elements and dockerd-chain accepts of no network."""
    networks = list(networks)
    ours = {n.bridge for n in networks}
    stray = {b for b in firewall.bridges() | firewall.compat_bridges() if b not in ours}
    stray |= {link.name for link in rtnl.links()
              if link.kind == "bridge" and link.name.startswith(prefix) and link.name not in ours}
    for bridge in sorted(stray):
        firewall.remove_bridge(bridge)
        with contextlib.suppress(NotFound):
            bridges.delete(bridge)
    subnets: set[ipaddress.IPv4Network] = {n.pool.subnet for n in networks}
    for subnet in firewall.subnets() - subnets:
        firewall.remove_subnet(subnet)
    return tuple(sorted(stray))
