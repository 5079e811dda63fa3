"""Fixtures for network tests: "containers" are plain network namespaces the test makes.

Every name a test creates starts with ``dyt`` and a random tag (namespaces, bridges, the
nftables table), and every subnet is one of the private ranges below, so the tests run beside a
real dockyardd, dockerd and podman. Traffic goes only to 127.0.0.0/8 and to namespaces made
here; the "outside" host and the stub resolver live in such a namespace (198.18.0.0/15, the
benchmarking range, never routed beyond this machine's namespaces).
"""

from __future__ import annotations

import ipaddress
import secrets
import socket
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from dockyard.network.dns import DnsHub, Upstream
from dockyard.network.manager import Networks, Settings
from dockyard.sys.linux import LinuxSyscalls

DEFAULT_SUBNET = ipaddress.IPv4Network("10.200.0.0/24")
USER_POOL = ipaddress.IPv4Network("10.201.0.0/16")
HERE = Path(__file__).resolve().parent
OUTSIDE_HOST = "198.18.0.1"  # the host's end of the link to the "outside" namespace
OUTSIDE = "198.18.0.2"  # the outside host itself


def sh(*args: str, check: bool = True, timeout: float = 10) -> subprocess.CompletedProcess[str]:
    return subprocess.run(list(args), capture_output=True, text=True, check=check,
                          timeout=timeout)


def in_ns(ns: str, *args: str, check: bool = True,
          timeout: float = 10) -> subprocess.CompletedProcess[str]:
    return sh("nsenter", f"--net=/run/netns/{ns}", *args, check=check, timeout=timeout)


def python_in(ns: str, script: str, *args: str) -> list[str]:
    return ["nsenter", f"--net=/run/netns/{ns}", sys.executable, "-S", str(HERE / script), *args]


class Servers:
    """Processes a test runs in namespaces: started, awaited ("ready"), killed at the end."""

    def __init__(self) -> None:
        self.procs: list[subprocess.Popen[str]] = []

    def start(self, ns: str, script: str, *args: str) -> subprocess.Popen[str]:
        proc = subprocess.Popen(python_in(ns, script, *args), stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True)
        self.procs.append(proc)
        assert proc.stdout is not None
        line = proc.stdout.readline().strip()
        if line != "ready":
            raise AssertionError(f"{script} in {ns} did not start: {line} {proc.stderr.read()}")
        return proc

    def echo(self, ns: str, label: str, *ports: int) -> None:
        self.start(ns, "echo_server.py", label, *(str(p) for p in ports))

    def stop(self) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                proc.kill()
            proc.communicate(timeout=10)


@pytest.fixture
def servers() -> Iterator[Servers]:
    running = Servers()
    try:
        yield running
    finally:
        running.stop()


def ask_from(ns: str, proto: str, host: str, port: int) -> str:
    """What the echo server at host:port answers to a client in ``ns``."""
    return sh(*python_in(ns, "client.py", proto, host, str(port))).stdout.strip()


def ask(proto: str, host: str, port: int) -> str:
    """The same from the host (127.0.0.1 and friends)."""
    try:
        if proto == "tcp":
            with socket.create_connection((host, port), timeout=1) as sock:
                return sock.recv(200).decode().strip()
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
            sock.settimeout(1)
            sock.sendto(b"?", (host, port))
            return sock.recv(200).decode().strip()
    except OSError as exc:
        return f"error: {exc.__class__.__name__}"


def free_port(count: int = 1) -> int:
    """The first of ``count`` consecutive ports free on 127.0.0.1 (TCP and UDP)."""
    for _ in range(100):
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            first = probe.getsockname()[1]
        if first + count < 65536 and all(_free(first + i) for i in range(count)):
            return int(first)
    raise AssertionError("no free ports")


def _free(port: int) -> bool:
    for kind in (socket.SOCK_STREAM, socket.SOCK_DGRAM):
        with socket.socket(socket.AF_INET, kind) as probe:
            try:
                probe.bind(("0.0.0.0", port))
            except OSError:
                return False
    return True


