"""Bridge networks on the real kernel: connectivity, isolation, --internal, outbound NAT, DNS."""

from __future__ import annotations

import ipaddress
from collections.abc import Callable

import pytest

from dockyard.errors import AlreadyExists, Conflict, InvalidArgument, NotFound, PermissionDenied
from dockyard.network.manager import Networks
from dockyard.network.store import Endpoint

from .conftest import (
    DEFAULT_SUBNET,
    OUTSIDE,
    OUTSIDE_HOST,
    ManagerFactory,
    Servers,
    ask_from,
    container_id,
    in_ns,
    sh,
)

pytestmark = pytest.mark.root
A = ipaddress.IPv4Address


def ping(ns: str, ip: object) -> bool:
    return in_ns(ns, "busybox", "ping", "-c1", "-W1", str(ip), check=False).returncode == 0


def test_two_containers_on_the_default_bridge(networks: Networks,
                                              netns: Callable[[], str]) -> None:
    one, two = netns(), netns()
    first = networks.attach(container_id(1), f"/run/netns/{one}", name="one")
    second = networks.attach(container_id(2), f"/run/netns/{two}", name="two")
    default = networks.get("bridge")
    assert first == Endpoint(container_id(1), default.id, "eth0", first.host_ifname,
                             ipaddress.IPv4Interface("10.200.0.2/24"), A("10.200.0.1"),
                             "02:42:0a:c8:00:02", "one")
    assert second.address == ipaddress.IPv4Interface("10.200.0.3/24")
    assert default.pool.subnet == DEFAULT_SUBNET
    assert ping(one, second.ip) and ping(two, first.ip) and ping(one, "10.200.0.1")
    inside = in_ns(one, "ip", "-4", "-o", "addr", "show", "dev", "eth0").stdout
    assert "inet 10.200.0.2/24 brd 10.200.0.255" in inside
    assert in_ns(one, "ip", "route").stdout.splitlines()[0] == "default via 10.200.0.1 dev eth0 "
    assert in_ns(one, "ip", "-o", "link", "show", "lo").stdout.count("UP") >= 1
    assert networks.network_endpoints("bridge") == [first, second]
    assert networks.endpoints(container_id(1)) == [first]


def test_networks_are_isolated_from_each_other(networks: Networks, netns: Callable[[], str],
                                               servers: Servers) -> None:
    networks.create("front")
    networks.create("back")
    a, b, both = netns(), netns(), netns()
    ea = networks.attach(container_id(1), f"/run/netns/{a}", "front")
    eb = networks.attach(container_id(2), f"/run/netns/{b}", "back")
    ec1 = networks.attach(container_id(3), f"/run/netns/{both}", "front")
    ec2 = networks.attach(container_id(3), f"/run/netns/{both}", "back")
    assert (ec1.ifname, ec2.ifname) == ("eth0", "eth1")
    servers.echo(a, "a", 80)
    servers.echo(b, "b", 80)
    assert ask_from(both, "tcp", str(ea.ip), 80) == f"a {ec1.ip}"
    assert ask_from(both, "tcp", str(eb.ip), 80) == f"b {ec2.ip}"
    assert ask_from(a, "tcp", str(eb.ip), 80) == "error: TimeoutError"
    assert ask_from(b, "tcp", str(ea.ip), 80) == "error: TimeoutError"
    assert not ping(a, eb.ip)
    # the way through the host stays shut too: b's gateway is not a router into front
    assert not ping(b, f"{ea.ip}")


