"""The embedded DNS server of user-defined networks (asyncio, UDP and TCP, stdlib only).

Containers on a user network resolve each other by container name, network alias (compose's
service names are aliases) and short container ID. The server answers those names with A
records (AAAA and other types get an empty NOERROR, as dockerd's does for IPv4-only
containers), their addresses with PTR records, and forwards every other query unchanged to the
upstream resolvers it was given (by default the nameservers of the host's resolv.conf), one
after another until one answers.

Where it listens: on the network's gateway address, port 53, in the host's namespace; the
container's resolv.conf names the gateway. Docker listens on 127.0.0.11 inside each container's
namespace, which costs two sockets and DNAT rules per container; a listener per network costs
nothing per container, and the address it was reached on says which network's names to
answer. A container on several user networks asks the resolver of its first one, which also
answers it the names of its other networks (it knows the asker by its source address). The
gateway answers only from the bridge: its address is not routed anywhere else, and
:mod:`dockyard.network.firewall` does not forward to it.

All servers share one event loop in a thread of their own (:class:`DnsHub`), so the daemon's
request loop and its worker threads only swap record tables, which is atomic.
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import socket
import struct
import threading
from collections.abc import Coroutine, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from dockyard.errors import SystemCallError
from dockyard.network import dnsmsg

log = logging.getLogger(__name__)

DNS_PORT = 53
Upstream = tuple[str, int]


def resolv_conf_nameservers(path: Path = Path("/etc/resolv.conf")) -> list[Upstream]:
    """The IPv4 ``nameserver`` lines of a resolv.conf, as (address, 53)."""
    found: list[Upstream] = []
    try:
        lines = path.read_text().splitlines()
    except OSError:
        return found
    for line in lines:
        words = line.split()
        if len(words) >= 2 and words[0] == "nameserver":
            try:
                found.append((str(ipaddress.IPv4Address(words[1])), DNS_PORT))
            except ValueError:
                continue
    return found


@dataclass(frozen=True, slots=True)
class Zone:
    """One network's names: name -> addresses, address -> name for PTR, and for each
    container address the other networks whose names that container also resolves."""

    names: Mapping[str, tuple[ipaddress.IPv4Address, ...]] = field(default_factory=dict)
    reverse: Mapping[str, str] = field(default_factory=dict)
    peers: Mapping[str, tuple[str, ...]] = field(default_factory=dict)

    @classmethod
    def of(cls, records: Mapping[str, Sequence[ipaddress.IPv4Address]],
           ptr: Mapping[ipaddress.IPv4Address, str] | None = None,
           peers: Mapping[ipaddress.IPv4Address, Sequence[str]] | None = None) -> Zone:
        """Names (case-insensitive), each address's PTR name, other networks by address."""
        names = {k.lower().rstrip("."): tuple(v) for k, v in records.items() if v}
        reverse = {dnsmsg.reverse_name(ip): name.lower() for ip, name in (ptr or {}).items()}
        return cls(names, reverse, {str(ip): tuple(keys) for ip, keys in (peers or {}).items()})


