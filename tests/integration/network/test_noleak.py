"""No leaks: after many attach/publish/release cycles the host looks exactly as before.

Compared: ``ip -d link``, ``ip addr``, ``ip route``, ``nft -s list ruleset`` (no counters) and
/run/netns. The machine is shared (dockerd, podman, other tests), so a difference only counts
when it names something of this test: its tag, dockyard's veth prefix, the test bridges' prefix
or the test subnets. Every leak this layer could cause (a veth, a bridge, an address or route
on a test bridge, a rule or element in the test's table, an accept rule commented with the tag,
a namespace) names one of those.
"""

from __future__ import annotations

import os
import re
import time
from collections.abc import Callable

import pytest

from dockyard.network.bridge import VETH_PREFIX
from dockyard.network.ipam import GATEWAY_OWNER
from dockyard.network.manager import Networks
from dockyard.network.ports import parse_publish

from .conftest import ManagerFactory, container_id, sh

pytestmark = pytest.mark.root

_TIMERS = re.compile(r"\b(\w+_timer|\w+_lft) +[\d.]+(sec)?")


def snapshot() -> dict[str, list[str]]:
    return {
        "link": _TIMERS.sub(r"\1 -", sh("ip", "-d", "link").stdout).splitlines(),
        "addr": _TIMERS.sub(r"\1 -", sh("ip", "addr").stdout).splitlines(),
        "route": sh("ip", "route", "show", "table", "all").stdout.splitlines(),
        "nft": sh("nft", "-s", "list", "ruleset").stdout.splitlines(),
        "netns": sorted(os.listdir("/run/netns")) if os.path.isdir("/run/netns") else [],
    }


_PORT = re.compile(r"^\d+: (\S+?)(@\S+)?: .*\bmaster (\S+)")


def ours(before: dict[str, list[str]], after: dict[str, list[str]],
         markers: tuple[str, ...]) -> dict[str, list[str]]:
    """Lines in one snapshot and not the other that name one of ``markers``; the lines of a
    veth enslaved to a bridge that names none (another daemon's, beside the tests) are not."""
    foreign = _foreign_ports([*before["link"], *after["link"]], markers)
    found = {}
    for key, old in before.items():
        gained = [f"+ {line}" for line in after[key] if line not in old]
        lost = [f"- {line}" for line in old if line not in after[key]]
        mine = [line for line in gained + lost if any(m in line for m in markers)
                and not any(re.search(rf"\b{name}\b", line) for name in foreign)]
        if mine:
            found[key] = mine
    return found


def _foreign_ports(links: list[str], markers: tuple[str, ...]) -> set[str]:
    found = set()
    for line in links:
        port = _PORT.match(line)
        if port is not None and not any(m in port.group(3) for m in markers):
            found.add(port.group(1))
    return found


def cycles(networks: Networks, count: int, tag: str) -> None:
    for number in range(count):
        ns = f"{tag}c{number}"
        sh("ip", "netns", "add", ns)
        cid = container_id(number)
        try:
            networks.attach(cid, f"/run/netns/{ns}", name=f"web{number}")
            networks.attach(cid, f"/run/netns/{ns}", "front", aliases=["web"])
            networks.publish(cid, [*parse_publish("80"), *parse_publish("127.0.0.1::53/udp")])
            if number % 10 == 0:
                networks.detach(cid, "front")  # disconnect while the namespace lives
        finally:
            sh("ip", "netns", "del", ns)  # the container's end: its namespace goes first
            networks.release(cid)


def run_cycles(managers: ManagerFactory, count: int) -> None:
    networks = managers()
    front = networks.create("front")
    markers = (managers.tag, VETH_PREFIX, "dt-", "10.200.", "10.201.")
    before = snapshot()
    cycles(networks, count, managers.tag)
    deadline = time.monotonic() + 10  # the kernel dismantles namespaces asynchronously
    while (leaks := ours(before, snapshot(), markers)) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert leaks == {}
    assert networks.firewall.published() == []
    assert networks.network_endpoints("front") == networks.network_endpoints("bridge") == []
    for network in (front, networks.get("bridge")):
        assert networks.addresses(network.id) == {network.pool.gateway: GATEWAY_OWNER}
    assert networks.port_holders() == set()


def test_200_cycles_leave_nothing(managers: ManagerFactory) -> None:
    run_cycles(managers, 200)


@pytest.mark.slow
def test_1000_cycles_leave_nothing(managers: ManagerFactory) -> None:
    run_cycles(managers, 1000)


def test_a_released_namespace_that_lives_on_loses_its_veth(
        networks: Networks, netns: Callable[[], str]) -> None:
    ns = netns()
    endpoint = networks.attach(container_id(1), f"/run/netns/{ns}")
    networks.release(container_id(1))
    assert sh("ip", "link", "show", endpoint.host_ifname, check=False).returncode != 0
    assert "eth0" not in sh("ip", "-n", ns, "link").stdout
