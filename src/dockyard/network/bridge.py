"""Bridge devices and the veth pairs that join containers to them.

A bridge network is a Linux bridge holding the gateway address, and one veth pair per attached
container: the host end (``dyv<random>``) enslaved to the bridge, the peer (``eth0``...)
created directly in the container's network namespace. An attach is two round trips on the
host's socket and two on a socket made inside the namespace::

    host:      RTM_NEWLINK veth dyvX (master br, up) + peer eth0 (IFLA_NET_NS_FD, mac, mtu)
               RTM_NEWLINK dyvX: hairpin on, alias "dockyard <container id> <network id>"
    container: RTM_GETLINK eth0 -> index, then one datagram of four requests, run in order:
               RTM_NEWADDR ip/len brd;  RTM_NEWLINK eth0 up;  RTM_NEWLINK lo up;
               RTM_NEWROUTE default via gateway (not for --internal)

The bridge gets a fixed MAC (02:42 and the gateway address, dockerd's scheme) and IPv6 off.
Per-bridge sysctls: ``forwarding=1`` (containers' traffic is routed out of the bridge, so the
bridge must forward even when the host's global ``ip_forward`` is off) and
``route_localnet=1`` (DNAT of the host's 127.0.0.1 to a container routes a loopback source out
of the bridge; :mod:`dockyard.network.firewall` masquerades it and drops 127/8 arriving from
containers). Each bridge port gets hairpin mode, so a container reaches its own published port
through the host (br_netfilter DNATs such a frame back out of the port it came in by).
"""

from __future__ import annotations

import contextlib
import errno
import ipaddress
import logging
import secrets
import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from dockyard.errors import AlreadyExists, Conflict, NotFound, SystemCallError
from dockyard.network.netlink import (
    Route,
    Rtnl,
    address_request,
    link_request,
    route_request,
)
from dockyard.network.netns import rtnl_in
from dockyard.sys import Syscalls

log = logging.getLogger(__name__)

DEFAULT_ROUTE = ipaddress.IPv4Network("0.0.0.0/0")
LOOPBACK_INDEX = 1
VETH_PREFIX = "dyv"
ALIAS_PREFIX = "dockyard "

#: Where the default bridge's subnet comes from: the first that no host route overlaps. Docker
#: takes 172.17.0.0/16 and podman 10.88.0.0/16 (its user networks 10.89.x.0/24).
DEFAULT_BRIDGE_SUBNETS = tuple(ipaddress.IPv4Network(s) for s in (
    "10.87.0.0/16", "10.86.0.0/16", "10.85.0.0/16", "10.84.0.0/16", "172.30.0.0/16",
    "192.168.230.0/24",
))
#: Pool that user networks without ``--subnet`` are carved from, in /24s.
USER_POOL = ipaddress.IPv4Network("10.90.0.0/15")
USER_PREFIXLEN = 24


@dataclass(frozen=True, slots=True)
class Attachment:
    """What :meth:`Bridges.attach` set up in the kernel."""

    host_ifname: str
    ifname: str
    address: ipaddress.IPv4Interface
    gateway: ipaddress.IPv4Address | None
    mac: str


def veth_name() -> str:
    """A fresh host-end name (15 bytes, IFNAMSIZ - 1).

    Random rather than derived from the container: the veth of a container that just stopped
    can outlive its namespace by 10-40 ms (the kernel dismantles a namespace asynchronously), so
    a restart must not need the same name. Reconciliation finds dockyard's veths by their
    alias, ``dockyard <container id> <network id>``.
    """
    return VETH_PREFIX + secrets.token_hex(6)


def mac_for(ip: ipaddress.IPv4Address) -> str:
    """dockerd's scheme: 02:42 and the four address bytes (locally administered, unique)."""
    return "02:42:" + ":".join(f"{b:02x}" for b in ip.packed)


def overlaps(candidate: ipaddress.IPv4Network, routes: Iterable[Route],
             taken: Iterable[ipaddress.IPv4Network] = ()) -> bool:
    """Whether a subnet clashes with a host route (the default route aside) or a taken one."""
    for route in routes:
        if route.dst.prefixlen and candidate.overlaps(route.dst):
            return True
    return any(candidate.overlaps(t) for t in taken)


