"""Rtnl and run_in on the real kernel, inside namespaces the test makes."""

from __future__ import annotations

import ipaddress
import os
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from dockyard.errors import AlreadyExists, NotFound
from dockyard.network import netns as pinned
from dockyard.network.manager import Networks
from dockyard.network.netlink import Rtnl
from dockyard.network.netns import open_netns, rtnl_in, run_in
from dockyard.sys.linux import LinuxSyscalls

from .conftest import in_ns

pytestmark = pytest.mark.root


def test_bridge_veth_address_route_in_a_namespace(netns: Callable[[], str]) -> None:
    host_ns, ctr_ns = netns(), netns()
    syscalls = LinuxSyscalls()
    host_fd, ctr_fd = open_netns(f"/run/netns/{host_ns}"), open_netns(f"/run/netns/{ctr_ns}")
    try:
        with rtnl_in(host_fd, syscalls, host_ns) as host, \
                rtnl_in(ctr_fd, syscalls, ctr_ns) as ctr:
            host.create_bridge("br0", mtu=1400)
            bridge = host.link("br0")
            host.add_address(bridge.index, ipaddress.IPv4Interface("10.210.0.1/24"))
            host.set_link(bridge.index, up=True)
            host.create_veth("v0", "eth0", peer_netns_fd=ctr_fd, master=bridge.index,
                             mtu=1400, peer_mac="02:42:0a:d2:00:02", up=True)
            host.set_port("v0", hairpin=True, alias="dockyard x")
            veth = host.link("v0")
            eth0 = ctr.link("eth0")
            ctr.add_address(eth0.index, ipaddress.IPv4Interface("10.210.0.2/24"))
            ctr.set_link(eth0.index, up=True)
            ctr.add_route(ipaddress.IPv4Network("0.0.0.0/0"),
                          gateway=ipaddress.IPv4Address("10.210.0.1"))

            assert (veth.master, veth.kind, veth.alias, veth.mtu, veth.up) == \
                (bridge.index, "veth", "dockyard x", 1400, True)
            assert (eth0.mac, eth0.kind, eth0.peer) == ("02:42:0a:d2:00:02", "veth", veth.index)
            assert [(a.address, a.prefixlen) for a in ctr.addresses(eth0.index)] == \
                [(ipaddress.IPv4Address("10.210.0.2"), 24)]
            default = [r for r in ctr.routes() if r.dst.prefixlen == 0]
            assert [(r.gateway, r.oif) for r in default] == \
                [(ipaddress.IPv4Address("10.210.0.1"), eth0.index)]
            assert "hairpin on" in in_ns(host_ns, "bridge", "-d", "link", "show", "dev",
                                         "v0").stdout

            with pytest.raises(AlreadyExists):
                host.create_bridge("br0")
            host.delete_link("v0")
            with pytest.raises(NotFound):
                ctr.link("eth0")
            with pytest.raises(NotFound):
                host.delete_link("v0")
    finally:
        os.close(host_fd)
        os.close(ctr_fd)


def test_run_in_leaves_the_calling_thread_where_it_was(netns: Callable[[], str]) -> None:
    name = netns()
    before = os.readlink("/proc/thread-self/ns/net")
    fd = open_netns(f"/run/netns/{name}")
    try:
        inside = run_in(fd, lambda: os.readlink("/proc/thread-self/ns/net"), LinuxSyscalls())
    finally:
        os.close(fd)
    assert inside == f"net:[{os.stat(f'/run/netns/{name}').st_ino}]"
    assert os.readlink("/proc/thread-self/ns/net") == before != inside
    with Rtnl.open() as host:
        assert host.link("lo").index == 1


def test_a_missing_namespace_is_not_found() -> None:
    with pytest.raises(NotFound):
        open_netns("/run/netns/dyt-missing")


def test_create_and_remove_a_pinned_namespace(tmp_path: Path, networks: Networks) -> None:
    path = str(tmp_path / "ns")
    syscalls = LinuxSyscalls()
    pinned.create(path, syscalls)
    try:
        assert os.stat(path).st_ino != os.stat("/proc/self/ns/net").st_ino
        assert f" {path} " in Path("/proc/self/mountinfo").read_text()
        endpoint = networks.attach("c" * 64, path)
        fd = open_netns(path)
        try:
            with rtnl_in(fd, syscalls, path) as inside:
                assert inside.link("eth0").up and inside.link("lo").up
        finally:
            os.close(fd)
    finally:
        pinned.remove(path, syscalls)
    assert not os.path.exists(path)
    assert f" {path} " not in Path("/proc/self/mountinfo").read_text()
    networks.release("c" * 64)
    deadline = time.monotonic() + 5  # the kernel removes the veth with the namespace
    while time.monotonic() < deadline:
        with Rtnl.open() as host:
            if endpoint.host_ifname not in {link.name for link in host.links()}:
                break
        time.sleep(0.02)
    with Rtnl.open() as host:
        assert endpoint.host_ifname not in {link.name for link in host.links()}
    pinned.remove(path, syscalls)  # twice: no error
