"""A small rtnetlink (NETLINK_ROUTE) client on the stdlib ``socket`` module.

It does what a bridge network needs and nothing more: bridges and veth pairs (the peer created
directly in the container's network namespace through ``IFLA_NET_NS_FD``: moving a link between
namespaces costs 14-66 ms in ``synchronize_net``, creating it there costs nothing extra), link
state, MTU, master and hairpin mode, IPv4 addresses and routes, and dumps of all three.

Wire format (``linux/netlink.h``, ``linux/rtnetlink.h``, ``linux/if_link.h``)::

    nlmsghdr   u32 len | u16 type | u16 flags | u32 seq | u32 pid
    ifinfomsg  u8 family | u8 pad | u16 type | i32 index | u32 flags | u32 change
    ifaddrmsg  u8 family | u8 prefixlen | u8 flags | u8 scope | u32 index
    rtmsg      u8 family | u8 dst_len | u8 src_len | u8 tos | u8 table | u8 protocol
               | u8 scope | u8 type | u32 flags
    rtattr     u16 len | u16 type | payload, padded to 4 bytes

A socket acts in the network namespace it was created in, so :class:`Rtnl` is opened either in
the caller's namespace (:meth:`Rtnl.open`) or around a socket made elsewhere
(:func:`dockyard.network.netns.rtnl_in`). Every request asks for an acknowledgement; a failure
becomes :class:`~dockyard.errors.SystemCallError` naming the message and the object, with the
kernel's extended-ack text when it sends one. ``EEXIST`` becomes
:class:`~dockyard.errors.AlreadyExists` and a missing device :class:`~dockyard.errors.NotFound`.
"""

from __future__ import annotations

import errno as errnos
import ipaddress
import logging
import socket
import struct
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from dockyard.errors import AlreadyExists, DockyardError, NotFound, SystemCallError

log = logging.getLogger(__name__)

NETLINK_ROUTE = 0
_SOL_NETLINK = 270
_NETLINK_CAP_ACK = 10
_NETLINK_EXT_ACK = 11

NLMSG_ERROR, NLMSG_DONE = 2, 3
NLM_F_REQUEST, NLM_F_MULTI, NLM_F_ACK = 0x1, 0x2, 0x4
NLM_F_DUMP_INTR = 0x10
NLM_F_DUMP = 0x300
NLM_F_REPLACE, NLM_F_EXCL, NLM_F_CREATE = 0x100, 0x200, 0x400
_NLM_F_ACK_TLVS = 0x200
_NLMSGERR_ATTR_MSG = 1
NLA_F_NESTED = 0x8000

RTM_NEWLINK, RTM_DELLINK, RTM_GETLINK, RTM_SETLINK = 16, 17, 18, 19
RTM_NEWADDR, RTM_DELADDR, RTM_GETADDR = 20, 21, 22
RTM_NEWROUTE, RTM_DELROUTE, RTM_GETROUTE = 24, 25, 26
_NAMES = {
    RTM_NEWLINK: "RTM_NEWLINK", RTM_DELLINK: "RTM_DELLINK", RTM_GETLINK: "RTM_GETLINK",
    RTM_SETLINK: "RTM_SETLINK", RTM_NEWADDR: "RTM_NEWADDR", RTM_DELADDR: "RTM_DELADDR",
    RTM_GETADDR: "RTM_GETADDR", RTM_NEWROUTE: "RTM_NEWROUTE", RTM_DELROUTE: "RTM_DELROUTE",
    RTM_GETROUTE: "RTM_GETROUTE",
}

IFLA_ADDRESS, IFLA_IFNAME, IFLA_MTU, IFLA_LINK, IFLA_MASTER = 1, 3, 4, 5, 10
IFLA_LINKINFO, IFLA_IFALIAS, IFLA_NET_NS_FD = 18, 20, 28
IFLA_LINK_NETNSID = 37
IFLA_INFO_KIND, IFLA_INFO_DATA, IFLA_INFO_SLAVE_KIND, IFLA_INFO_SLAVE_DATA = 1, 2, 4, 5
VETH_INFO_PEER = 1
IFLA_BRPORT_MODE = 4
IFA_ADDRESS, IFA_LOCAL, IFA_LABEL, IFA_BROADCAST = 1, 2, 3, 4
RTA_DST, RTA_OIF, RTA_GATEWAY, RTA_PREFSRC, RTA_TABLE = 1, 4, 5, 7, 15

