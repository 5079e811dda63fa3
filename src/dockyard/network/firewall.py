"""The nftables rules of dockyard's bridge networks, set in-process through libnftables.

Everything lives in a table of dockyard's own, so dockerd's and podman's rules stay untouched,
and the rules never change after :meth:`Firewall.ensure`: networks and published ports are
*elements* of sets and maps the rules look up. Attaching a container therefore costs one
``add element`` batch (about 0.06 ms), removing one a ``delete element``, and reconciling
after a crash is comparing element lists::

    table ip dockyard {
      set bridges   { type ifname }               every dockyard bridge
      set same      { type ifname . ifname }      "br . br" for each: traffic inside one network
      set internal  { type ifname }               --internal networks: nothing in or out
      set no_icc    { type ifname }               enable_icc=false: no traffic inside either
      set subnets   { type ipv4_addr; interval }  every dockyard subnet
      set masq      { type ipv4_addr; interval }  subnets masqueraded on the way out
      map ports_any { inet_proto . inet_service : ipv4_addr . inet_service }           -p P:C
      map ports_ip  { ipv4_addr . inet_proto . inet_service : ipv4_addr . inet_service } -p A:P:C

      chain raw_prerouting  (filter, prerouting, raw)
          iifname @bridges ip daddr 127.0.0.0/8 drop       route_localnet must not open the
          iifname @bridges ip saddr 127.0.0.0/8 drop       host's loopback to containers
      chain nat_prerouting  (nat, prerouting, dstnat)  fib daddr type local jump hostports
      chain nat_output      (nat, output, dstnat)      fib daddr type local jump hostports
      chain hostports       dnat through ports_ip, then ports_any
      chain nat_postrouting (nat, postrouting, srcnat)
          oifname @bridges ip saddr 127.0.0.0/8 masquerade           host loopback -> port
          oifname @bridges ct status dnat ip saddr @subnets masquerade   hairpin
          oifname != @bridges ip saddr @masq masquerade              outbound
      chain forward         (filter, forward, filter)
          internal networks: drop what crosses their bridge; no_icc: drop inside the bridge;
          between two dockyard bridges: drop unless DNATed (a published port);
          into a bridge from elsewhere: drop new connections unless DNATed
    }

Published ports are DNATed in prerouting *and* output, so the host reaches them on 127.0.0.1
without a copying proxy (podman/netavark's way; dockerd's rule skips 127.0.0.0/8 and leaves it
to docker-proxy). That needs ``route_localnet=1`` on the bridge (set by
:mod:`dockyard.network.bridge`) and the loopback-source masquerade above.

nftables accepts a packet only if every base chain on its hook accepts it. dockerd (when it
enables forwarding) sets the policy of iptables' ``filter FORWARD`` to DROP, and an accept in
this table cannot override that. So, like netavark's iptables driver, :meth:`add_network` also
puts two plain accept rules per bridge (``iifname``/``oifname``) into ``ip filter``'s
``DOCKER-USER`` chain (dockerd jumps there first) or, without it, into ``FORWARD`` itself, when
that table exists; they are written in the expression forms iptables-nft itself uses, so
``iptables -S`` lists them (``-m comment --comment "dockyard <bridge>"``). This table's forward
chain still does the isolation: a drop in any chain is final. Rules in an iptables-legacy
FORWARD chain are not handled.
"""

from __future__ import annotations

import ipaddress
import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, Protocol

from dockyard.network.nft import NftError

log = logging.getLogger(__name__)

TABLE = "dockyard"
_PROTO = {"tcp": 6, "udp": 17}
_PROTO_NAME = {6: "tcp", 17: "udp", "tcp": "tcp", "udp": "udp"}


@dataclass(frozen=True, slots=True)
class NetworkRules:
    """What the firewall knows about one bridge network."""

    bridge: str
    subnet: ipaddress.IPv4Network
    internal: bool = False
    masquerade: bool = True
    icc: bool = True


