"""Published ports through the kernel's DNAT: every -p form, from the host's loopback, from
containers (hairpin, other networks), conflicts and removal."""

from __future__ import annotations

import ipaddress
from collections.abc import Callable

import pytest

from dockyard.errors import Conflict
from dockyard.network.manager import Networks
from dockyard.network.ports import PortBinding, PortRequest, parse_publish

from .conftest import Servers, ask, ask_from, container_id, free_port

pytestmark = pytest.mark.root
LO = ipaddress.IPv4Address("127.0.0.1")
GATEWAY = "10.200.0.1"  # the default test bridge's


@pytest.fixture
def web(networks: Networks, netns: Callable[[], str], servers: Servers) -> str:
    """A container on the default bridge with echo servers on 80-82 (TCP and UDP)."""
    ns = netns()
    networks.attach(container_id(1), f"/run/netns/{ns}", name="web")
    servers.echo(ns, "web", 80, 81, 82)
    return ns


def test_host_port_on_every_address(networks: Networks, web: str) -> None:
    port = free_port()
    assert networks.publish(container_id(1), parse_publish(f"{port}:80")) == \
        [PortBinding("tcp", 80, None, port)]
    # from the host's loopback the source is masqueraded to the gateway
    assert ask("tcp", "127.0.0.1", port) == f"web {GATEWAY}"
    assert ask("tcp", "127.0.0.2", port) == f"web {GATEWAY}"
    assert ask("udp", "127.0.0.1", port) == "error: TimeoutError"  # tcp only


def test_host_ip_and_ephemeral_ports(networks: Networks, web: str) -> None:
    port = free_port()
    got = networks.publish(container_id(1), [*parse_publish(f"127.0.0.1:{port}:80"),
                                             *parse_publish("127.0.0.1::81/udp"),
                                             *parse_publish("82")])
    assert got[0] == PortBinding("tcp", 80, LO, port)
    assert (got[1].proto, got[1].host_ip, got[1].container_port) == ("udp", LO, 81)
    assert (got[2].host_ip, got[2].container_port) == (None, 82)
    assert ask("tcp", "127.0.0.1", port) == f"web {GATEWAY}"
    assert ask("tcp", "127.0.0.2", port).startswith("error")  # bound to 127.0.0.1 only
    assert ask("udp", "127.0.0.1", got[1].host_port) == f"web {GATEWAY}"
    assert ask("tcp", "127.0.0.1", got[2].host_port) == f"web {GATEWAY}"
    assert networks.ports(container_id(1)) == got


def test_ranges(networks: Networks, web: str) -> None:
    first = free_port(3)
    got = networks.publish(container_id(1), parse_publish(f"{first}-{first + 2}:80-82/udp"))
    assert [(b.host_port, b.container_port) for b in got] == \
        [(first, 80), (first + 1, 81), (first + 2, 82)]
    assert [ask("udp", "127.0.0.1", first + i) for i in range(3)] == [f"web {GATEWAY}"] * 3


def test_a_host_range_for_one_port_takes_the_first_free(networks: Networks, web: str,
                                                        netns: Callable[[], str],
                                                        servers: Servers) -> None:
    first = free_port(2)
    assert networks.publish(container_id(1), parse_publish(f"{first}-{first + 1}:80")) == \
        [PortBinding("tcp", 80, None, first)]
    other = netns()
    networks.attach(container_id(2), f"/run/netns/{other}")
    servers.echo(other, "other", 80)
    assert networks.publish(container_id(2), parse_publish(f"{first}-{first + 1}:80")) == \
        [PortBinding("tcp", 80, None, first + 1)]
    assert ask("tcp", "127.0.0.1", first + 1) == f"other {GATEWAY}"
    with pytest.raises(Conflict) as caught:
        networks.publish(container_id(2), parse_publish(f"{first}:81"))
    assert str(caught.value) == f"Bind for 0.0.0.0:{first} failed: port is already allocated"


def test_from_containers_hairpin_and_other_networks(networks: Networks, web: str,
                                                    netns: Callable[[], str]) -> None:
    port = free_port()
    networks.publish(container_id(1), parse_publish(f"{port}:80"))
    web_ip = networks.endpoints(container_id(1))[0].ip
    # the container itself, through its gateway (hairpin: masqueraded to the gateway)
    assert ask_from(web, "tcp", GATEWAY, port) == f"web {GATEWAY}"
    # a neighbour on the same bridge
    neighbour = netns()
    networks.attach(container_id(2), f"/run/netns/{neighbour}")
    assert ask_from(neighbour, "tcp", GATEWAY, port) == f"web {GATEWAY}"
    # a container on another network reaches the published port, not the container itself
    networks.create("front")
    stranger = netns()
    e = networks.attach(container_id(3), f"/run/netns/{stranger}", "front")
    assert ask_from(stranger, "tcp", str(e.gateway), port) == f"web {GATEWAY}"
    assert ask_from(stranger, "tcp", str(web_ip), 80) == "error: TimeoutError"


def test_a_port_held_by_the_host_is_a_conflict_and_nothing_is_left(networks: Networks,
                                                                   web: str) -> None:
    import socket

    first = free_port(2)
    with socket.socket() as taken:
        taken.bind(("0.0.0.0", first + 1))
        with pytest.raises(Conflict):
            networks.publish(container_id(1), parse_publish(f"{first}-{first + 1}:80-81"))
        assert networks.ports(container_id(1)) == []
        assert networks.firewall.published() == []
    with socket.socket() as probe:
        probe.bind(("0.0.0.0", first))  # the first one was released again


def test_release_removes_the_ports(networks: Networks, web: str) -> None:
    import socket

    port = free_port()
    networks.publish(container_id(1), [PortRequest(80, host_port=port)])
    assert ask("tcp", "127.0.0.1", port) == f"web {GATEWAY}"
    networks.release(container_id(1))
    assert ask("tcp", "127.0.0.1", port).startswith("error")
    assert networks.firewall.published() == []
    with socket.socket() as probe:
        probe.bind(("0.0.0.0", port))


def test_host_binding_option(networks: Networks, netns: Callable[[], str],
                             servers: Servers) -> None:
    networks.create("local", options={"com.docker.network.bridge.host_binding_ipv4": "127.0.0.1"})
    ns = netns()
    networks.attach(container_id(1), f"/run/netns/{ns}", "local")
    servers.echo(ns, "local", 80)
    got = networks.publish(container_id(1), parse_publish("80"))
    assert got[0].host_ip == LO
    assert ask("tcp", "127.0.0.1", got[0].host_port).startswith("local ")
