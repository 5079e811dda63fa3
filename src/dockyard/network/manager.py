"""Networks: bridge networks, container endpoints and published ports, tied together.

This is what the container and network services call. One :class:`Networks` owns the kernel
objects of a daemon (bridges, veths, its nftables table, DNS listeners) and the records that
name them (:mod:`dockyard.network.store`). A container's network life::

    attach(cid, netns, "bridge" | net, name=, aliases=, ip=)  -> Endpoint  (per network)
    publish(cid, [PortRequest...])                           -> [PortBinding]
    release(cid)         ports, endpoints, addresses, DNS names: all gone (stop, rm)

and the daemon's: ``open()`` at start (table, default bridge, networks, DNS listeners), then
``reconcile(alive)`` with the IDs of the containers still running, which releases everything of
the others and removes strays a SIGKILL left (veths on dockyard's bridges, map elements, address
allocations, bridges without a record), then ``close()``.

Every method takes one lock: the host netlink socket and the records are shared.
"""

from __future__ import annotations

import ipaddress
import logging
import os
import secrets
import threading
import time
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from functools import partial
from pathlib import Path

from dockyard.errors import (
    AlreadyExists,
    Conflict,
    InvalidArgument,
    NotFound,
    PermissionDenied,
    SystemCallError,
)
from dockyard.network import reconcile
from dockyard.network.bridge import (
    ALIAS_PREFIX,
    DEFAULT_BRIDGE_SUBNETS,
    USER_POOL,
    Bridges,
    choose_subnet,
    free_ifname,
    user_subnets,
    veth_name,
)
from dockyard.network.dns import DnsHub
from dockyard.network.firewall import TABLE, Dnat, Firewall, NetworkRules
from dockyard.network.ipam import Ipam, Pool
from dockyard.network.netlink import Rtnl
from dockyard.network.netns import open_netns, rtnl_in
from dockyard.network.nft import Nftables
from dockyard.network.ports import HostPorts, PortBinding, PortRequest
from dockyard.network.reconcile import Reconciled
from dockyard.network.store import (
    OPTION_BRIDGE_NAME,
    Endpoint,
    Network,
    NetworkStore,
    Published,
    Sandbox,
    SandboxStore,
)
from dockyard.sys import Syscalls

log = logging.getLogger(__name__)

DEFAULT_NETWORK = "bridge"
DEFAULT_BRIDGE = "dockyard0"
BRIDGE_PREFIX = "dy-"


@dataclass(frozen=True, slots=True)
class Settings:
    """Names and pools; tests change them to run beside a real daemon."""

    table: str = TABLE
    default_bridge: str = DEFAULT_BRIDGE
    bridge_prefix: str = BRIDGE_PREFIX
    default_subnets: tuple[ipaddress.IPv4Network, ...] = DEFAULT_BRIDGE_SUBNETS
    user_pool: ipaddress.IPv4Network = USER_POOL
    ip_forward: bool = True  # set net.ipv4.ip_forward=1 as dockerd does (--ip-forward)


