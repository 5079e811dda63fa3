"""IPv4 address management for bridge networks: which address belongs to whom.

One file per network under the root it is given (the network manager passes a directory of the
exec root: the addresses belong to live containers, which a reboot ends)::

    <root>/
        <network id>.json      {"subnet", "gateway", "ip_range", "last", "allocated": {ip: owner}}
        .tmp-<network id>.json a replacement being written (removed at open)

Every change rewrites the file atomically (:mod:`dockyard.network.jsonfile`) before it returns,
so after a SIGKILL the file holds exactly the allocations that were handed out. Dynamic
addresses come from ``ip_range`` (the whole subnet without one), in order after the last one
handed out, wrapping around, as libnetwork does, so a released address is not reused at once
(stale ARP entries in other containers). The network and broadcast addresses and the gateway
are never handed out; a requested address may be anywhere in the subnet.
"""

from __future__ import annotations

import ipaddress
import logging
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dockyard.errors import AlreadyExists, Conflict, DataCorrupt, InvalidArgument, NotFound
from dockyard.network import jsonfile

log = logging.getLogger(__name__)

GATEWAY_OWNER = "gateway"


@dataclass(frozen=True, slots=True)
class Pool:
    """A network's subnet, its gateway and the range dynamic addresses come from."""

    subnet: ipaddress.IPv4Network
    gateway: ipaddress.IPv4Address
    ip_range: ipaddress.IPv4Network | None = None

    @classmethod
    def parse(cls, subnet: str, gateway: str = "", ip_range: str = "") -> Pool:
        """Docker's ``--subnet``, ``--gateway`` and ``--ip-range``, checked against each other."""
        try:
            net = ipaddress.IPv4Network(subnet, strict=True)
            rng = ipaddress.IPv4Network(ip_range, strict=True) if ip_range else None
            gw = ipaddress.IPv4Address(gateway) if gateway else None
        except ValueError as exc:
            raise InvalidArgument(f"invalid pool {subnet!r} (ip range {ip_range!r}, "
                                  f"gateway {gateway!r}): {exc}") from exc
        if net.prefixlen > 30:
            raise InvalidArgument(f"subnet {net} is too small for a bridge network")
        if rng is not None and not rng.subnet_of(net):
            raise InvalidArgument(f"ip range {rng} is not inside subnet {net}")
        if gw is None:
            gw = next(net.hosts())
        if gw not in net or gw in (net.network_address, net.broadcast_address):
            raise InvalidArgument(f"gateway {gw} is not a host address of subnet {net}")
        return cls(net, gw, rng)

    def to_json(self) -> dict[str, str]:
        return {"subnet": str(self.subnet), "gateway": str(self.gateway),
                "ip_range": str(self.ip_range) if self.ip_range else ""}

    @classmethod
    def from_json(cls, data: Any) -> Pool:
        return cls.parse(str(data["subnet"]), str(data["gateway"]), str(data.get("ip_range", "")))


def _dotted(number: int) -> str:
    """An address as text, without building an IPv4Address (saves run once per attach)."""
    return f"{number >> 24}.{(number >> 16) & 255}.{(number >> 8) & 255}.{number & 255}"


@dataclass
class _State:
    pool: Pool
    last: int
    allocated: dict[int, str]


