"""Per-container upstreams of the embedded DNS, with real namespaces: two "containers" on one
user network, one with its own ``--dns`` server (stub A) and one without (the hub's upstream,
stub B); both stubs run in the "outside" namespace this test makes."""

from __future__ import annotations

import subprocess
from collections.abc import Callable

import pytest

from dockyard.network.manager import Networks

from .conftest import OUTSIDE, ManagerFactory, Servers, container_id, in_ns

pytestmark = pytest.mark.root

STUB_B = OUTSIDE  # 198.18.0.2: the hub's upstream (the daemon's --dns)
STUB_A = "198.18.0.3"  # one container's own --dns server


def asked(stub: subprocess.Popen[str]) -> list[str]:
    """The names a stub was asked (it prints each one; busybox asks A and AAAA), once each;
    it is stopped to read them."""
    stub.terminate()
    out, _ = stub.communicate(timeout=10)
    return list(dict.fromkeys(out.split()))


def lookup(ns: str, name: str, server: str) -> str:
    result = in_ns(ns, "busybox", "nslookup", name, server, check=False)
    return result.stdout + result.stderr


def test_each_container_is_forwarded_to_its_own_upstreams(
        managers: ManagerFactory, netns: Callable[[], str], outside: str,
        servers: Servers) -> None:
    networks: Networks = managers(upstreams=[(STUB_B, 53)])
    hub = managers.made[-1][1]
    front = networks.create("front")
    in_ns(outside, "ip", "addr", "add", f"{STUB_A}/24", "dev", "eth0")
    stub_a = servers.start(outside, "stub_dns.py", STUB_A)
    stub_b = servers.start(outside, "stub_dns.py", STUB_B)
    a, b = netns(), netns()
    ea = networks.attach(container_id(1), f"/run/netns/{a}", "front", name="a")
    networks.attach(container_id(2), f"/run/netns/{b}", "front", name="b")
    hub.set_upstreams(str(ea.ip), [(STUB_A, 53)])
    gateway = str(front.pool.gateway)
    assert "Address: 198.18.0.99" in lookup(a, "from-a.test", gateway)
    assert "Address: 198.18.0.99" in lookup(b, "from-b.test", gateway)
    assert f"Address: {ea.ip}" in lookup(b, "a", gateway)  # names stay local
    # connected to a second network, "a" keeps its upstreams on its new address too
    back = networks.create("back")
    eb = networks.attach(container_id(1), f"/run/netns/{a}", "back")
    hub.set_upstreams(str(eb.ip), [(STUB_A, 53)])
    assert "Address: 198.18.0.99" in lookup(a, "again-a.test", str(back.pool.gateway))
    assert [n for n in asked(stub_a) if n.endswith(".test")] == ["from-a.test", "again-a.test"]
    assert [n for n in asked(stub_b) if n.endswith(".test")] == ["from-b.test"]
