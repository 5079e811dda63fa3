"""What a container start and stop ask of networking, 200 times over: attach to the default bridge
(veth made in the namespace, address, link up, loopback up, default route, endpoint and address
records), publish one port, attach to a second (user) network with a DNS name, and, after the
namespace is gone, release.

Each attach leaves what it promised (the endpoint's address on its interface in the namespace,
the default route, the host end on the bridge, the published port's map element), and after the
releases nothing of it is left. How long these steps take is the bench row ``network_attach``
(bench/README.md), measured there against issue #9's goal; no figure is asserted here.
"""

from __future__ import annotations

import json
import time

import pytest

from dockyard.network.firewall import Dnat
from dockyard.network.ipam import GATEWAY_OWNER
from dockyard.network.manager import Networks
from dockyard.network.ports import PortBinding, parse_publish
from dockyard.network.store import Endpoint, Network

from .conftest import container_id, sh

pytestmark = pytest.mark.root

COUNT = 200

Attached = tuple[Endpoint, PortBinding, Endpoint]  # default endpoint, its port, user endpoint


def inside(ns: str) -> dict[str, tuple[bool, list[str]]]:
    """The namespace's interfaces: name -> (up, IPv4 addresses with their prefix)."""
    links = json.loads(sh("ip", "-n", ns, "-4", "-j", "addr").stdout)
    found = {link["ifname"]: ("UP" in link["flags"],
                              [f"{a['local']}/{a['prefixlen']}" for a in link["addr_info"]])
             for link in links}  # fmt: skip
    for link in json.loads(sh("ip", "-n", ns, "-j", "link").stdout):
        found.setdefault(link["ifname"], ("UP" in link["flags"], []))
    return found


def default_routes(ns: str) -> list[tuple[str, str]]:
    routes = json.loads(sh("ip", "-n", ns, "-4", "-j", "route", "show", "default").stdout)
    return [(r["gateway"], r["dev"]) for r in routes]


def ports_of(bridge: str) -> set[str]:
    """The host ends enslaved to a bridge."""
    return {link["ifname"] for link in json.loads(sh("ip", "-j", "link", "show", "master",
                                                     bridge).stdout)}  # fmt: skip


def attach_all(networks: Networks, names: list[str]) -> dict[str, Attached]:
    attached = {}
    for number, name in enumerate(names):
        cid, netns = container_id(number), f"/run/netns/{name}"
        default = networks.attach(cid, netns)
        (binding,) = networks.publish(cid, parse_publish("80"))
        user = networks.attach(cid, netns, "front", name=f"c{number}")
        attached[cid] = (default, binding, user)
    return attached


def check_attached(networks: Networks, names: list[str], attached: dict[str, Attached],
                   bridge: Network, front: Network) -> None:
    for number, (name, (cid, (default, binding, user))) in enumerate(
            zip(names, attached.items(), strict=True)):
        assert (default.ifname, default.gateway) == ("eth0", bridge.pool.gateway)
        assert (user.ifname, user.gateway, user.name) == ("eth1", front.pool.gateway,
                                                          f"c{number}")
        assert default.ip in bridge.pool.subnet and user.ip in front.pool.subnet
        assert networks.endpoints(cid) == [default, user]
        assert networks.ports(cid) == [binding]
        assert (binding.proto, binding.container_port, binding.host_ip) == ("tcp", 80, None)
        assert inside(name) == {"lo": (True, ["127.0.0.1/8"]),
                                "eth0": (True, [str(default.address)]),
                                "eth1": (True, [str(user.address)])}
        assert default_routes(name) == [(str(bridge.pool.gateway), "eth0")]
    defaults = [a[0] for a in attached.values()]
    users = [a[2] for a in attached.values()]
    assert len({e.ip for e in defaults}) == len({e.ip for e in users}) == COUNT
    assert ports_of(bridge.bridge) >= {e.host_ifname for e in defaults}
    assert ports_of(front.bridge) >= {e.host_ifname for e in users}
    assert networks.firewall.published() == sorted(
        Dnat("tcp", binding.host_port, default.ip, 80) for default, binding, _ in attached.values()
    )
    assert networks.port_holders() == set(attached)
    assert set(networks.network_endpoints("bridge")) == set(defaults)
    assert set(networks.network_endpoints("front")) == set(users)
    assert networks.addresses(front.id) == {front.pool.gateway: GATEWAY_OWNER,
                                            **{e.ip: e.container_id for e in users}}


def check_released(networks: Networks, attached: dict[str, Attached], bridge: Network,
                   front: Network) -> None:
    for cid in attached:
        assert (networks.endpoints(cid), networks.ports(cid)) == ([], [])
    assert networks.firewall.published() == []
    assert networks.port_holders() == set()
    assert networks.network_endpoints("bridge") == networks.network_endpoints("front") == []
    for network in (bridge, front):
        assert networks.addresses(network.id) == {network.pool.gateway: GATEWAY_OWNER}
    host_ends = {e.host_ifname for default, _, user in attached.values() for e in (default, user)}
    deadline = time.monotonic() + 10  # the kernel dismantles namespaces asynchronously
    while (left := (ports_of(bridge.bridge) | ports_of(front.bridge)) & host_ends) \
            and time.monotonic() < deadline:
        time.sleep(0.1)
    assert left == set()


def test_200_attach_publish_second_network_release_cycles(networks: Networks, tag: str) -> None:
    names = [f"{tag}t{i}" for i in range(COUNT)]
    front = networks.create("front")
    bridge = networks.get("bridge")
    try:
        for name in names:
            sh("ip", "netns", "add", name)
        attached = attach_all(networks, names)
        check_attached(networks, names, attached, bridge, front)
        for cid, name in zip(attached, names, strict=True):
            sh("ip", "netns", "del", name)  # the container's end: its namespace goes first
            networks.release(cid)
        check_released(networks, attached, bridge, front)
    finally:
        for name in names:
            sh("ip", "netns", "del", name, check=False)