class _Server:
    """UDP and TCP listeners for one network."""

    def __init__(self, hub: DnsHub, address: str, port: int) -> None:
        self.hub = hub
        self.zone = Zone()
        self.address = address
        self.port = port
        self._udp: asyncio.DatagramTransport | None = None
        self._tcp: asyncio.Server | None = None

    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC)
        try:
            udp.bind((self.address, self.port))
        except OSError as exc:
            udp.close()
            raise SystemCallError("bind", exc.errno or 0,
                                  f"dns {self.address}:{self.port}/udp") from exc
        self.port = int(udp.getsockname()[1])
        transport, _ = await loop.create_datagram_endpoint(lambda: _Udp(self), sock=udp)
        self._udp = transport
        try:
            self._tcp = await asyncio.start_server(self._stream, self.address, self.port,
                                                   reuse_address=True)
        except OSError as exc:
            transport.close()
            raise SystemCallError("bind", exc.errno or 0,
                                  f"dns {self.address}:{self.port}/tcp") from exc

    async def stop(self) -> None:
        if self._udp is not None:
            self._udp.close()
        if self._tcp is not None:
            self._tcp.close()
            await self._tcp.wait_closed()

    def local(self, data: bytes, peer: str) -> bytes | None:
        """The reply when the question is about names the asking container resolves: this
        network's, then those of its other networks; None otherwise."""
        try:
            q = dnsmsg.parse_question(data)
        except dnsmsg.BadMessage:
            return None
        if q.opcode != dnsmsg.OPCODE_QUERY or q.klass != dnsmsg.CLASS_IN:
            return None
        zones = [self.zone, *(self.hub.zone(key) for key in self.zone.peers.get(peer, ()))]
        for zone in zones:
            if q.type == dnsmsg.TYPE_PTR and q.name in zone.reverse:
                return dnsmsg.answer_ptr(data, q, zone.reverse[q.name])
            addresses = zone.names.get(q.name)
            if addresses is not None:
                wanted = addresses if q.type in (dnsmsg.TYPE_A, dnsmsg.TYPE_ANY) else ()
                return dnsmsg.answer_a(data, q, wanted)
        return None

    async def answer(self, data: bytes, peer: str, tcp: bool) -> bytes | None:
        reply = self.local(data, peer)
        if reply is not None:
            return reply
        return await self.hub.forward(data, tcp, peer)

    async def _stream(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        peer = str((writer.get_extra_info("peername") or ("",))[0])
        try:
            while True:
                size = struct.unpack("!H", await reader.readexactly(2))[0]
                data = await reader.readexactly(size)
                reply = await self.answer(data, peer, True)
                if reply is None:
                    break
                writer.write(struct.pack("!H", len(reply)) + reply)
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()


class _Udp(asyncio.DatagramProtocol):
    def __init__(self, server: _Server) -> None:
        self.server = server
        self.transport: asyncio.DatagramTransport | None = None
        self.tasks: set[asyncio.Task[None]] = set()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        reply = self.server.local(data, addr[0])
        if reply is not None:
            if self.transport is not None:
                self.transport.sendto(reply, addr)
            return
        task = asyncio.get_running_loop().create_task(self._forward(data, addr))
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    async def _forward(self, data: bytes, addr: tuple[str, int]) -> None:
        reply = await self.server.hub.forward(data, False, addr[0])
        if reply is not None and self.transport is not None and not self.transport.is_closing():
            self.transport.sendto(reply, addr)


class DnsHub:
    """The DNS servers of all user networks, on one event loop in a thread of their own."""

    def __init__(self, upstreams: Sequence[Upstream] | None = None, timeout: float = 2.0) -> None:
        self.upstreams = list(resolv_conf_nameservers() if upstreams is None else upstreams)
        self.timeout = timeout
        self._servers: dict[str, _Server] = {}
        self._askers: dict[str, tuple[Upstream, ...]] = {}  # source address -> its upstreams
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="dockyard-dns",
                                        daemon=True)
        self._thread.start()

    def _call(self, coro: Coroutine[Any, Any, None]) -> None:
        asyncio.run_coroutine_threadsafe(coro, self._loop).result()

    def serve(self, key: str, address: str, port: int = DNS_PORT) -> int:
        """Listen for network ``key`` on ``address:port``; the port (when 0 was asked)."""
        if key in self._servers:
            return self._servers[key].port
        server = _Server(self, address, port)
        self._call(server.start())
        self._servers[key] = server
        log.debug("dns for %s on %s:%d", key, address, server.port)
        return server.port

    def set_records(
        self, key: str, records: Mapping[str, Sequence[ipaddress.IPv4Address]],
        ptr: Mapping[ipaddress.IPv4Address, str] | None = None,
        peers: Mapping[ipaddress.IPv4Address, Sequence[str]] | None = None,
    ) -> None:
        """Replace the names network ``key`` answers: ``ptr`` names each address, ``peers``
        lists, for a container address on this network, its other networks (their names are
        answered to it too, as dockerd's resolver does for a container on several networks)."""
        server = self._servers.get(key)
        if server is not None:
            server.zone = Zone.of(records, ptr, peers)

    def set_upstreams(self, address: str, upstreams: Sequence[Upstream] | None) -> None:
        """Forward the queries asked from ``address`` to ``upstreams`` (a container's own
        servers; none at all: SERVFAIL), or with None to the hub's again."""
        if upstreams is None:
            self._askers.pop(address, None)
        else:
            self._askers[address] = tuple(upstreams)

    def upstreams_of(self, address: str) -> tuple[Upstream, ...]:
        """Where the queries asked from ``address`` are forwarded."""
        found = self._askers.get(address)
        return found if found is not None else tuple(self.upstreams)

    def zone(self, key: str) -> Zone:
        server = self._servers.get(key)
        return server.zone if server is not None else Zone()

    def stop(self, key: str) -> None:
        server = self._servers.pop(key, None)
        if server is not None:
            self._call(server.stop())

    def serving(self) -> set[str]:
        return set(self._servers)

    def close(self) -> None:
        for key in list(self._servers):
            self.stop(key)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join()
        self._loop.close()

    async def forward(self, data: bytes, tcp: bool, asker: str = "") -> bytes | None:
        """The first reply to ``data`` of the upstreams of ``asker`` (a source address);
        SERVFAIL when none answers."""
        for host, port in self.upstreams_of(asker):
            try:
                coro = _ask_tcp(host, port, data) if tcp else _ask_udp(host, port, data)
                return await asyncio.wait_for(coro, self.timeout)
            except (TimeoutError, OSError, asyncio.IncompleteReadError) as exc:
                log.debug("upstream %s:%d failed: %r", host, port, exc)
        try:
            return dnsmsg.error(data, dnsmsg.parse_question(data), dnsmsg.SERVFAIL)
        except dnsmsg.BadMessage:
            return None


async def _ask_udp(host: str, port: int, data: bytes) -> bytes:
    loop = asyncio.get_running_loop()
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC) as sock:
        sock.setblocking(False)
        await loop.sock_connect(sock, (host, port))
        await loop.sock_sendall(sock, data)
        while True:
            reply = await loop.sock_recv(sock, 65535)
            if reply[:2] == data[:2]:
                return reply


async def _ask_tcp(host: str, port: int, data: bytes) -> bytes:
    reader, writer = await asyncio.open_connection(host, port)
    try:
        writer.write(struct.pack("!H", len(data)) + data)
        await writer.drain()
        size = struct.unpack("!H", await reader.readexactly(2))[0]
        return await reader.readexactly(size)
    finally:
        writer.close()
