"""Fixtures for network tests: "containers" are plain network namespaces the test makes.

Every name a test creates starts with ``dyt`` and a random tag (namespaces, bridges, the
nftables table), and every subnet is one of the private ranges below, so the tests run beside a
real dockyardd, dockerd and podman. Traffic goes only to 127.0.0.0/8 and to namespaces made
here; the "outside" host and the stub resolver live in such a namespace (198.18.0.0/15, the
benchmarking range, never routed beyond this machine's namespaces).
"""

from __future__ import annotations

import ipaddress
import os
import secrets
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from dockyard.network.dns import DnsHub, Upstream
from dockyard.network.manager import Networks, Settings
from dockyard.sys.linux import LinuxSyscalls

DEFAULT_SUBNET = ipaddress.IPv4Network("10.200.0.0/24")
USER_POOL = ipaddress.IPv4Network("10.201.0.0/16")


def sh(*args: str, check: bool = True, timeout: float = 10) -> subprocess.CompletedProcess[str]:
    return subprocess.run(list(args), capture_output=True, text=True, check=check,
                          timeout=timeout)


def in_ns(ns: str, *args: str, check: bool = True,
          timeout: float = 10) -> subprocess.CompletedProcess[str]:
    return sh("nsenter", f"--net=/run/netns/{ns}", *args, check=check, timeout=timeout)


def spawn_in(ns: str, *args: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen(["nsenter", f"--net=/run/netns/{ns}", *args],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.kill()
    proc.wait(timeout=10)


def wait_listening(ns: str, port: int, proto: str = "t") -> None:
    """Wait until something in ``ns`` listens on ``port`` (busybox netstat)."""
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        out = in_ns(ns, "busybox", "netstat", f"-ln{proto}").stdout
        if f":{port} " in out:
            return
        time.sleep(0.02)
    raise AssertionError(f"nothing listens on {port}/{proto} in {ns}")


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

    def cleanup(self) -> None:
        for manager, dns in reversed(self.made):
            try:
                manager.destroy()
            finally:
                manager.close()
                dns.close()


@pytest.fixture
def managers(tmp_path: Path, tag: str) -> Iterator[ManagerFactory]:
    factory = ManagerFactory(tmp_path, tag)
    try:
        yield factory
    finally:
        factory.cleanup()


@pytest.fixture
def networks(managers: ManagerFactory) -> Networks:
    return managers()


def container_id(number: int) -> str:
    return f"{number:02d}" + os.urandom(31).hex()
