"""Published ports: ``-p`` specs, the Engine API's PortBindings, and host-port reservations.

A published port is a DNAT rule (:mod:`dockyard.network.firewall`); no process copies its
traffic. The kernel's NAT does not stop a host program from binding the same port, though, and
would then steal its traffic, so each published port is also *reserved* by a socket bound to it
and held open (TCP: bound, never listening; UDP: bound), as dockerd 28 does. Binding is also how
a port is checked free and how ``-P`` and ``hostPort`` ranges get a port: the kernel picks an
ephemeral one (bind to port 0) or the first port of the range that binds.

Forms of ``-p`` (``docker run --publish``), IPv4 only::

    80            8080:80        127.0.0.1:8080:80     127.0.0.1::80
    80-90         8000-8010:80-90 (one to one)          8000-8010:80 (one free port of 8000-8010)
    any of these with /tcp or /udp
"""

from __future__ import annotations

import errno
import ipaddress
import logging
import socket
import threading
from dataclasses import dataclass

from dockyard.errors import Conflict, InvalidArgument, SystemCallError, Unsupported

log = logging.getLogger(__name__)

PROTOCOLS = ("tcp", "udp")


@dataclass(frozen=True, slots=True)
class PortRequest:
    """One container port to publish, with the host side asked for.

    ``host_ip`` None means every local address (0.0.0.0). ``host_port`` 0 means any free port;
    ``host_port_end`` > ``host_port`` means the first free port of that range.
    """

    container_port: int
    proto: str = "tcp"
    host_ip: ipaddress.IPv4Address | None = None
    host_port: int = 0
    host_port_end: int = 0

    @classmethod
    def from_api(cls, key: str, host_ip: str = "", host_port: str = "") -> PortRequest:
        """One entry of the Engine API's ``HostConfig.PortBindings``: ``"80/tcp"`` ->
        ``{"HostIp": ..., "HostPort": "8080" | "8000-8010" | ""}``."""
        port, _, proto = key.partition("/")
        first, last = _range(host_port, f"host port {host_port!r}") if host_port else (0, 0)
        return cls(_port(port, f"port {key!r}"), _proto(proto or "tcp"), _address(host_ip),
                   first, last if last != first else 0)


@dataclass(frozen=True, slots=True)
class PortBinding:
    """A published port as set up: what ``docker port`` prints."""

    proto: str
    container_port: int
    host_ip: ipaddress.IPv4Address | None
    host_port: int

    def __str__(self) -> str:
        return f"{self.container_port}/{self.proto} -> {self.host_ip or '0.0.0.0'}:{self.host_port}"


def _port(text: str, what: str) -> int:
    if not text.isdigit() or not 0 < int(text) < 65536:
        raise InvalidArgument(f"invalid {what}: not a port between 1 and 65535")
    return int(text)


def _range(text: str, what: str) -> tuple[int, int]:
    first, dash, last = text.partition("-")
    low = _port(first, what)
    high = _port(last, what) if dash else low
    if high < low:
        raise InvalidArgument(f"invalid {what}: range ends before it starts")
    return low, high


def _proto(text: str) -> str:
    if text == "sctp":
        raise Unsupported("publishing sctp ports is not supported")
    if text not in PROTOCOLS:
        raise InvalidArgument(f"invalid protocol {text!r}: expected tcp or udp")
    return text


def _address(text: str) -> ipaddress.IPv4Address | None:
    if text in ("", "0.0.0.0"):
        return None
    if text.startswith("[") or ":" in text:
        raise Unsupported(f"publishing on IPv6 address {text} is not supported")
    try:
        return ipaddress.IPv4Address(text)
    except ValueError as exc:
        raise InvalidArgument(f"invalid host address {text!r}") from exc