class Networks:
    """Bridge networks and container endpoints of one daemon."""

    def __init__(
        self, config_root: Path, state_root: Path, syscalls: Syscalls, *,
        nft: Nftables | None = None, dns: DnsHub | None = None,
        settings: Settings = Settings(), now: Callable[[], float] = time.time,
        proc_sys: Path = Path("/proc/sys"),
    ) -> None:
        self._settings = settings
        self._syscalls = syscalls
        self._now = now
        self._lock = threading.RLock()
        self._records = NetworkStore(config_root)
        self._sandboxes = SandboxStore(state_root / "endpoints")
        self._ipam = Ipam(state_root / "ipam")
        self._rtnl = Rtnl.open()
        self._bridges = Bridges(self._rtnl, syscalls, proc_sys)
        self._nft = nft or Nftables()
        self._firewall = Firewall(self._nft, settings.table)
        self._dns = dns
        self._ports = HostPorts()
        self._networks: dict[str, Network] = {}
        self._boxes: dict[str, Sandbox] = {}
        self._members: dict[str, dict[str, Endpoint]] = {}  # network ID -> container ID -> it
        self._opening = False

    @property
    def firewall(self) -> Firewall:
        return self._firewall

    # -- daemon life -------------------------------------------------------------------------

    def open(self) -> None:
        """Set up the table, the default network and every recorded network's kernel side."""
        with self._lock:
            self._firewall.ensure()
            if self._settings.ip_forward:
                self._bridges.sysctl("net.ipv4.ip_forward", "1")
            self._opening = True
            try:
                for network in self._records.all():
                    self._networks[network.id] = network
                    self._realise(network)
            finally:
                self._opening = False
            for box in self._sandboxes.all():
                self._index(box)
            if not any(n.default for n in self._networks.values()):
                self._create(DEFAULT_NETWORK, bridge=self._settings.default_bridge, pool=None,
                             internal=False, options={}, labels={}, default=True)
            for network in self._networks.values():
                self._refresh_dns(network.id)

    def close(self) -> None:
        """Forget in-memory state and close sockets; kernel objects stay for the next start."""
        with self._lock:
            self._bridges.settle()
            self._ports.close()
            self._rtnl.close()

    def dismantle(self) -> bool:
        """At a clean stop: remove the kernel side of every network (DNS listeners, bridges,
        the table and its compatibility rules) while keeping the records, which the next
        :meth:`open` realises again; so a stopped daemon leaves the host as it found it.
        Nothing is removed (False) while a container has endpoints or published ports: they
        outlive the daemon and the next one adopts them.
        """
        with self._lock:
            self._bridges.settle()
            if self._boxes:
                return False
            for network in list(self._networks.values()):
                self._unrealise(network)
            self._firewall.remove()
            return True

    def destroy(self) -> None:
        """Remove every network, endpoint and the table (tests; ``dockyardd --cleanup``).

        Best effort: every step is tried; the first failure is raised at the end.
        """
        failures: list[Exception] = []

        def attempt(step: Callable[[], object]) -> None:
            try:
                step()
            except Exception as exc:  # collected; the first one is re-raised
                log.error("network cleanup: %s", exc)
                failures.append(exc)

        with self._lock:
            for cid in list(self._boxes):
                attempt(partial(self.release, cid))
            for network in list(self._networks.values()):
                attempt(partial(self._unrealise, network))
                attempt(partial(self._records.delete, network.id))
                attempt(partial(self._ipam.delete, network.id))
            self._networks.clear()
            attempt(self._firewall.remove)
            self._bridges.settle()
        if failures:
            raise failures[0]

    def _realise(self, network: Network) -> None:
        pool = network.pool
        self._bridges.create(network.bridge,
                             ipaddress.IPv4Interface((pool.gateway, pool.subnet.prefixlen)),
                             network.mtu)
        self._firewall.add_network(_rules(network))
        if self._dns is not None and not network.default:
            try:
                self._dns.serve(network.id, str(pool.gateway))
            except SystemCallError as exc:
                if not self._opening:
                    raise
                log.error("network %s has no embedded DNS: %s", network.name, exc)
        try:
            self._ipam.pool(network.id)
        except NotFound:
            self._ipam.create(network.id, pool)

    def _unrealise(self, network: Network, *, retire: bool = False) -> None:
        """Undo :meth:`_realise`; with ``retire`` the bridge goes in the background
        (:meth:`Bridges.retire`)."""
        if self._dns is not None:
            self._dns.stop(network.id)
        self._firewall.remove_network(_rules(network))
        if retire:
            self._bridges.retire(network.bridge)
        else:
            self._bridges.delete(network.bridge)

    # -- networks ----------------------------------------------------------------------------

    def create(
        self, name: str, *, subnet: str = "", gateway: str = "", ip_range: str = "",
        internal: bool = False, options: Mapping[str, str] | None = None,
        labels: Mapping[str, str] | None = None,
    ) -> Network:
        """``docker network create -d bridge``; AlreadyExists for a taken name."""
        with self._lock:
            if any(n.name == name for n in self._networks.values()):
                raise AlreadyExists(f"network with name {name} already exists")
            pool = Pool.parse(subnet, gateway, ip_range) if subnet else None
            if pool is None and (gateway or ip_range):
                raise InvalidArgument("--gateway and --ip-range need --subnet")
            opts = dict(options or {})
            return self._create(name, bridge=opts.get(OPTION_BRIDGE_NAME, ""), pool=pool,
                                internal=internal, options=opts, labels=dict(labels or {}))

    def _create(
        self, name: str, *, bridge: str, pool: Pool | None, internal: bool,
        options: dict[str, str], labels: dict[str, str], default: bool = False,
    ) -> Network:
        network_id = secrets.token_hex(32)
        prefix = self._settings.bridge_prefix
        bridge = bridge or f"{prefix}{network_id[:15 - len(prefix)]}"  # IFNAMSIZ - 1
        if len(bridge) > 15:
            raise InvalidArgument(f"bridge name {bridge} is longer than 15 characters")
        taken = [n.pool.subnet for n in self._networks.values()]
        if pool is None:
            candidates = (self._settings.default_subnets if default
                          else user_subnets(self._settings.user_pool))
            chosen = choose_subnet(candidates, self._bridges.routes(), taken)
            pool = Pool.parse(str(chosen))
        elif any(pool.subnet.overlaps(t) for t in taken):
            raise Conflict(f"subnet {pool.subnet} overlaps with another dockyard network")
        created = datetime.fromtimestamp(self._now(), UTC).isoformat()
        network = Network(network_id, name, bridge, pool, created, internal, default,
                          options, labels)
        self._ipam.create(network_id, pool)
        try:
            self._realise(network)
            self._records.put(network)
        except BaseException:
            self._unrealise(network)
            self._ipam.delete(network_id)
            raise
        self._networks[network_id] = network
        log.info("created network %s (%s, %s)", name, bridge, pool.subnet)
        return network

    def remove(self, ref: str) -> None:
        """``docker network rm``: Conflict while containers are attached. Returns once the
        network is gone from the records, the firewall and DNS; its bridge may take 30-45 ms
        more to leave the kernel (:meth:`settle` waits for that)."""
        with self._lock:
            network = self.get(ref)
            if network.default:
                raise PermissionDenied(f"{network.name} is a pre-defined network and cannot "
                                       "be removed")
            users = self._users(network.id)
            if users:
                raise Conflict(f"error while removing network: network {network.name} id "
                               f"{network.id} has active endpoints")
            self._unrealise(network, retire=True)
            self._records.delete(network.id)
            self._ipam.delete(network.id)
            del self._networks[network.id]

    def settle(self) -> None:
        """Wait until the bridges of removed networks have left the kernel."""
        self._bridges.settle()

    def get(self, ref: str) -> Network:
        """A network by ID, name or unique ID prefix."""
        with self._lock:
            if ref in self._networks:
                return self._networks[ref]
            named = [n for n in self._networks.values() if n.name == ref]
            if named:
                return named[0]
            prefixed = [n for n in self._networks.values() if n.id.startswith(ref)]
            if len(prefixed) == 1 and ref:
                return prefixed[0]
            if len(prefixed) > 1:
                raise Conflict(f"network {ref} is ambiguous ({len(prefixed)} matches found)")
            raise NotFound(f"network {ref} not found")

    def networks(self) -> list[Network]:
        with self._lock:
            return sorted(self._networks.values(), key=lambda n: (n.created, n.id))

    def _users(self, network_id: str) -> list[Endpoint]:
        return list(self._members.get(network_id, {}).values())

    def addresses(self, ref: str) -> dict[ipaddress.IPv4Address, str]:
        """A network's address book: address -> owner (container ID or "gateway")."""
        with self._lock:
            return self._ipam.allocations(self.get(ref).id)

    def port_holders(self) -> set[str]:
        """The containers holding host-port reservations."""
        return self._ports.owners()

    def network_endpoints(self, ref: str) -> list[Endpoint]:
        """The endpoints on a network (``network inspect``'s Containers)."""
        with self._lock:
            return self._users(self.get(ref).id)

    # -- containers --------------------------------------------------------------------------

    def endpoints(self, container_id: str) -> list[Endpoint]:
        with self._lock:
            box = self._boxes.get(container_id)
            return list(box.endpoints) if box else []

    def ports(self, container_id: str) -> list[PortBinding]:
        with self._lock:
            box = self._boxes.get(container_id)
            return [p.binding for p in box.ports] if box else []

    def nameserver(self, container_id: str) -> ipaddress.IPv4Address | None:
        """The embedded DNS address for the container's resolv.conf (None: use the host's)."""
        with self._lock:
            for endpoint in self.endpoints(container_id):
                network = self._networks.get(endpoint.network_id)
                if network is not None and not network.default and self._dns is not None:
                    return network.pool.gateway
            return None

    def attach(
        self, container_id: str, netns: str, ref: str = DEFAULT_NETWORK, *, name: str = "",
        aliases: Sequence[str] = (), ip: ipaddress.IPv4Address | None = None,
    ) -> Endpoint:
        """Join the container whose network namespace is at ``netns`` to a network."""
        with self._lock:
            network = self.get(ref)
            box = self._boxes.get(container_id) or Sandbox(container_id, netns)
            if any(e.network_id == network.id for e in box.endpoints):
                raise AlreadyExists(f"endpoint with name {name or container_id[:12]} already "
                                    f"exists in network {network.name}")
            if ip is not None and network.default:
                raise InvalidArgument("user specified IP address is supported on user defined "
                                      "networks only")
            address = self._ipam.allocate(network.id, container_id, ip)
            try:
                endpoint = self._plug(box, network, address, name=name, aliases=tuple(aliases),
                                      static=ip is not None)
            except BaseException:
                self._ipam.release(network.id, address)
                raise
            box = replace(box, netns=netns, endpoints=(*box.endpoints, endpoint))
            self._save(box)
            self._refresh_dns_of(e.network_id for e in box.endpoints)
            return endpoint

    def _plug(self, box: Sandbox, network: Network, address: ipaddress.IPv4Address, *,
              name: str, aliases: tuple[str, ...], static: bool) -> Endpoint:
        gateway = None if network.internal else network.pool.gateway
        host_ifname = veth_name()
        ifname = free_ifname(e.ifname for e in box.endpoints)
        fd = open_netns(box.netns)
        try:
            attached = self._bridges.attach(
                fd, box.netns, bridge=network.bridge, host_ifname=host_ifname, ifname=ifname,
                address=ipaddress.IPv4Interface((address, network.pool.subnet.prefixlen)),
                gateway=gateway, mtu=network.mtu,
                alias=f"{ALIAS_PREFIX}{box.container_id} {network.id}")
        finally:
            os.close(fd)
        return Endpoint(box.container_id, network.id, attached.ifname, host_ifname,
                        attached.address, gateway, attached.mac, name, aliases, static)

    def detach(self, container_id: str, ref: str) -> None:
        """``docker network disconnect``: the endpoint, its ports and address go."""
        with self._lock:
            network = self.get(ref)
            box = self._boxes.get(container_id)
            endpoint = next((e for e in box.endpoints if e.network_id == network.id), None) \
                if box else None
            if box is None or endpoint is None:
                raise NotFound(f"container {container_id} is not connected to network "
                               f"{network.name}")
            gone = [p for p in box.ports if p.container_ip == endpoint.ip]
            self._unpublish(container_id, gone)
            self._bridges.detach(endpoint.host_ifname)
            self._ipam.release(network.id, endpoint.ip)
            rest = tuple(e for e in box.endpoints if e is not endpoint)
            box = replace(box, endpoints=rest, ports=tuple(p for p in box.ports if p not in gone))
            self._save(box)
            self._refresh_dns_of([network.id, *(e.network_id for e in box.endpoints)])
            self._reroute(box, endpoint)

    def _reroute(self, box: Sandbox, removed: Endpoint) -> None:
        """After the routed endpoint left, route through another network (best effort)."""
        if removed.gateway is None:
            return
        other = next((e for e in box.endpoints if e.gateway is not None), None)
        if other is None or other.gateway is None or not os.path.exists(box.netns):
            return
        fd = open_netns(box.netns)
        try:
            self._bridges.set_default_route(fd, box.netns, other.gateway)
        finally:
            os.close(fd)

    def publish(self, container_id: str, requests: Sequence[PortRequest]) -> list[PortBinding]:
        """Publish ports on the container's first routed endpoint; all or none."""
        with self._lock:
            box = self._boxes.get(container_id)
            endpoint = next((e for e in box.endpoints if e.gateway is not None), None) \
                if box else None
            if box is None or endpoint is None:
                if not requests:
                    return []
                raise InvalidArgument(f"container {container_id} has no network endpoint to "
                                      "publish ports on")
            network = self._networks[endpoint.network_id]
            made: list[Published] = []
            try:
                for asked in requests:
                    request = asked
                    if request.host_ip is None and network.host_ip is not None:
                        request = replace(request, host_ip=network.host_ip)
                    binding = self._ports.reserve(container_id, request)
                    made.append(Published(binding, endpoint.ip))
                self._firewall.publish(_dnat(p) for p in made)
            except BaseException:
                for p in made:
                    self._ports.release_binding(container_id, p.binding)
                raise
            self._save(replace(box, ports=(*box.ports, *made)))
            return [p.binding for p in made]

    def _unpublish(self, container_id: str, ports: Sequence[Published]) -> None:
        if ports:
            self._firewall.unpublish(_dnat(p) for p in ports)
        for p in ports:
            self._ports.release_binding(container_id, p.binding)

    def release(self, container_id: str) -> None:
        """Remove everything the container has: ports, endpoints, addresses, names."""
        with self._lock:
            box = self._boxes.get(container_id)
            if box is None:
                self._ports.release(container_id)
                return
            self._unpublish(container_id, box.ports)
            self._ports.release(container_id)
            netns_gone = not os.path.exists(box.netns)
            for endpoint in box.endpoints:
                if not netns_gone:
                    # deleting a veth costs 16-18 ms (RCU grace periods under the rtnl lock);
                    # when the namespace is gone the kernel removes the pair by itself
                    self._bridges.detach(endpoint.host_ifname)
                if endpoint.network_id in self._networks:
                    self._ipam.release_owner(endpoint.network_id, container_id)
            self._save(Sandbox(container_id, box.netns))
            self._refresh_dns_of(e.network_id for e in box.endpoints)

    def loopback(self, netns: str) -> None:
        """Bring ``lo`` up in a namespace (``--network none``)."""
        fd = open_netns(netns)
        try:
            with rtnl_in(fd, self._syscalls, netns) as inside:
                inside.set_link(1, up=True, name="lo")
        finally:
            os.close(fd)

    def _save(self, box: Sandbox) -> None:
        self._sandboxes.put(box)
        self._index(box)

    def _index(self, box: Sandbox) -> None:
        old = self._boxes.pop(box.container_id, None)
        for endpoint in old.endpoints if old else ():
            self._members.get(endpoint.network_id, {}).pop(box.container_id, None)
        if box.endpoints or box.ports:
            self._boxes[box.container_id] = box
        for endpoint in box.endpoints:
            self._members.setdefault(endpoint.network_id, {})[box.container_id] = endpoint

    def _refresh_dns(self, network_id: str) -> None:
        network = self._networks.get(network_id)
        if self._dns is None or network is None or network.default:
            return
        records: dict[str, list[ipaddress.IPv4Address]] = {}
        ptr: dict[ipaddress.IPv4Address, str] = {}
        peers: dict[ipaddress.IPv4Address, list[str]] = {}
        for endpoint in self._users(network_id):
            names = {endpoint.name, *endpoint.aliases, endpoint.container_id[:12]} - {""}
            for name in names:
                records.setdefault(name.lower(), []).append(endpoint.ip)
            ptr[endpoint.ip] = f"{endpoint.name or endpoint.container_id[:12]}.{network.name}"
            box = self._boxes.get(endpoint.container_id)
            others = [e.network_id for e in box.endpoints if e.network_id != network_id] \
                if box else []
            if others:
                peers[endpoint.ip] = others
        self._dns.set_records(network_id, records, ptr, peers)

    def _refresh_dns_of(self, network_ids: Iterable[str]) -> None:
        for network_id in set(network_ids):
            self._refresh_dns(network_id)

    # -- after a crash -----------------------------------------------------------------------

    def reconcile(self, alive: Collection[str]) -> Reconciled:
        """Release containers not in ``alive``; remove strays; restore live ports."""
        with self._lock:
            self._bridges.settle()  # a bridge being retired is no stray
            dead = tuple(sorted(cid for cid in self._boxes if cid not in alive))
            for cid in dead:
                self.release(cid)
            boxes = list(self._boxes.values())
            endpoints = [e for box in boxes for e in box.endpoints]
            networks = list(self._networks.values())
            links = reconcile.stray_links(self._bridges, networks,
                                          {e.host_ifname for e in endpoints})
            stray, restored = reconcile.stray_ports(
                self._firewall, [_dnat(p) for box in boxes for p in box.ports])
            addresses = reconcile.stray_addresses(self._ipam, networks, endpoints)
            bridges = reconcile.stray_bridges(self._rtnl, self._bridges, self._firewall,
                                              networks, self._settings.bridge_prefix)
            for box in boxes:
                for p in box.ports:
                    try:
                        self._ports.reserve(box.container_id, _request(p.binding))
                    except Conflict as exc:
                        log.warning("container %s: %s", box.container_id, exc)
            return Reconciled(dead, links, stray, restored, addresses, bridges)


def _rules(network: Network) -> NetworkRules:
    return NetworkRules(network.bridge, network.pool.subnet, network.internal,
                        network.masquerade, network.icc)


def _dnat(p: Published) -> Dnat:
    b = p.binding
    return Dnat(b.proto, b.host_port, p.container_ip, b.container_port, b.host_ip)


def _request(b: PortBinding) -> PortRequest:
    return PortRequest(b.container_port, b.proto, b.host_ip, b.host_port)
