"""Reconciliation after a SIGKILLed daemon, and of strays a crash can leave."""

from __future__ import annotations

import ipaddress
import json
import signal
import socket
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from dockyard.network.bridge import VETH_PREFIX
from dockyard.network.firewall import Dnat, Firewall
from dockyard.network.ipam import GATEWAY_OWNER, Ipam
from dockyard.network.manager import Networks
from dockyard.network.nft import Nftables
from dockyard.network.ports import parse_publish
from dockyard.network.reconcile import Reconciled

from .conftest import HERE, ManagerFactory, Servers, ask, ask_from, container_id, in_ns, sh

pytestmark = pytest.mark.root
A = ipaddress.IPv4Address


def link_exists(name: str) -> bool:
    return sh("ip", "link", "show", name, check=False).returncode == 0


def test_a_sigkilled_daemon_is_reconciled(managers: ManagerFactory, netns: Callable[[], str],
                                          servers: Servers, tmp_path: Path) -> None:
    namespaces = [netns() for _ in range(4)]
    child = subprocess.Popen([sys.executable, str(HERE / "crash_child.py"), str(tmp_path),
                              managers.tag, *namespaces], stdout=subprocess.PIPE, text=True)
    try:
        assert child.stdout is not None
        report = json.loads(child.stdout.readline())
    finally:
        child.send_signal(signal.SIGKILL)
        child.communicate(timeout=10)
    alive = {container_id(0), container_id(1)}
    dead = sorted(set(report) - alive)

    networks = managers()  # the restarted daemon
    result = networks.reconcile(alive)
    assert result == Reconciled(containers=tuple(dead))
    for cid in dead:
        assert not link_exists(report[cid]["veth"])
    for cid in alive:
        assert link_exists(report[cid]["veth"])
    assert sorted(d.container_ip for d in networks.firewall.published()) == \
        sorted(A(report[cid]["ip"]) for cid in alive)
    front = networks.get("front")
    assert set(Ipam(tmp_path / "state" / "ipam").allocations(front.id).values()) == \
        {GATEWAY_OWNER, container_id(1)}

    # what lives keeps working: its published port, its DNS name, and the port stays held
    servers.echo(namespaces[0], "c0", 80)
    port = report[container_id(0)]["port"]
    assert ask("tcp", "127.0.0.1", port).startswith("c0 ")
    with socket.socket() as probe, pytest.raises(OSError):
        probe.bind(("0.0.0.0", port))
    assert "Address: " + report[container_id(1)]["ip"] in in_ns(
        namespaces[1], "busybox", "nslookup", "c1", str(front.pool.gateway)).stdout
    # and a second reconcile finds nothing to do
    assert networks.reconcile(alive) == Reconciled()


def test_strays_are_removed(managers: ManagerFactory, netns: Callable[[], str],
                            servers: Servers, tmp_path: Path) -> None:
    first = managers()
    front = first.create("front")
    ns = netns()
    kept = first.attach(container_id(1), f"/run/netns/{ns}", "front")
    servers.echo(ns, "kept", 80)
    managers.abandon(first)

    # what a crash at the worst moments leaves: a veth without a record, a published port
    # without a record, an address without an endpoint, a bridge without a network
    stray_veth = VETH_PREFIX + "000000000abc"
    sh("ip", "link", "add", stray_veth, "master", front.bridge, "type", "veth", "peer", "name",
       "eth0", "netns", netns())
    Ipam(tmp_path / "state" / "ipam").allocate(front.id, container_id(9))
    stray_port = Dnat("tcp", 1, A("10.201.0.99"), 80)
    Firewall(Nftables(), managers.tag).publish([stray_port])
    stray_bridge = "dt-000000000000"
    sh("ip", "link", "add", stray_bridge, "type", "bridge")

    networks = managers()
    assert networks.reconcile({container_id(1)}) == Reconciled(
        links=(stray_veth,), ports=(stray_port,), addresses=("front:10.201.0.3",),
        bridges=(stray_bridge,))
    assert not link_exists(stray_veth) and not link_exists(stray_bridge)
    assert networks.firewall.published() == []
    assert ask_from(ns, "tcp", str(kept.gateway), 1) == "error: ConnectionRefusedError"
    assert networks.endpoints(container_id(1)) == [kept]


def test_missing_rules_of_live_containers_come_back(networks: Networks,
                                                   netns: Callable[[], str],
                                                   servers: Servers) -> None:
    ns = netns()
    networks.attach(container_id(1), f"/run/netns/{ns}")
    servers.echo(ns, "web", 80)
    binding = networks.publish(container_id(1), parse_publish("80"))[0]
    lost = networks.firewall.published()
    networks.firewall.unpublish(lost)  # someone flushed our map
    assert ask("tcp", "127.0.0.1", binding.host_port).startswith("error")
    assert networks.reconcile({container_id(1)}) == Reconciled(restored_ports=tuple(lost))
    assert ask("tcp", "127.0.0.1", binding.host_port).startswith("web ")
