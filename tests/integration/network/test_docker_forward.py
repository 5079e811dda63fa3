"""Coexistence with dockerd: its iptables FORWARD policy DROP must not cut dockyard's bridges.

dockerd sets that policy when it enables forwarding (it runs with --ip-forward=false on this
machine, so the test sets it for the duration, and restores what it found). dockerd's own
containers are unaffected: dockerd's rules accept their traffic before the policy.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterator

import pytest

from dockyard.network.firewall import NetworkRules
from dockyard.network.manager import Networks
from dockyard.network.ports import parse_publish

from .conftest import OUTSIDE, OUTSIDE_HOST, Servers, ask_from, container_id, sh

pytestmark = pytest.mark.root


@pytest.fixture
def forward_drop() -> Iterator[None]:
    if shutil.which("iptables") is None or "nf_tables" not in sh("iptables", "-V").stdout:
        pytest.skip("needs iptables-nft")
    before = sh("iptables", "-S", "FORWARD").stdout.splitlines()[0]  # "-P FORWARD ACCEPT"
    policy = before.split()[-1]
    sh("iptables", "-P", "FORWARD", "DROP")
    try:
        yield
    finally:
        sh("iptables", "-P", "FORWARD", policy)


def test_bridges_work_under_dockerds_drop_policy(
        forward_drop: None, networks: Networks, netns: Callable[[], str], outside: str,
        servers: Servers) -> None:
    front = networks.create("front")
    a, b, c = netns(), netns(), netns()
    ea = networks.attach(container_id(1), f"/run/netns/{a}", "front")
    eb = networks.attach(container_id(2), f"/run/netns/{b}", "front")
    networks.attach(container_id(3), f"/run/netns/{c}")
    servers.echo(a, "a", 80)
    servers.echo(outside, "outside", 80)
    port = networks.publish(container_id(1), parse_publish("80"))[0].host_port
    chain = "DOCKER-USER" if "DOCKER-USER" in sh("iptables", "-S").stdout else "FORWARD"
    rules = sh("iptables", "-S", chain).stdout
    assert f'-A {chain} -i {front.bridge} -m comment --comment "{networks.firewall.table} ' \
        f'{front.bridge}" -j ACCEPT' in rules

    assert ask_from(b, "tcp", str(ea.ip), 80) == f"a {eb.ip}"  # inside one bridge
    assert ask_from(b, "tcp", OUTSIDE, 80) == f"outside {OUTSIDE_HOST}"  # out
    assert ask_from(c, "tcp", "10.200.0.1", port) == f"a {front.pool.gateway}"  # across, DNAT

    # the control: without the accepts, dockerd's policy drops all of it
    networks.firewall.remove_compat(front.bridge)
    assert ask_from(b, "tcp", str(ea.ip), 80) == "error: TimeoutError"
    networks.firewall.add_network(NetworkRules(front.bridge, front.pool.subnet))
    assert ask_from(b, "tcp", str(ea.ip), 80) == f"a {eb.ip}"