@pytest.fixture
def outside(tag: str, netns: Callable[[], str]) -> Iterator[str]:
    """An "outside" host: a namespace linked to the host by a veth, 198.18.0.2/24.

    The host end forwards (per-device ``forwarding=1``), so replies to masqueraded traffic get
    back to the containers without touching the host's global ``ip_forward``.
    """
    name = netns()
    link = f"{tag}o"
    sh("ip", "link", "add", link, "type", "veth", "peer", "name", "eth0", "netns", name)
    try:
        sh("ip", "addr", "add", f"{OUTSIDE_HOST}/24", "dev", link)
        sh("ip", "link", "set", link, "up")
        Path(f"/proc/sys/net/ipv4/conf/{link}/forwarding").write_text("1")
        in_ns(name, "ip", "addr", "add", f"{OUTSIDE}/24", "dev", "eth0")
        in_ns(name, "ip", "link", "set", "eth0", "up")
        in_ns(name, "ip", "link", "set", "lo", "up")
        yield name
    finally:
        sh("ip", "link", "del", link, check=False)


@pytest.fixture
def tag() -> str:
    return "dyt" + secrets.token_hex(2)


@pytest.fixture
def netns(tag: str) -> Iterator[Callable[[], str]]:
    """A factory of network namespaces under /run/netns, all deleted afterwards."""
    made: list[str] = []

    def make() -> str:
        name = f"{tag}n{len(made)}"
        sh("ip", "netns", "add", name)
        made.append(name)
        return name

    try:
        yield make
    finally:
        for name in made:
            sh("ip", "netns", "del", name, check=False)


def settings(tag: str, **changes: object) -> Settings:
    values: dict[str, object] = {
        "table": tag, "default_bridge": f"{tag}0", "bridge_prefix": "dt-",
        "default_subnets": (DEFAULT_SUBNET,), "user_pool": USER_POOL, "ip_forward": False,
    }
    values.update(changes)
    return Settings(**values)  # type: ignore[arg-type]


class ManagerFactory:
    """Builds Networks on one pair of roots; everything is destroyed at the end."""

    def __init__(self, root: Path, tag: str) -> None:
        self.root = root
        self.tag = tag
        self.made: list[tuple[Networks, DnsHub]] = []

    def __call__(self, upstreams: list[Upstream] | None = None) -> Networks:
        dns = DnsHub(upstreams or [], timeout=1.0)
        manager = Networks(self.root / "config", self.root / "state", LinuxSyscalls(), dns=dns,
                           settings=settings(self.tag))
        self.made.append((manager, dns))
        manager.open()
        return manager

    def abandon(self, manager: Networks) -> None:
        """Close ``manager`` as a killed daemon would leave things: kernel state stays."""
        for pair in self.made:
            if pair[0] is manager:
                self.made.remove(pair)
                manager.close()
                pair[1].close()
                return

    def cleanup(self) -> None:
        """Destroy every manager, the later ones even when an earlier one fails."""
        failure: BaseException | None = None
        for manager, dns in reversed(self.made):
            try:
                manager.destroy()
            except BaseException as exc:  # raised once all are done
                failure = failure or exc
            finally:
                manager.close()
                dns.close()
        if failure is not None:
            raise failure


@pytest.fixture
def managers(tmp_path: Path, tag: str) -> Iterator[ManagerFactory]:
    factory = ManagerFactory(tmp_path, tag)
    try:
        yield factory
    finally:
        try:
            factory.cleanup()
        finally:  # a manager whose open() failed half-way is not destroyed: its table and
            # default bridge would stay
            sh("nft", "delete", "table", "ip", tag, check=False)
            sh("ip", "link", "del", f"{tag}0", check=False)


@pytest.fixture
def networks(managers: ManagerFactory) -> Networks:
    return managers()


def container_id(number: int) -> str:
    return f"c{number:063x}"