class Ipam:
    """The address books of all networks under ``root``; safe to share between threads."""

    def __init__(self, root: Path) -> None:
        self._root = root
        root.mkdir(parents=True, exist_ok=True)
        jsonfile.remove_temps(root)
        self._lock = threading.Lock()
        self._states: dict[str, _State] = {}

    def _path(self, network_id: str) -> Path:
        return self._root / f"{network_id}.json"

    def _load(self, network_id: str) -> _State:
        state = self._states.get(network_id)
        if state is not None:
            return state
        try:
            data = jsonfile.read(self._path(network_id))
        except FileNotFoundError as exc:
            raise NotFound(f"address pool of network {network_id} not found") from exc
        try:
            state = _State(Pool.from_json(data), int(data["last"]),
                           {int(ipaddress.IPv4Address(k)): str(v)
                            for k, v in data["allocated"].items()})
        except (KeyError, TypeError, ValueError, InvalidArgument) as exc:
            raise DataCorrupt(f"address pool {self._path(network_id)}: {exc}") from exc
        self._states[network_id] = state
        return state

    def _save(self, network_id: str, state: _State) -> None:
        data = dict(state.pool.to_json(), last=state.last,
                    allocated={_dotted(k): v for k, v in state.allocated.items()})
        jsonfile.write(self._path(network_id), data)

    @contextmanager
    def _changing(self, network_id: str) -> Iterator[_State]:
        with self._lock:
            state = self._load(network_id)
            before = (state.last, dict(state.allocated))
            try:
                yield state
                self._save(network_id, state)
            except BaseException:
                state.last, state.allocated = before
                raise

    def create(self, network_id: str, pool: Pool) -> None:
        """A new, empty address book (the gateway taken); AlreadyExists if there is one."""
        with self._lock:
            if network_id in self._states or self._path(network_id).exists():
                raise AlreadyExists(f"address pool of network {network_id} already exists")
            state = _State(pool, int(pool.gateway), {int(pool.gateway): GATEWAY_OWNER})
            self._save(network_id, state)
            self._states[network_id] = state

    def delete(self, network_id: str) -> None:
        with self._lock:
            self._states.pop(network_id, None)
            jsonfile.remove(self._path(network_id))

    def networks(self) -> list[str]:
        return sorted(p.stem for p in self._root.glob("*.json"))

    def pool(self, network_id: str) -> Pool:
        with self._lock:
            return self._load(network_id).pool

    def allocations(self, network_id: str) -> dict[ipaddress.IPv4Address, str]:
        """Address -> owner, the gateway included."""
        with self._lock:
            state = self._load(network_id)
            return {ipaddress.IPv4Address(k): v for k, v in sorted(state.allocated.items())}

    def allocate(self, network_id: str, owner: str,
                 ip: ipaddress.IPv4Address | None = None) -> ipaddress.IPv4Address:
        """The next free address, or ``ip`` (Conflict when someone else holds it)."""
        with self._changing(network_id) as state:
            if ip is not None:
                return ipaddress.IPv4Address(self._take(state, owner, ip))
            number = self._next_free(state, network_id)
            state.allocated[number] = owner
            state.last = number
            return ipaddress.IPv4Address(number)

    def reserve(self, network_id: str, ip: ipaddress.IPv4Address, owner: str) -> None:
        """Hold ``ip`` for ``owner`` (an auxiliary address, a static ``--ip``)."""
        with self._changing(network_id) as state:
            self._take(state, owner, ip)

    @staticmethod
    def _take(state: _State, owner: str, ip: ipaddress.IPv4Address) -> int:
        net = state.pool.subnet
        if ip not in net or ip in (net.network_address, net.broadcast_address):
            raise InvalidArgument(f"address {ip} is not a host address of subnet {net}")
        holder = state.allocated.get(int(ip))
        if holder is not None and holder != owner:
            raise Conflict(f"address {ip} is already in use (by {holder})")
        state.allocated[int(ip)] = owner
        return int(ip)

    def _next_free(self, state: _State, network_id: str) -> int:
        span = state.pool.ip_range or state.pool.subnet
        first, last = int(span.network_address), int(span.broadcast_address)
        net = state.pool.subnet
        forbidden = {int(net.network_address), int(net.broadcast_address)}
        size = last - first + 1
        start = state.last + 1 if first <= state.last < last else first
        for step in range(size):
            number = first + (start - first + step) % size
            if number not in state.allocated and number not in forbidden:
                return number
        raise Conflict(f"no free address left in {span} of network {network_id}")

    def release(self, network_id: str, ip: ipaddress.IPv4Address) -> None:
        """Free ``ip`` (freeing a free address is no error; the gateway stays)."""
        with self._changing(network_id) as state:
            if state.allocated.get(int(ip)) != GATEWAY_OWNER:
                state.allocated.pop(int(ip), None)

    def release_owner(self, network_id: str, owner: str) -> list[ipaddress.IPv4Address]:
        """Free every address ``owner`` holds; the addresses freed."""
        if owner == GATEWAY_OWNER:
            raise InvalidArgument("the gateway's address is released with its network")
        with self._changing(network_id) as state:
            gone = sorted(k for k, v in state.allocated.items() if v == owner)
            for number in gone:
                del state.allocated[number]
            return [ipaddress.IPv4Address(n) for n in gone]