@dataclass(frozen=True, slots=True, order=True)
class Dnat:
    """One published port: traffic to ``host_ip:host_port`` goes to the container."""

    proto: str
    host_port: int
    container_ip: ipaddress.IPv4Address
    container_port: int
    host_ip: ipaddress.IPv4Address | None = None  # None: every local address


class Nft(Protocol):
    """What the firewall needs of :class:`dockyard.network.nft.Nftables` (tests fake it)."""

    def run(self, commands: str, what: str = ..., *, output: int = ...) -> str: ...

    def json(self, commands: str, what: str = ...) -> list[dict[str, Any]]: ...


def _ruleset(table: str) -> str:
    t = f"ip {table}"
    return f"""
add table {t}
add set {t} bridges {{ type ifname; }}
add set {t} same {{ type ifname . ifname; }}
add set {t} internal {{ type ifname; }}
add set {t} no_icc {{ type ifname; }}
add set {t} subnets {{ type ipv4_addr; flags interval; }}
add set {t} masq {{ type ipv4_addr; flags interval; }}
add map {t} ports_any {{ type inet_proto . inet_service : ipv4_addr . inet_service; }}
add map {t} ports_ip {{ type ipv4_addr . inet_proto . inet_service : ipv4_addr . inet_service; }}
add chain {t} raw_prerouting {{ type filter hook prerouting priority raw; policy accept; }}
add rule {t} raw_prerouting iifname @bridges ip daddr 127.0.0.0/8 drop
add rule {t} raw_prerouting iifname @bridges ip saddr 127.0.0.0/8 drop
add chain {t} hostports
add rule {t} hostports meta l4proto {{ tcp, udp }} dnat ip to ip daddr . meta l4proto . th dport \
map @ports_ip
add rule {t} hostports meta l4proto {{ tcp, udp }} dnat ip to meta l4proto . th dport map @ports_any
add chain {t} nat_prerouting {{ type nat hook prerouting priority dstnat; policy accept; }}
add rule {t} nat_prerouting fib daddr type local jump hostports
add chain {t} nat_output {{ type nat hook output priority -100; policy accept; }}
add rule {t} nat_output fib daddr type local jump hostports
add chain {t} nat_postrouting {{ type nat hook postrouting priority srcnat; policy accept; }}
add rule {t} nat_postrouting oifname @bridges ip saddr 127.0.0.0/8 masquerade
add rule {t} nat_postrouting oifname @bridges ct status dnat ip saddr @subnets masquerade
add rule {t} nat_postrouting oifname != @bridges ip saddr @masq masquerade
add chain {t} forward {{ type filter hook forward priority filter; policy accept; }}
add rule {t} forward iifname @internal iifname . oifname != @same drop
add rule {t} forward oifname @internal iifname . oifname != @same drop
add rule {t} forward iifname @no_icc iifname . oifname @same ct status & dnat == 0 drop
add rule {t} forward iifname @bridges oifname @bridges iifname . oifname != @same \
ct status & dnat == 0 drop
add rule {t} forward oifname @bridges iifname != @bridges ct state new ct status & dnat == 0 drop
"""


def _missing(exc: NftError) -> bool:
    """Whether libnftables refused because the object or element is not there."""
    return "No such file" in exc.text or "does not exist" in exc.text


def _quote(name: str) -> str:
    return '"' + name.replace('"', "") + '"'


def _dnat_element(d: Dnat) -> tuple[str, str]:
    value = f"{d.container_ip} . {d.container_port}"
    if d.host_ip is None:
        return "ports_any", f"{d.proto} . {d.host_port} : {value}"
    return "ports_ip", f"{d.host_ip} . {d.proto} . {d.host_port} : {value}"


