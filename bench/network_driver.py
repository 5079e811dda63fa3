"""The network_attach row's driver: dockyard's Networks (dockyard.network.manager) in one
long-lived process, as the daemon holds it. Run as root with dockyard's python:

    python bench/network_driver.py WORK TAG

It opens Networks on roots under WORK with names and subnets of its own, so that it runs beside
a dockyardd, dockerd, podman and the network tests (dyt... names, 10.200.0.0/24, 10.201.0.0/16):

    nftables table     ip TAG
    default bridge     TAG0 on 10.202.0.0/24 (the network "bridge")
    user network       "front", bridge TAG-<id>, a /24 from 10.203.0.0/16, embedded DNS
    namespaces         /run/netns/TAGn<serial>
    ip_forward         left alone

It prints "ready", then answers each line "COUNT" on stdin with a JSON object of COUNT samples
in seconds per part, one per namespace (and container):

    attach          attach to the default bridge (veth made in the namespace, address, link up,
                    loopback up, default route, endpoint and address records)
    publish         publish one port (-p 80: any free host port)
    attach+publish  the two above: what networking adds to a start (issue #9's goal: 3 ms)
    second-network  attach to "front" with a DNS name (docker run --network front then
                    network connect, or a compose service on two networks)
    release         release, after the namespace was deleted (as after the container's end)

The COUNT namespaces are made first and all attached before the first is released; making and
deleting a namespace is not timed. An error is printed as {"error": "..."} and ends the process.
At the end of stdin, or on error or SIGINT, everything goes: namespaces, endpoints, networks,
bridges, the table and its accept rules in dockerd's chain.
"""

from __future__ import annotations

import ipaddress
import json
import os
import secrets
import subprocess
import sys
import time
from collections.abc import Callable, Iterable, Sequence
from contextlib import ExitStack, closing
from pathlib import Path
from typing import Protocol

from dockyard.network.dns import DnsHub
from dockyard.network.manager import Networks, Settings
from dockyard.network.ports import PortRequest, parse_publish
from dockyard.sys.linux import LinuxSyscalls

PARTS = ("attach", "publish", "attach+publish", "second-network", "release")
DEFAULT_SUBNET = ipaddress.IPv4Network("10.202.0.0/24")
USER_POOL = ipaddress.IPv4Network("10.203.0.0/16")
USER_NETWORK = "front"
PUBLISH = parse_publish("80")


class Attacher(Protocol):
    """What the driver times of :class:`dockyard.network.manager.Networks`."""

    def attach(self, container_id: str, netns: str, ref: str = ..., *,
               name: str = ...) -> object: ...

    def publish(self, container_id: str, requests: Sequence[PortRequest]) -> object: ...

    def release(self, container_id: str) -> None: ...


class Namespaces:
    """Network namespaces under /run/netns named TAGn<serial>; `close` deletes those left."""

    def __init__(self, tag: str, run: Callable[[Sequence[str]], None] | None = None) -> None:
        self._tag = tag
        self._run = run or _ip
        self._serial = 0
        self._made: set[str] = set()

    def add(self) -> str:
        name = f"{self._tag}n{self._serial}"
        self._serial += 1
        self._run(("ip", "netns", "add", name))
        self._made.add(name)
        return f"/run/netns/{name}"

    def delete(self, path: str) -> None:
        name = Path(path).name
        self._run(("ip", "netns", "del", name))
        self._made.discard(name)

    def close(self) -> None:
        for name in sorted(self._made):
            self.delete(f"/run/netns/{name}")


def _ip(argv: Sequence[str]) -> None:
    proc = subprocess.run(list(argv), capture_output=True, text=True, check=False, timeout=30)
    if proc.returncode != 0:
        raise RuntimeError(f"`{' '.join(argv)}` exited {proc.returncode}: {proc.stderr.strip()}")


def settings(tag: str) -> Settings:
    return Settings(table=tag, default_bridge=f"{tag}0", bridge_prefix=f"{tag}-",
                    default_subnets=(DEFAULT_SUBNET,), user_pool=USER_POOL, ip_forward=False)


def measure(networks: Attacher, namespaces: Namespaces, count: int,
            clock: Callable[[], float] = time.perf_counter) -> dict[str, list[float]]:
    """One sample per part and namespace, over `count` fresh namespaces."""
    parts: dict[str, list[float]] = {part: [] for part in PARTS}
    made = [(secrets.token_hex(32), namespaces.add()) for _ in range(count)]
    for number, (cid, netns) in enumerate(made):
        start = clock()
        networks.attach(cid, netns)
        attached = clock()
        networks.publish(cid, PUBLISH)
        published = clock()
        networks.attach(cid, netns, USER_NETWORK, name=f"c{number}")
        joined = clock()
        parts["attach"].append(attached - start)
        parts["publish"].append(published - attached)
        parts["attach+publish"].append(published - start)
        parts["second-network"].append(joined - published)
    for cid, netns in made:
        namespaces.delete(netns)
        start = clock()
        networks.release(cid)
        parts["release"].append(clock() - start)
    return parts


def serve(networks: Attacher, namespaces: Namespaces, lines: Iterable[str],
          answer: Callable[[str], None]) -> None:
    """Answer each line "COUNT" of `lines` with the JSON samples of `measure`."""
    for line in lines:
        if line.strip():
            answer(json.dumps(measure(networks, namespaces, int(line))))


def _answer(text: str) -> None:
    print(text, flush=True)


def main(argv: Sequence[str]) -> int:
    work, tag = Path(argv[1]), argv[2]
    try:
        with ExitStack() as stack:
            if os.geteuid() != 0:
                raise PermissionError("the network_attach driver needs root")
            dns = DnsHub([], timeout=1.0)
            stack.callback(dns.close)
            networks = Networks(work / "config", work / "state", LinuxSyscalls(), dns=dns,
                                settings=settings(tag))
            stack.callback(networks.close)
            stack.callback(networks.destroy)  # runs before close: the last pushed goes first
            networks.open()
            namespaces = stack.enter_context(closing(Namespaces(tag)))
            networks.create(USER_NETWORK)
            _answer("ready")
            serve(networks, namespaces, sys.stdin, _answer)
    except Exception as exc:  # the row reports it; cleanup has run
        _answer(json.dumps({"error": f"{type(exc).__name__}: {exc}"}))
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv))
