"""Bridge helpers (subnet choice, names, MACs) and the network/endpoint records."""

from __future__ import annotations

import ipaddress
import json
from pathlib import Path

import pytest

from dockyard.errors import Conflict, DataCorrupt, NotFound
from dockyard.network.bridge import (
    DEFAULT_BRIDGE_SUBNETS,
    VETH_PREFIX,
    choose_subnet,
    free_ifname,
    mac_for,
    user_subnets,
    veth_name,
)
from dockyard.network.ipam import Pool
from dockyard.network.netlink import Route
from dockyard.network.ports import PortBinding
from dockyard.network.store import (
    Endpoint,
    Network,
    NetworkStore,
    Published,
    Sandbox,
    SandboxStore,
)

NET = ipaddress.IPv4Network
A = ipaddress.IPv4Address


def route(dst: str) -> Route:
    return Route(NET(dst), None, 2, 254, 2, 253, 1)


def test_the_default_subnet_avoids_docker_podman_and_host_routes() -> None:
    docker_and_host = [route("0.0.0.0/0"), route("172.17.0.0/16"), route("10.88.0.0/16"),
                       route("192.0.2.0/24")]
    assert choose_subnet(DEFAULT_BRIDGE_SUBNETS, docker_and_host, []) == NET("10.87.0.0/16")
    assert choose_subnet(DEFAULT_BRIDGE_SUBNETS, [route("10.0.0.0/8")], []) == \
        NET("172.30.0.0/16")
    assert choose_subnet(DEFAULT_BRIDGE_SUBNETS, [route("10.87.5.0/24")],
                         [NET("10.86.0.0/16")]) == NET("10.85.0.0/16")
    with pytest.raises(Conflict):
        choose_subnet([NET("10.87.0.0/16")], [route("10.87.0.0/16")], [])


def test_user_subnets_are_slash_24s_of_the_pool() -> None:
    pool = list(user_subnets())
    assert (pool[0], pool[1], len(pool)) == (NET("10.90.0.0/24"), NET("10.90.1.0/24"), 512)


def test_names_and_macs() -> None:
    name = veth_name()
    assert name.startswith(VETH_PREFIX) and len(name) == 15 and name != veth_name()
    assert mac_for(A("10.87.0.2")) == "02:42:0a:57:00:02"
    assert free_ifname([]) == "eth0"
    assert free_ifname(["eth0", "eth2"]) == "eth1"


NETWORK = Network("ab" * 32, "front", "dy-abababababab", Pool.parse("10.90.0.0/24"),
                  "2024-01-02T03:04:05+00:00", options={
                      "com.docker.network.bridge.enable_icc": "false",
                      "com.docker.network.driver.mtu": "1400",
                      "com.docker.network.bridge.host_binding_ipv4": "127.0.0.1"},
                  labels={"a": "b"})
ENDPOINT = Endpoint("c1", "ab" * 32, "eth0", "dyv000000000000",
                    ipaddress.IPv4Interface("10.90.0.2/24"), A("10.90.0.1"), "02:42:0a:5a:00:02",
                    "web", ("w", "svc"), True)


def test_network_options() -> None:
    assert (NETWORK.icc, NETWORK.masquerade, NETWORK.mtu, NETWORK.host_ip) == \
        (False, True, 1400, A("127.0.0.1"))


def test_records_round_trip(tmp_path: Path) -> None:
    networks = NetworkStore(tmp_path / "config")
    networks.put(NETWORK)
    assert NetworkStore(tmp_path / "config").all() == [NETWORK]
    boxes = SandboxStore(tmp_path / "state")
    box = Sandbox("c1", "/run/netns/c1", (ENDPOINT,),
                  (Published(PortBinding("udp", 53, A("127.0.0.1"), 5353), A("10.90.0.2")),))
    boxes.put(box)
    assert boxes.get("c1") == box
    assert boxes.all() == [box]
    boxes.put(Sandbox("c1", "/run/netns/c1"))  # nothing left: the file goes
    with pytest.raises(NotFound):
        boxes.get("c1")
    networks.delete(NETWORK.id)
    assert networks.all() == []


def test_a_damaged_record_is_data_corrupt(tmp_path: Path) -> None:
    store = NetworkStore(tmp_path)
    (tmp_path / "x.json").write_text(json.dumps({"id": "x"}))
    with pytest.raises(DataCorrupt):
        store.all()