IFF_UP = 0x1
RT_TABLE_MAIN = 254
RTPROT_KERNEL, RTPROT_BOOT, RTPROT_STATIC = 2, 3, 4
RT_SCOPE_UNIVERSE, RT_SCOPE_LINK, RT_SCOPE_HOST = 0, 253, 254
RTN_UNICAST = 1

_HDR = struct.Struct("=IHHII")
_IFINFO = struct.Struct("=BxHiII")
_IFADDR = struct.Struct("=BBBBI")
_RTMSG = struct.Struct("=BBBBBBBBI")
_ATTR = struct.Struct("=HH")


def attr(kind: int, payload: bytes) -> bytes:
    """One rtattr: header, payload, padding to the next 4-byte boundary."""
    length = _ATTR.size + len(payload)
    return _ATTR.pack(length, kind) + payload + b"\0" * (-length % 4)


def nested(kind: int, *children: bytes) -> bytes:
    return attr(kind | NLA_F_NESTED, b"".join(children))


def attr_str(kind: int, text: str) -> bytes:
    return attr(kind, text.encode() + b"\0")


def attr_u32(kind: int, value: int) -> bytes:
    return attr(kind, struct.pack("=I", value))


def attrs(data: bytes) -> dict[int, bytes]:
    """The attributes of a message body (last one wins), keyed by type without flag bits."""
    found: dict[int, bytes] = {}
    offset = 0
    while offset + _ATTR.size <= len(data):
        length, kind = _ATTR.unpack_from(data, offset)
        if length < _ATTR.size:
            break
        found[kind & 0x3FFF] = data[offset + _ATTR.size:offset + length]
        offset += (length + 3) & ~3
    return found


def _text(data: bytes | None) -> str:
    return data.split(b"\0", 1)[0].decode(errors="replace") if data else ""


def _u32(data: bytes | None) -> int:
    return struct.unpack("=I", data[:4])[0] if data else 0


def _mac(data: bytes | None) -> str:
    return ":".join(f"{b:02x}" for b in data) if data else ""


def mac_bytes(mac: str) -> bytes:
    return bytes(int(part, 16) for part in mac.split(":"))


def ifinfo(index: int = 0, flags: int = 0, change: int = 0, family: int = 0) -> bytes:
    return _IFINFO.pack(family, 0, index, flags, change)


@dataclass(frozen=True, slots=True)
class Link:
    """One network device as RTM_GETLINK reports it."""

    index: int
    name: str
    kind: str
    flags: int
    mtu: int
    master: int
    mac: str
    alias: str
    peer: int  # IFLA_LINK: a veth's peer index (in the peer's namespace), 0 when absent

    @property
    def up(self) -> bool:
        return bool(self.flags & IFF_UP)


@dataclass(frozen=True, slots=True)
class Address:
    index: int
    address: ipaddress.IPv4Address
    prefixlen: int
    label: str


@dataclass(frozen=True, slots=True)
class Route:
    dst: ipaddress.IPv4Network
    gateway: ipaddress.IPv4Address | None
    oif: int
    table: int
    protocol: int
    scope: int
    type: int


def _parse_link(body: bytes) -> Link:
    _family, _type, index, flags, _change = _IFINFO.unpack_from(body)
    found = attrs(body[_IFINFO.size:])
    info = attrs(found.get(IFLA_LINKINFO, b""))
    return Link(
        index=index, name=_text(found.get(IFLA_IFNAME)), kind=_text(info.get(IFLA_INFO_KIND)),
        flags=flags, mtu=_u32(found.get(IFLA_MTU)), master=_u32(found.get(IFLA_MASTER)),
        mac=_mac(found.get(IFLA_ADDRESS)), alias=_text(found.get(IFLA_IFALIAS)),
        peer=_u32(found.get(IFLA_LINK)),
    )