def parse_publish(spec: str) -> list[PortRequest]:
    """``docker run -p`` syntax as :class:`PortRequest` values, one per container port."""
    body, slash, proto_text = spec.rpartition("/") if "/" in spec else (spec, "", "")
    proto = _proto(proto_text if slash else "tcp")
    if body.startswith("[") or body.count(":") > 2:
        raise Unsupported(f"publishing on an IPv6 address is not supported: {spec!r}")
    parts = body.split(":")
    ip_text, host_text = ("", "") if len(parts) == 1 else (":".join(parts[:-2]), parts[-2])
    host_ip = _address(ip_text)
    c_low, c_high = _range(parts[-1], f"container port in {spec!r}")
    if not host_text:
        return [PortRequest(p, proto, host_ip) for p in range(c_low, c_high + 1)]
    h_low, h_high = _range(host_text, f"host port in {spec!r}")
    if c_low == c_high and h_high > h_low:
        return [PortRequest(c_low, proto, host_ip, h_low, h_high)]
    if h_high - h_low != c_high - c_low:
        raise InvalidArgument(f"invalid publish spec {spec!r}: host and container port ranges "
                              "differ in length")
    return [PortRequest(c, proto, host_ip, h_low + i, 0)
            for i, c in enumerate(range(c_low, c_high + 1))]


class HostPorts:
    """Sockets holding published host ports, by owner (a container ID). Thread-safe."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._held: dict[tuple[str, str, int], tuple[str, socket.socket]] = {}

    def reserve(self, owner: str, request: PortRequest) -> PortBinding:
        """Bind the requested host port (or pick one) for ``owner``; Conflict when taken."""
        ip = str(request.host_ip or "0.0.0.0")
        with self._lock:
            if request.host_port and not request.host_port_end:
                key = (ip, request.proto, request.host_port)
                holder = self._held.get(key)
                if holder is not None and holder[0] == owner:
                    return PortBinding(request.proto, request.container_port, request.host_ip,
                                       request.host_port)
            port = self._bind(owner, request, ip)
        return PortBinding(request.proto, request.container_port, request.host_ip, port)

    def _bind(self, owner: str, request: PortRequest, ip: str) -> int:
        if not request.host_port:
            candidates = [0]
        else:
            candidates = list(range(request.host_port,
                                    max(request.host_port, request.host_port_end) + 1))
        kind = socket.SOCK_STREAM if request.proto == "tcp" else socket.SOCK_DGRAM
        for port in candidates:
            sock = socket.socket(socket.AF_INET, kind | socket.SOCK_CLOEXEC)
            try:
                sock.bind((ip, port))
            except OSError as exc:
                sock.close()
                if exc.errno == errno.EADDRINUSE:
                    continue
                if exc.errno == errno.EADDRNOTAVAIL:
                    raise InvalidArgument(f"cannot publish on {ip}: not a local address") from exc
                raise SystemCallError("bind", exc.errno or errno.EIO, f"{ip}:{port}") from exc
            chosen = int(sock.getsockname()[1])
            self._held[(ip, request.proto, chosen)] = (owner, sock)
            log.debug("reserved %s:%d/%s for %s", ip, chosen, request.proto, owner)
            return chosen
        wanted = f"{request.host_port}" + (f"-{request.host_port_end}"
                                           if request.host_port_end else "")
        raise Conflict(f"Bind for {ip}:{wanted} failed: port is already allocated")

    def release(self, owner: str) -> None:
        """Close every socket ``owner`` holds."""
        with self._lock:
            for key in [k for k, (o, _) in self._held.items() if o == owner]:
                self._held.pop(key)[1].close()

    def release_binding(self, owner: str, binding: PortBinding) -> None:
        key = (str(binding.host_ip or "0.0.0.0"), binding.proto, binding.host_port)
        with self._lock:
            holder = self._held.get(key)
            if holder is not None and holder[0] == owner:
                self._held.pop(key)[1].close()

    def owners(self) -> set[str]:
        with self._lock:
            return {owner for owner, _ in self._held.values()}

    def close(self) -> None:
        with self._lock:
            for _owner, sock in self._held.values():
                sock.close()
            self._held.clear()