def choose_subnet(candidates: Iterable[ipaddress.IPv4Network], routes: Sequence[Route],
                  taken: Sequence[ipaddress.IPv4Network]) -> ipaddress.IPv4Network:
    for candidate in candidates:
        if not overlaps(candidate, routes, taken):
            return candidate
    raise Conflict("no free subnet left for a bridge network (all candidates overlap host "
                   "routes or other networks); pass --subnet")


def user_subnets(pool: ipaddress.IPv4Network = USER_POOL,
                 prefixlen: int = USER_PREFIXLEN) -> Iterable[ipaddress.IPv4Network]:
    return pool.subnets(new_prefix=prefixlen)


class Bridges:
    """Kernel side of bridge networks, through one host netlink socket (callers serialise)."""

    def __init__(self, rtnl: Rtnl, syscalls: Syscalls, proc_sys: Path = Path("/proc/sys")) -> None:
        self._rtnl = rtnl
        self._syscalls = syscalls
        self._proc_sys = proc_sys
        self._index: dict[str, int] = {}
        self._retiring: dict[str, threading.Thread] = {}  # bridge name -> thread removing it
        self._retiring_lock = threading.RLock()

    def routes(self) -> list[Route]:
        """The host's routes, once the bridges being retired (and their routes) are gone."""
        self.settle()
        return self._rtnl.routes()

    def sysctl(self, key: str, value: str) -> None:
        path = self._proc_sys / key.replace(".", "/")
        try:
            path.write_text(value)
        except OSError as exc:
            raise SystemCallError("write", exc.errno or 0, str(path)) from exc

    def create(self, name: str, gateway: ipaddress.IPv4Interface, mtu: int = 0) -> None:
        """The bridge with its gateway address, up, forwarding and route_localnet on.

        An existing bridge of that name is adopted (after a daemon restart) when it holds the
        address or nothing; a missing address is added. Bridges being retired go first: one
        may have this name or hold this subnet.
        """
        self.settle()
        try:
            # a fixed address: a bridge without one takes its lowest port's, so the gateway's
            # MAC would change under the containers' ARP caches as they come and go
            self._rtnl.create_bridge(name, mtu=mtu, mac=mac_for(gateway.ip))
        except AlreadyExists:
            log.info("adopting existing bridge %s", name)
        self._ipv6_off(name)
        link = self._rtnl.link(name)
        have = {(a.address, a.prefixlen) for a in self._rtnl.addresses(link.index)}
        if (gateway.ip, gateway.network.prefixlen) not in have:
            self._rtnl.add_address(link.index, gateway, name=name)
        self._rtnl.set_link(link.index, up=True, name=name)
        self.sysctl(f"net.ipv4.conf.{name}.forwarding", "1")
        self.sysctl(f"net.ipv4.conf.{name}.route_localnet", "1")
        self._index[name] = link.index

    def _ipv6_off(self, name: str) -> None:
        """No IPv6 on an IPv4-only bridge (no link-local address appearing with carrier)."""
        try:
            self.sysctl(f"net.ipv6.conf.{name}.disable_ipv6", "1")
        except SystemCallError as exc:
            if exc.errno != errno.ENOENT:  # a kernel without IPv6
                raise

    def delete(self, name: str) -> None:
        """Remove the bridge (its ports go with it); a missing bridge is no error."""
        self.settle(name)
        self._index.pop(name, None)
        with contextlib.suppress(NotFound):
            self._rtnl.delete_link(name)

    def retire(self, name: str) -> None:
        """Remove the bridge in a thread of its own, on a socket of its own, and return now.

        The kernel answers RTM_DELLINK of a bridge only after its unregistration has waited for
        RCU grace periods, 30-45 ms on a 2-vCPU VM, whatever the bridge held; nothing needs that
        wait but a later use of the same name or subnet, so :meth:`settle` waits instead. A
        failure is logged: the bridge is then a stray that reconciliation at the next start
        removes.
        """
        self._index.pop(name, None)
        thread = threading.Thread(target=self._delete_quietly, args=(name,),
                                  name=f"retire bridge {name}", daemon=True)
        with self._retiring_lock:
            self.settle(name)
            self._retiring[name] = thread
            thread.start()

    def _delete_quietly(self, name: str) -> None:
        try:
            with Rtnl.open() as rtnl, contextlib.suppress(NotFound):
                rtnl.delete_link(name)
        except (SystemCallError, OSError) as exc:
            log.error("bridge %s was not removed: %s", name, exc)

    def settle(self, name: str = "") -> None:
        """Wait until the bridge ``name`` (or every bridge) that :meth:`retire` removes is gone."""
        with self._retiring_lock:
            names = [name] if name else list(self._retiring)
            threads = {n: self._retiring[n] for n in names if n in self._retiring}
        for thread in threads.values():
            thread.join()
        with self._retiring_lock:
            for n, thread in threads.items():
                if self._retiring.get(n) is thread:
                    del self._retiring[n]

    def index(self, name: str) -> int:
        found = self._index.get(name)
        if found is None:
            found = self._index[name] = self._rtnl.link(name).index
        return found

    def attach(
        self, netns_fd: int, where: str, *, bridge: str, host_ifname: str, ifname: str,
        address: ipaddress.IPv4Interface, gateway: ipaddress.IPv4Address | None,
        mtu: int = 0, alias: str = "",
    ) -> Attachment:
        """Create the veth pair and configure the container's end; undone on failure."""
        mac = mac_for(address.ip)
        self._rtnl.create_veth(host_ifname, ifname, peer_netns_fd=netns_fd,
                               master=self.index(bridge), mtu=mtu, peer_mac=mac, up=True)
        try:
            self._rtnl.set_port(host_ifname, hairpin=True, alias=alias)
            with rtnl_in(netns_fd, self._syscalls, where) as inside:
                index = inside.link(ifname).index
                requests = [address_request(index, address, name=ifname),
                            link_request(index, up=True, name=ifname),
                            link_request(LOOPBACK_INDEX, up=True, name="lo")]
                if gateway is not None:
                    requests.append(route_request(DEFAULT_ROUTE, gateway=gateway))
                for number, error in enumerate(inside.batch(requests)):
                    if number == 3 and isinstance(error, AlreadyExists):
                        log.debug("%s has a default route already; keeping it", where)
                    elif error is not None:
                        raise error
        except BaseException:
            self.detach(host_ifname)
            raise
        return Attachment(host_ifname, ifname, address, gateway, mac)

    @staticmethod
    def _default_route(inside: Rtnl, gateway: ipaddress.IPv4Address) -> None:
        try:
            inside.add_route(DEFAULT_ROUTE, gateway=gateway)
        except AlreadyExists:
            log.debug("%s has a default route already; keeping it", inside.where)

    def set_default_route(self, netns_fd: int, where: str,
                          gateway: ipaddress.IPv4Address) -> None:
        """Route the container's traffic through ``gateway`` unless a default route exists."""
        with rtnl_in(netns_fd, self._syscalls, where) as inside:
            self._default_route(inside, gateway)

    def detach(self, host_ifname: str) -> None:
        """Delete the veth pair by its host end (the peer goes with it); gone already is fine."""
        with contextlib.suppress(NotFound):
            self._rtnl.delete_link(host_ifname)

    def ports(self, bridge: str) -> list[tuple[str, str]]:
        """(host ifname, alias) of every port of ``bridge``."""
        try:
            index = self.index(bridge)
        except NotFound:
            return []
        return [(link.name, link.alias) for link in self._rtnl.links() if link.master == index]

    def exists(self, name: str) -> bool:
        try:
            self._rtnl.link(name)
        except NotFound:
            return False
        return True


def free_ifname(existing: Iterable[str]) -> str:
    """The first ``ethN`` not in ``existing``."""
    taken = set(existing)
    number = 0
    while f"eth{number}" in taken:
        number += 1
    return f"eth{number}"