def _parse_address(body: bytes) -> Address | None:
    family, prefixlen, _flags, _scope, index = _IFADDR.unpack_from(body)
    if family != socket.AF_INET:
        return None
    found = attrs(body[_IFADDR.size:])
    raw = found.get(IFA_LOCAL) or found.get(IFA_ADDRESS) or b"\0\0\0\0"
    return Address(index, ipaddress.IPv4Address(raw), prefixlen, _text(found.get(IFA_LABEL)))


def _parse_route(body: bytes) -> Route | None:
    family, dst_len, _src, _tos, table, protocol, scope, kind, _flags = _RTMSG.unpack_from(body)
    if family != socket.AF_INET:
        return None
    found = attrs(body[_RTMSG.size:])
    dst = ipaddress.IPv4Address(found.get(RTA_DST, b"\0\0\0\0"))
    gateway = found.get(RTA_GATEWAY)
    return Route(
        dst=ipaddress.IPv4Network((dst, dst_len)),
        gateway=ipaddress.IPv4Address(gateway) if gateway else None,
        oif=_u32(found.get(RTA_OIF)), table=_u32(found.get(RTA_TABLE)) or table,
        protocol=protocol, scope=scope, type=kind,
    )


def new_socket() -> socket.socket:
    """A NETLINK_ROUTE socket in the calling thread's network namespace, acks without echoes."""
    sock = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW | socket.SOCK_CLOEXEC, NETLINK_ROUTE)
    try:
        sock.setsockopt(_SOL_NETLINK, _NETLINK_CAP_ACK, 1)
        sock.setsockopt(_SOL_NETLINK, _NETLINK_EXT_ACK, 1)
        sock.bind((0, 0))
    except OSError as exc:
        sock.close()
        raise SystemCallError("socket", exc.errno or errnos.EIO, "netlink route") from exc
    return sock


@dataclass(frozen=True, slots=True)
class Request:
    """One rtnetlink request: message type, body, what error messages call it, extra flags."""

    kind: int
    body: bytes
    what: str
    flags: int = 0


def link_request(index: int, *, up: bool | None = None, mtu: int = 0, master: int = -1,
                 name: str = "") -> Request:
    """RTM_NEWLINK changing a link selected by index: up/down, MTU, master (0 releases)."""
    flags = change = 0
    if up is not None:
        change = IFF_UP
        flags = IFF_UP if up else 0
    body = ifinfo(index, flags, change)
    if mtu:
        body += attr_u32(IFLA_MTU, mtu)
    if master >= 0:
        body += attr_u32(IFLA_MASTER, master)
    return Request(RTM_NEWLINK, body, f"link {name or index}")


def address_request(index: int, address: ipaddress.IPv4Interface, *, name: str = "",
                    replace: bool = False) -> Request:
    """RTM_NEWADDR with the broadcast address, as ``ip addr add A/N brd + dev X`` sends."""
    body = _IFADDR.pack(socket.AF_INET, address.network.prefixlen, 0, RT_SCOPE_UNIVERSE, index)
    packed = address.ip.packed
    body += attr(IFA_LOCAL, packed) + attr(IFA_ADDRESS, packed)
    if address.network.prefixlen < 31:
        body += attr(IFA_BROADCAST, address.network.broadcast_address.packed)
    flags = NLM_F_CREATE | (NLM_F_REPLACE if replace else NLM_F_EXCL)
    return Request(RTM_NEWADDR, body, f"address {address} on {name or index}", flags)


def route_request(dst: ipaddress.IPv4Network, *, gateway: ipaddress.IPv4Address | None = None,
                  oif: int = 0, table: int = RT_TABLE_MAIN, replace: bool = False) -> Request:
    """RTM_NEWROUTE for a unicast route: via ``gateway``, or on-link through ``oif``."""
    scope = RT_SCOPE_UNIVERSE if gateway is not None else RT_SCOPE_LINK
    body = _RTMSG.pack(socket.AF_INET, dst.prefixlen, 0, 0, min(table, 255), RTPROT_BOOT,
                       scope, RTN_UNICAST, 0)
    if dst.prefixlen:
        body += attr(RTA_DST, dst.network_address.packed)
    if gateway is not None:
        body += attr(RTA_GATEWAY, gateway.packed)
    if oif:
        body += attr_u32(RTA_OIF, oif)
    body += attr_u32(RTA_TABLE, table)
    flags = NLM_F_CREATE | (NLM_F_REPLACE if replace else NLM_F_EXCL)
    via = f" via {gateway}" if gateway is not None else f" dev {oif}"
    return Request(RTM_NEWROUTE, body, f"route {dst}{via}", flags)