def test_internal_networks_reach_only_each_other(networks: Networks, netns: Callable[[], str],
                                                 outside: str, servers: Servers) -> None:
    networks.create("secret", internal=True, subnet="10.201.77.0/24")
    a, b = netns(), netns()
    ea = networks.attach(container_id(1), f"/run/netns/{a}", "secret")
    eb = networks.attach(container_id(2), f"/run/netns/{b}", "secret")
    assert ea.gateway is None
    assert "default" not in in_ns(a, "ip", "route").stdout
    servers.echo(b, "b", 80)
    servers.echo(outside, "outside", 80)
    assert ask_from(a, "tcp", str(eb.ip), 80) == f"b {ea.ip}"
    # even with a route out, the firewall keeps an internal network in
    in_ns(a, "ip", "route", "add", "default", "via", "10.201.77.1")
    assert ask_from(a, "tcp", OUTSIDE, 80) == "error: TimeoutError"


def test_outbound_traffic_is_masqueraded(networks: Networks, netns: Callable[[], str],
                                         outside: str, servers: Servers) -> None:
    networks.create("front")
    a, b = netns(), netns()
    networks.attach(container_id(1), f"/run/netns/{a}")
    networks.attach(container_id(2), f"/run/netns/{b}", "front")
    servers.echo(outside, "outside", 80)
    assert ask_from(a, "tcp", OUTSIDE, 80) == f"outside {OUTSIDE_HOST}"
    assert ask_from(b, "udp", OUTSIDE, 80) == f"outside {OUTSIDE_HOST}"
    # nothing from outside reaches a container directly
    sh("ip", "-n", outside, "route", "add", "10.201.0.0/16", "via", OUTSIDE_HOST)
    servers.echo(b, "b", 81)
    ip_b = networks.endpoints(container_id(2))[0].ip
    assert ask_from(outside, "tcp", str(ip_b), 81) == "error: TimeoutError"


def test_masquerade_off(networks: Networks, netns: Callable[[], str], outside: str,
                        servers: Servers) -> None:
    networks.create("plain", options={"com.docker.network.bridge.enable_ip_masquerade": "false"})
    a = netns()
    networks.attach(container_id(1), f"/run/netns/{a}", "plain")
    servers.echo(outside, "outside", 80)
    # unmasqueraded, the outside host has no route back to 10.201.x: no answer
    assert ask_from(a, "tcp", OUTSIDE, 80) == "error: TimeoutError"


def test_names_aliases_and_forwarding(managers: ManagerFactory, netns: Callable[[], str],
                                      outside: str, servers: Servers) -> None:
    networks = managers(upstreams=[(OUTSIDE, 53)])
    front = networks.create("front")
    servers.start(outside, "stub_dns.py", OUTSIDE)
    a, b = netns(), netns()
    ea = networks.attach(container_id(1), f"/run/netns/{a}", "front", name="web",
                         aliases=["frontend", "project-web-1"])
    networks.attach(container_id(2), f"/run/netns/{b}", "front", name="db",
                    aliases=["database"])
    gateway = str(front.pool.gateway)
    assert networks.nameserver(container_id(2)) == front.pool.gateway

    def lookup(name: str) -> str:
        result = in_ns(b, "busybox", "nslookup", name, gateway, check=False)
        return result.stdout + result.stderr

    for name in ("web", "frontend", "project-web-1", container_id(1)[:12], "WEB"):
        assert f"Address: {ea.ip}" in lookup(name)
    assert "Address: 198.18.0.99" in lookup("example.test")
    assert "NXDOMAIN" in lookup("missing.test")
    assert "name = web.front" in lookup(str(ea.ip))
    # a container on "front" and "back" asks front's resolver for names on "back" too
    back = networks.create("back")
    networks.attach(container_id(2), f"/run/netns/{b}", "back")
    other = networks.attach(container_id(3), f"/run/netns/{netns()}", "back", name="cache")
    assert f"Address: {other.ip}" in lookup("cache")
    assert "name = cache.back" in lookup(str(other.ip))
    assert str(back.pool.gateway) != gateway
    networks.release(container_id(1))
    assert "Address: 198.18.0.99" in lookup("web")  # not ours any more: forwarded


def test_the_default_bridge_has_no_embedded_dns(networks: Networks,
                                                netns: Callable[[], str]) -> None:
    networks.attach(container_id(1), f"/run/netns/{netns()}")
    assert networks.nameserver(container_id(1)) is None