class Firewall:
    """dockyard's nftables table: its rules, network sets and published-port maps."""

    def __init__(self, nft: Nft, table: str = TABLE) -> None:
        self._nft = nft
        self.table = table
        self._comment = f"{table} "  # compat rules are "<table> <bridge>"

    # -- the table ---------------------------------------------------------------------------

    def ensure(self) -> None:
        """Create the table, sets, maps, chains and rules unless they exist (idempotent)."""
        existing = self._nft.json("list tables")
        if any(item.get("table", {}).get("name") == self.table
               and item["table"].get("family") == "ip" for item in existing):
            return
        self._nft.run(_ruleset(self.table), f"create table ip {self.table}")

    def remove(self) -> None:
        """Delete the table and every compatibility rule it added to ``ip filter``."""
        self._remove_compat(lambda _comment: True)
        try:
            self._nft.run(f"delete table ip {self.table}", f"delete table ip {self.table}")
        except NftError as exc:
            if not _missing(exc):
                raise

    # -- networks ----------------------------------------------------------------------------

    def _network_elements(self, rules: NetworkRules) -> list[tuple[str, str]]:
        br = _quote(rules.bridge)
        found = [("bridges", br), ("same", f"{br} . {br}"), ("subnets", str(rules.subnet))]
        if rules.internal:
            found.append(("internal", br))
        elif rules.masquerade:
            found.append(("masq", str(rules.subnet)))
        if not rules.icc:
            found.append(("no_icc", br))
        return found

    def add_network(self, rules: NetworkRules) -> None:
        """Add a bridge network's elements (and dockerd-compatible accepts) in one batch."""
        commands = [f"add element ip {self.table} {s} {{ {e} }}"
                    for s, e in self._network_elements(rules)]
        commands += self._compat_commands(rules.bridge)
        self._nft.run("\n".join(commands), f"firewall rules of bridge {rules.bridge}")

    def remove_network(self, rules: NetworkRules) -> None:
        """Remove what :meth:`add_network` added, in one batch; elements already gone are no
        error. A refused batch costs the kernel an aborted transaction (8-20 ms of RCU grace
        periods each), so only the elements that ``rules`` added are named, and only when some
        are missing does the removal go element by element."""
        elements = self._network_elements(rules)
        compat = self._compat_rules(lambda comment: comment == self._comment + rules.bridge)
        commands = [f"delete element ip {self.table} {s} {{ {e} }}" for s, e in elements]
        commands += [f"delete rule ip filter {chain} handle {handle}" for chain, handle in compat]
        try:
            self._nft.run("\n".join(commands), f"firewall rules of bridge {rules.bridge}")
        except NftError as exc:
            if not _missing(exc):
                raise
            for set_name, key in elements:
                self._delete_element(set_name, key)
            self.remove_compat(rules.bridge)

    def remove_bridge(self, bridge: str) -> None:
        """A bridge's set elements and its accept rules in dockerd's chain."""
        br = _quote(bridge)
        for set_name, key in (("bridges", br), ("same", f"{br} . {br}"), ("internal", br),
                              ("no_icc", br)):
            self._delete_element(set_name, key)
        self._remove_compat(lambda comment: comment == self._comment + bridge)

    def remove_subnet(self, subnet: ipaddress.IPv4Network) -> None:
        for set_name in ("subnets", "masq"):
            self._delete_element(set_name, str(subnet))

    def _delete_element(self, set_name: str, key: str) -> None:
        try:
            self._nft.run(f"delete element ip {self.table} {set_name} {{ {key} }}",
                          f"delete {key} from {set_name}")
        except NftError as exc:
            if not _missing(exc):
                raise

    def bridges(self) -> set[str]:
        """The bridges whose elements are in the table."""
        return {str(e) for e in self._elements("set", "bridges")}

    def subnets(self) -> set[ipaddress.IPv4Network]:
        found = set()
        for e in self._elements("set", "subnets"):
            prefix = e.get("prefix", {}) if isinstance(e, dict) else {}
            if prefix:
                found.add(ipaddress.IPv4Network(f"{prefix['addr']}/{prefix['len']}"))
        return found

    def _elements(self, kind: str, name: str) -> list[Any]:
        for item in self._nft.json(f"list {kind} ip {self.table} {name}"):
            if kind in item:
                return list(item[kind].get("elem", []))
        return []

    # -- dockerd's FORWARD chain ---------------------------------------------------------------

    def _compat_listing(self) -> tuple[str, list[dict[str, Any]]] | None:
        """``DOCKER-USER`` or else ``FORWARD`` of iptables-nft's ``ip filter`` with its rules,
        if it has one. Listing the chain itself costs 0.03-0.09 ms, a missing one no
        transaction; ``list chains ip`` would list every chain of every table (0.2 ms)."""
        for name in ("DOCKER-USER", "FORWARD"):
            try:
                return name, self._nft.json(f"list chain ip filter {name}")
            except NftError:
                continue
        return None

    def _compat_commands(self, bridge: str) -> list[str]:
        listing = self._compat_listing()
        if listing is None or self._compat_rules(lambda c: c == self._comment + bridge, listing):
            return []
        comment = _quote(self._comment + bridge)
        return [f"insert rule ip filter {listing[0]} {side} {_quote(bridge)} counter accept "
                f"comment {comment}" for side in ("oifname", "iifname")]

    def _compat_rules(
        self, wanted: Callable[[str], bool],
        listing: tuple[str, list[dict[str, Any]]] | None = None,
    ) -> list[tuple[str, int]]:
        listing = listing or self._compat_listing()
        if listing is None:
            return []
        chain, items = listing
        found = []
        for item in items:
            rule = item.get("rule")
            comment = rule.get("comment", "") if rule else ""
            if rule and comment.startswith(self._comment) and wanted(comment):
                found.append((chain, int(rule["handle"])))
        return found

    def _remove_compat(self, wanted: Callable[[str], bool]) -> None:
        commands = [f"delete rule ip filter {chain} handle {handle}"
                    for chain, handle in self._compat_rules(wanted)]
        if commands:
            self._nft.run("\n".join(commands), "delete dockyard rules from ip filter")

    def compat_bridges(self) -> set[str]:
        """Bridges that have accept rules in dockerd's chain."""
        listing = self._compat_listing()
        if listing is None:
            return set()
        found = set()
        for item in listing[1]:
            comment = item.get("rule", {}).get("comment", "")
            if comment.startswith(self._comment):
                found.add(comment.removeprefix(self._comment))
        return found

    def remove_compat(self, bridge: str) -> None:
        self._remove_compat(lambda comment: comment == self._comment + bridge)

    # -- published ports ---------------------------------------------------------------------

    def publish(self, dnats: Iterable[Dnat]) -> None:
        """Add published ports, all or none (one batch)."""
        commands = []
        for d in dnats:
            set_name, element = _dnat_element(d)
            commands.append(f"add element ip {self.table} {set_name} {{ {element} }}")
        if commands:
            self._nft.run("\n".join(commands), "publish ports")

    def unpublish(self, dnats: Iterable[Dnat]) -> None:
        """Remove published ports in one batch; if some are gone already, one by one."""
        keys = []
        for d in dnats:
            set_name, element = _dnat_element(d)
            keys.append((set_name, element.split(" : ")[0]))
        if not keys:
            return
        try:
            self._nft.run("\n".join(f"delete element ip {self.table} {s} {{ {k} }}"
                                    for s, k in keys), "unpublish ports")
        except NftError as exc:
            if not _missing(exc):
                raise
            for set_name, key in keys:
                self._delete_element(set_name, key)

    def published(self) -> list[Dnat]:
        """Every published port in the maps."""
        found = []
        for name in ("ports_any", "ports_ip"):
            for key, value in self._elements("map", name):
                parts = key["concat"]
                ip, port = value["concat"]
                host_ip = ipaddress.IPv4Address(parts[0]) if name == "ports_ip" else None
                proto, host_port = parts[-2], parts[-1]
                found.append(Dnat(_PROTO_NAME[proto], int(host_port), ipaddress.IPv4Address(ip),
                                  int(port), host_ip))
        return sorted(found, key=lambda d: (d.proto, d.host_port, str(d.host_ip)))