class Rtnl:
    """Requests and dumps over one NETLINK_ROUTE socket. Not thread-safe: one user at a time."""

    def __init__(self, sock: socket.socket, where: str = "") -> None:
        self._sock = sock
        self._seq = 0
        self.where = where  # named in error messages: "" for the host, else the netns path

    @classmethod
    def open(cls) -> Rtnl:
        return cls(new_socket())

    def close(self) -> None:
        self._sock.close()

    def __enter__(self) -> Rtnl:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- transport -------------------------------------------------------------------------

    def _send(self, kind: int, flags: int, body: bytes) -> int:
        self._seq = (self._seq + 1) & 0xFFFFFFFF
        message = _HDR.pack(_HDR.size + len(body), kind, flags | NLM_F_REQUEST, self._seq, 0)
        try:
            self._sock.send(message + body)
        except OSError as exc:
            raise SystemCallError("sendmsg", exc.errno or errnos.EIO, _NAMES[kind]) from exc
        return self._seq

    def _messages(self) -> Iterable[tuple[int, int, int, bytes]]:
        try:
            data = self._sock.recv(1 << 16)
        except OSError as exc:
            raise SystemCallError("recvmsg", exc.errno or errnos.EIO, "netlink route") from exc
        offset = 0
        while offset + _HDR.size <= len(data):
            length, kind, flags, seq, _pid = _HDR.unpack_from(data, offset)
            yield kind, flags, seq, data[offset + _HDR.size:offset + length]
            offset += (length + 3) & ~3

    def _error(self, kind: int, flags: int, body: bytes, what: str) -> DockyardError | None:
        """The error an NLMSG_ERROR message carries (None for an acknowledgement)."""
        code = -struct.unpack_from("=i", body)[0]
        if code == 0:
            return None
        detail = what + (f" in {self.where}" if self.where else "")
        if flags & _NLM_F_ACK_TLVS:
            # with NETLINK_CAP_ACK the error carries only the request's header after the code
            reason = _text(attrs(body[4 + _HDR.size:]).get(_NLMSGERR_ATTR_MSG))
            if reason:
                detail += f" ({reason})"
        call = f"rtnetlink {_NAMES.get(kind, str(kind))}"
        if code == errnos.EEXIST:
            return AlreadyExists(f"{call} {detail}: already exists")
        if code == errnos.ENODEV:
            return NotFound(f"{call} {detail}: no such device")
        return SystemCallError(call, code, detail)

    def _fail(self, kind: int, flags: int, body: bytes, what: str) -> None:
        error = self._error(kind, flags, body, what)
        if error is not None:
            raise error

    def request(self, kind: int, body: bytes, what: str, flags: int = 0) -> None:
        """Send one request and wait for its acknowledgement; raise on a negative one."""
        seq = self._send(kind, flags | NLM_F_ACK, body)
        while True:
            for got, got_flags, got_seq, payload in self._messages():
                if got_seq == seq and got == NLMSG_ERROR:
                    self._fail(kind, got_flags, payload, what)
                    return

    def batch(self, requests: Sequence[Request]) -> list[DockyardError | None]:
        """Several requests in one datagram, run by the kernel in order; each one's outcome.

        One send and one wait instead of one round trip per request (the container side of
        an attach is four requests).
        """
        data = b""
        first = self._seq + 1
        for request in requests:
            self._seq = (self._seq + 1) & 0xFFFFFFFF
            data += _HDR.pack(_HDR.size + len(request.body), request.kind,
                              request.flags | NLM_F_REQUEST | NLM_F_ACK, self._seq, 0)
            data += request.body + b"\0" * (-len(request.body) % 4)
        try:
            self._sock.send(data)
        except OSError as exc:
            raise SystemCallError("sendmsg", exc.errno or errnos.EIO, "rtnetlink batch") from exc
        outcomes: dict[int, DockyardError | None] = {}
        while len(outcomes) < len(requests):
            for got, got_flags, got_seq, payload in self._messages():
                index = (got_seq - first) & 0xFFFFFFFF
                if got == NLMSG_ERROR and index < len(requests):
                    r = requests[index]
                    outcomes[index] = self._error(r.kind, got_flags, payload, r.what)
        return [outcomes[i] for i in range(len(requests))]

    def dump(self, kind: int, body: bytes, what: str) -> list[bytes]:
        """The bodies of a dump's replies (retried when the kernel marks it interrupted)."""
        for _attempt in range(5):
            seq = self._send(kind, NLM_F_DUMP, body)
            bodies: list[bytes] = []
            interrupted = False
            done = False
            while not done:
                for got, got_flags, got_seq, payload in self._messages():
                    if got_seq != seq:
                        continue
                    interrupted |= bool(got_flags & NLM_F_DUMP_INTR)
                    if got == NLMSG_ERROR:
                        self._fail(kind, got_flags, payload, what)
                    if got in (NLMSG_DONE, NLMSG_ERROR):
                        done = True
                        break
                    bodies.append(payload)
            if not interrupted:
                return bodies
        raise SystemCallError(f"rtnetlink {_NAMES[kind]}", errnos.EINTR, what)

    # -- links -------------------------------------------------------------------------------

    def link(self, name: str) -> Link:
        """The link called ``name``; NotFound when there is none."""
        seq = self._send(RTM_GETLINK, 0, ifinfo() + attr_str(IFLA_IFNAME, name))
        while True:
            for got, got_flags, got_seq, payload in self._messages():
                if got_seq != seq:
                    continue
                if got == NLMSG_ERROR:
                    self._fail(RTM_GETLINK, got_flags, payload, f"link {name}")
                    raise NotFound(f"link {name} not found")  # an ack without the link
                return _parse_link(payload)

    def links(self) -> list[Link]:
        return [_parse_link(body) for body in self.dump(RTM_GETLINK, ifinfo(), "links")]

    def create_bridge(self, name: str, *, mtu: int = 0, mac: str = "") -> None:
        extra = attr_u32(IFLA_MTU, mtu) if mtu else b""
        if mac:
            extra += attr(IFLA_ADDRESS, mac_bytes(mac))
        body = (ifinfo() + attr_str(IFLA_IFNAME, name) + extra
                + nested(IFLA_LINKINFO, attr_str(IFLA_INFO_KIND, "bridge")))
        self.request(RTM_NEWLINK, body, f"bridge {name}", NLM_F_CREATE | NLM_F_EXCL)

    def create_veth(
        self, name: str, peer: str, *, peer_netns_fd: int = -1, master: int = 0, mtu: int = 0,
        mac: str = "", peer_mac: str = "", up: bool = False,
    ) -> None:
        """A veth pair; the peer is made directly in ``peer_netns_fd``'s namespace when given.

        The host end can be enslaved and brought up in the same message; the peer cannot be
        (``IFF_UP`` on a peer still without carrier fails with ENOTCONN), see :meth:`set_link`.
        """
        peer_attrs = attr_str(IFLA_IFNAME, peer)
        if peer_netns_fd >= 0:
            peer_attrs += attr_u32(IFLA_NET_NS_FD, peer_netns_fd)
        if peer_mac:
            peer_attrs += attr(IFLA_ADDRESS, mac_bytes(peer_mac))
        common = attr_u32(IFLA_MTU, mtu) if mtu else b""
        host = attr_str(IFLA_IFNAME, name) + common
        if master:
            host += attr_u32(IFLA_MASTER, master)
        if mac:
            host += attr(IFLA_ADDRESS, mac_bytes(mac))
        info = nested(
            IFLA_LINKINFO, attr_str(IFLA_INFO_KIND, "veth"),
            nested(IFLA_INFO_DATA, attr(VETH_INFO_PEER, ifinfo() + peer_attrs + common)),
        )
        flags = IFF_UP if up else 0
        self.request(RTM_NEWLINK, ifinfo(0, flags, flags) + host + info,
                     f"veth {name} (peer {peer})", NLM_F_CREATE | NLM_F_EXCL)

    def set_link(
        self, index: int, *, up: bool | None = None, mtu: int = 0, master: int = -1,
        name: str = "",
    ) -> None:
        """Change a link: up/down, MTU, master (0 releases it), selected by index."""
        self.send(link_request(index, up=up, mtu=mtu, master=master, name=name))

    def send(self, request: Request) -> None:
        self.request(request.kind, request.body, request.what, request.flags)

    def set_port(self, name: str, *, hairpin: bool, alias: str = "") -> None:
        """A bridge port's hairpin mode (a frame may leave by the port it came in on) and
        alias, in one message (the kernel ignores IFLA_IFALIAS when it creates a link)."""
        body = ifinfo() + attr_str(IFLA_IFNAME, name)
        if alias:
            body += attr_str(IFLA_IFALIAS, alias)
        body += nested(IFLA_LINKINFO, attr_str(IFLA_INFO_SLAVE_KIND, "bridge"),
                       nested(IFLA_INFO_SLAVE_DATA, attr(IFLA_BRPORT_MODE, bytes([hairpin]))))
        self.request(RTM_NEWLINK, body, f"bridge port {name}")

    def delete_link(self, name: str = "", index: int = 0) -> None:
        body = ifinfo(index) + (attr_str(IFLA_IFNAME, name) if name and not index else b"")
        self.request(RTM_DELLINK, body, f"link {name or index}")

    # -- addresses ---------------------------------------------------------------------------

    def add_address(
        self, index: int, address: ipaddress.IPv4Interface, *, name: str = "",
        replace: bool = False,
    ) -> None:
        """An IPv4 address with its broadcast, as ``ip addr add A/N brd + dev X`` does."""
        self.send(address_request(index, address, name=name, replace=replace))

    def delete_address(self, index: int, address: ipaddress.IPv4Interface,
                       name: str = "") -> None:
        body = _IFADDR.pack(socket.AF_INET, address.network.prefixlen, 0, 0, index)
        body += attr(IFA_LOCAL, address.ip.packed)
        self.request(RTM_DELADDR, body, f"address {address} on {name or index}")

    def addresses(self, index: int = 0) -> list[Address]:
        found = [_parse_address(body) for body in
                 self.dump(RTM_GETADDR, _IFADDR.pack(socket.AF_INET, 0, 0, 0, 0), "addresses")]
        return [a for a in found if a is not None and (not index or a.index == index)]

    # -- routes ------------------------------------------------------------------------------

    def add_route(
        self, dst: ipaddress.IPv4Network, *, gateway: ipaddress.IPv4Address | None = None,
        oif: int = 0, table: int = RT_TABLE_MAIN, replace: bool = False,
    ) -> None:
        """A unicast route: via ``gateway`` (universe scope) or on-link through ``oif``."""
        self.send(route_request(dst, gateway=gateway, oif=oif, table=table, replace=replace))

    def delete_route(self, dst: ipaddress.IPv4Network, *, table: int = RT_TABLE_MAIN) -> None:
        body = _RTMSG.pack(socket.AF_INET, dst.prefixlen, 0, 0, min(table, 255), 0, 0, 0, 0)
        if dst.prefixlen:
            body += attr(RTA_DST, dst.network_address.packed)
        self.request(RTM_DELROUTE, body + attr_u32(RTA_TABLE, table), f"route {dst}")

    def routes(self, table: int = RT_TABLE_MAIN) -> list[Route]:
        body = _RTMSG.pack(socket.AF_INET, 0, 0, 0, 0, 0, 0, 0, 0)
        found = [_parse_route(b) for b in self.dump(RTM_GETROUTE, body, "routes")]
        return [r for r in found if r is not None and (not table or r.table == table)]