def test_network_records(networks: Networks, netns: Callable[[], str]) -> None:
    net = networks.create("front", subnet="10.201.50.0/24", gateway="10.201.50.254",
                          ip_range="10.201.50.128/25", labels={"a": "b"},
                          options={"com.docker.network.driver.mtu": "1400"})
    assert networks.get("front") == networks.get(net.id[:6]) == net
    assert (net.bridge, net.mtu, net.labels) == (f"dt-{net.id[:12]}", 1400, {"a": "b"})
    with pytest.raises(AlreadyExists):
        networks.create("front")
    with pytest.raises(Conflict):
        networks.create("overlapping", subnet="10.201.50.0/25")
    with pytest.raises(InvalidArgument):
        networks.create("nosubnet", gateway="10.1.1.1")
    ns = netns()
    e = networks.attach(container_id(1), f"/run/netns/{ns}", "front",
                        ip=A("10.201.50.7"))
    assert e.address == ipaddress.IPv4Interface("10.201.50.7/24") and e.static
    assert "mtu 1400" in in_ns(ns, "ip", "link", "show", "eth0").stdout
    with pytest.raises(Conflict):
        networks.attach(container_id(2), f"/run/netns/{netns()}", "front",
                        ip=A("10.201.50.7"))
    with pytest.raises(AlreadyExists):
        networks.attach(container_id(1), f"/run/netns/{ns}", "front")
    with pytest.raises(Conflict):
        networks.remove("front")
    with pytest.raises(PermissionDenied):
        networks.remove("bridge")
    networks.detach(container_id(1), "front")
    assert in_ns(ns, "ip", "link", "show", "eth0", check=False).returncode != 0
    networks.remove("front")
    with pytest.raises(NotFound):
        networks.get("front")
    assert [n.name for n in networks.networks()] == ["bridge"]
    networks.settle()  # the bridge leaves the kernel in the background
    assert sh("ip", "link", "show", net.bridge, check=False).returncode != 0


def test_detach_moves_the_default_route_to_the_next_network(
        networks: Networks, netns: Callable[[], str]) -> None:
    networks.create("front")
    ns = netns()
    networks.attach(container_id(1), f"/run/netns/{ns}")
    second = networks.attach(container_id(1), f"/run/netns/{ns}", "front")
    assert "default via 10.200.0.1" in in_ns(ns, "ip", "route").stdout
    networks.detach(container_id(1), "bridge")
    assert f"default via {second.gateway} dev eth1" in in_ns(ns, "ip", "route").stdout
    assert networks.endpoints(container_id(1)) == [second]


def test_attach_to_a_missing_namespace_leaves_nothing(networks: Networks) -> None:
    with pytest.raises(NotFound):
        networks.attach(container_id(1), "/run/netns/dyt-nothing-here")
    assert networks.endpoints(container_id(1)) == []
    assert networks.network_endpoints("bridge") == []


def test_a_removed_bridge_leaves_in_the_background_and_its_name_and_subnet_come_back(
        networks: Networks, netns: Callable[[], str]) -> None:
    options = {"com.docker.network.bridge.name": "dt-again"}
    first = networks.create("front", subnet="10.201.60.0/24", options=options)
    networks.remove("front")  # returns before the kernel has unregistered the bridge
    with pytest.raises(NotFound):
        networks.get("front")
    again = networks.create("front", subnet="10.201.60.0/24", options=options)  # waits for it
    assert (again.bridge, again.pool.subnet) == (first.bridge, first.pool.subnet)
    ns = netns()
    networks.attach(container_id(1), f"/run/netns/{ns}", "front")
    assert ping(ns, again.pool.gateway)
    networks.release(container_id(1))
    networks.remove("front")
    networks.settle()
    assert sh("ip", "link", "show", "dt-again", check=False).returncode != 0
    assert "10.201.60.0/24" not in sh("ip", "route").stdout
