"""Rtnl against a fake kernel: the bytes of each request, acks, errors and dumps."""

from __future__ import annotations

import errno
import ipaddress
import socket
import struct
from collections.abc import Callable

import pytest

from dockyard.errors import AlreadyExists, NotFound, SystemCallError
from dockyard.network import netlink as nl

Reply = tuple[int, int, bytes]  # type, flags, body


def _ack(code: int = 0, text: str = "") -> Reply:
    body = struct.pack("=i", -code) + b"\0" * 16  # errno and the request's header (CAP_ACK)
    flags = 0
    if text:
        body += nl.attr_str(1, text)
        flags = 0x200
    return nl.NLMSG_ERROR, flags, body


class FakeKernel:
    """A socket whose peer answers each request through ``handler``."""

    def __init__(self, handler: Callable[[int, int, bytes], list[list[Reply]]]) -> None:
        self.handler = handler
        self.sent: list[tuple[int, int, bytes]] = []
        self.pending: list[bytes] = []

    def send(self, data: bytes) -> int:
        length, kind, flags, seq, _pid = struct.unpack_from("=IHHII", data)
        assert length == len(data)
        body = data[16:]
        self.sent.append((kind, flags, body))
        for datagram in self.handler(kind, flags, body):
            out = b""
            for reply_kind, reply_flags, reply_body in datagram:
                out += struct.pack("=IHHII", 16 + len(reply_body), reply_kind, reply_flags, seq,
                                   0) + reply_body
            self.pending.append(out)
        return len(data)

    def recv(self, size: int) -> bytes:
        return self.pending.pop(0)

    def close(self) -> None:
        pass


def acking(kind: int, flags: int, body: bytes) -> list[list[Reply]]:
    return [[_ack()]]


def rtnl(handler: Callable[[int, int, bytes], list[list[Reply]]] = acking,
         where: str = "") -> tuple[nl.Rtnl, FakeKernel]:
    kernel = FakeKernel(handler)
    return nl.Rtnl(kernel, where), kernel  # type: ignore[arg-type]


def test_attr_pads_to_four_bytes_and_parses_back() -> None:
    data = nl.attr_str(nl.IFLA_IFNAME, "eth0") + nl.attr_u32(nl.IFLA_MTU, 1500)
    assert data == (struct.pack("=HH", 9, 3) + b"eth0\0\0\0\0"
                    + struct.pack("=HHI", 8, 4, 1500))
    assert nl.attrs(data) == {3: b"eth0\0", 4: struct.pack("=I", 1500)}


def test_nested_sets_the_flag_and_parse_strips_it() -> None:
    data = nl.nested(nl.IFLA_LINKINFO, nl.attr_str(nl.IFLA_INFO_KIND, "veth"))
    assert struct.unpack_from("=HH", data) == (16, nl.IFLA_LINKINFO | nl.NLA_F_NESTED)
    assert nl.attrs(data) == {nl.IFLA_LINKINFO: nl.attr_str(nl.IFLA_INFO_KIND, "veth")}


def test_create_veth_puts_the_peer_in_the_namespace_in_one_message() -> None:
    link, kernel = rtnl()
    link.create_veth("dyv1", "eth0", peer_netns_fd=7, master=4, mtu=1400,
                     peer_mac="02:42:0a:00:00:02", up=True)
    peer = (nl.ifinfo() + nl.attr_str(nl.IFLA_IFNAME, "eth0") + nl.attr_u32(nl.IFLA_NET_NS_FD, 7)
            + nl.attr(nl.IFLA_ADDRESS, bytes([2, 0x42, 10, 0, 0, 2]))
            + nl.attr_u32(nl.IFLA_MTU, 1400))
    expected = (nl.ifinfo(0, nl.IFF_UP, nl.IFF_UP) + nl.attr_str(nl.IFLA_IFNAME, "dyv1")
                + nl.attr_u32(nl.IFLA_MTU, 1400) + nl.attr_u32(nl.IFLA_MASTER, 4)
                + nl.nested(nl.IFLA_LINKINFO, nl.attr_str(nl.IFLA_INFO_KIND, "veth"),
                            nl.nested(nl.IFLA_INFO_DATA, nl.attr(nl.VETH_INFO_PEER, peer))))
    flags = nl.NLM_F_REQUEST | nl.NLM_F_ACK | nl.NLM_F_CREATE | nl.NLM_F_EXCL
    assert kernel.sent == [(nl.RTM_NEWLINK, flags, expected)]


def test_add_address_sends_local_address_and_broadcast() -> None:
    link, kernel = rtnl()
    link.add_address(3, ipaddress.IPv4Interface("10.87.0.2/16"))
    body = struct.pack("=BBBBI", socket.AF_INET, 16, 0, 0, 3)
    body += nl.attr(nl.IFA_LOCAL, bytes([10, 87, 0, 2])) + nl.attr(nl.IFA_ADDRESS,
                                                                   bytes([10, 87, 0, 2]))
    body += nl.attr(nl.IFA_BROADCAST, bytes([10, 87, 255, 255]))
    flags = nl.NLM_F_REQUEST | nl.NLM_F_ACK | nl.NLM_F_CREATE | nl.NLM_F_EXCL
    assert kernel.sent == [(nl.RTM_NEWADDR, flags, body)]


def test_default_route_via_gateway() -> None:
    link, kernel = rtnl()
    link.add_route(ipaddress.IPv4Network("0.0.0.0/0"), gateway=ipaddress.IPv4Address("10.0.0.1"))
    body = struct.pack("=BBBBBBBBI", socket.AF_INET, 0, 0, 0, 254, nl.RTPROT_BOOT,
                       nl.RT_SCOPE_UNIVERSE, nl.RTN_UNICAST, 0)
    body += nl.attr(nl.RTA_GATEWAY, bytes([10, 0, 0, 1])) + nl.attr_u32(nl.RTA_TABLE, 254)
    assert kernel.sent[0][2] == body


def test_eexist_is_already_exists_with_the_object_named() -> None:
    link, _ = rtnl(lambda *_: [[_ack(errno.EEXIST)]])
    with pytest.raises(AlreadyExists) as caught:
        link.create_bridge("dockyard0")
    assert str(caught.value) == "rtnetlink RTM_NEWLINK bridge dockyard0: already exists"


def test_enodev_is_not_found() -> None:
    link, _ = rtnl(lambda *_: [[_ack(errno.ENODEV)]], where="/run/netns/c1")
    with pytest.raises(NotFound) as caught:
        link.delete_link("dyv1")
    assert str(caught.value) == "rtnetlink RTM_DELLINK link dyv1 in /run/netns/c1: no such device"


def test_other_errors_carry_errno_and_the_kernels_extended_ack() -> None:
    link, _ = rtnl(lambda *_: [[_ack(errno.EINVAL, "Nexthop has invalid gateway")]])
    with pytest.raises(SystemCallError) as caught:
        link.add_route(ipaddress.IPv4Network("0.0.0.0/0"),
                       gateway=ipaddress.IPv4Address("10.9.9.9"))
    assert caught.value.errno == errno.EINVAL
    assert str(caught.value) == ("rtnetlink RTM_NEWROUTE route 0.0.0.0/0 via 10.9.9.9 "
                                 "(Nexthop has invalid gateway): Invalid argument")


def _link_body(index: int, name: str, master: int = 0, alias: str = "") -> bytes:
    body = nl.ifinfo(index, nl.IFF_UP) + nl.attr_str(nl.IFLA_IFNAME, name)
    body += nl.attr_u32(nl.IFLA_MTU, 1500) + nl.attr(nl.IFLA_ADDRESS, bytes(6))
    if master:
        body += nl.attr_u32(nl.IFLA_MASTER, master)
    if alias:
        body += nl.attr_str(nl.IFLA_IFALIAS, alias)
    return body + nl.nested(nl.IFLA_LINKINFO, nl.attr_str(nl.IFLA_INFO_KIND, "veth"))


def test_dump_reads_every_datagram_until_done() -> None:
    def handler(kind: int, flags: int, body: bytes) -> list[list[Reply]]:
        assert (kind, flags) == (nl.RTM_GETLINK, nl.NLM_F_REQUEST | nl.NLM_F_DUMP)
        return [[(nl.RTM_NEWLINK, nl.NLM_F_MULTI, _link_body(1, "lo"))],
                [(nl.RTM_NEWLINK, nl.NLM_F_MULTI, _link_body(7, "dyv1", 4, "dockyard a b")),
                 (nl.NLMSG_DONE, nl.NLM_F_MULTI, struct.pack("=i", 0))]]

    link, _ = rtnl(handler)
    assert link.links() == [
        nl.Link(1, "lo", "veth", nl.IFF_UP, 1500, 0, "00:00:00:00:00:00", "", 0),
        nl.Link(7, "dyv1", "veth", nl.IFF_UP, 1500, 4, "00:00:00:00:00:00", "dockyard a b", 0),
    ]


def test_an_interrupted_dump_is_repeated() -> None:
    answers = [
        [[(nl.RTM_NEWLINK, nl.NLM_F_MULTI | nl.NLM_F_DUMP_INTR, _link_body(1, "lo")),
          (nl.NLMSG_DONE, nl.NLM_F_MULTI, struct.pack("=i", 0))]],
        [[(nl.RTM_NEWLINK, nl.NLM_F_MULTI, _link_body(2, "eth0")),
          (nl.NLMSG_DONE, nl.NLM_F_MULTI, struct.pack("=i", 0))]],
    ]
    link, kernel = rtnl(lambda *_: answers.pop(0))
    assert [x.name for x in link.links()] == ["eth0"]
    assert len(kernel.sent) == 2


def test_link_by_name() -> None:
    link, kernel = rtnl(lambda *_: [[(nl.RTM_NEWLINK, 0, _link_body(5, "eth0"))]])
    assert link.link("eth0").index == 5
    assert kernel.sent == [(nl.RTM_GETLINK, nl.NLM_F_REQUEST,
                            nl.ifinfo() + nl.attr_str(nl.IFLA_IFNAME, "eth0"))]


def test_addresses_and_routes_parse() -> None:
    addr = (struct.pack("=BBBBI", socket.AF_INET, 24, 0, 0, 3)
            + nl.attr(nl.IFA_LOCAL, bytes([10, 1, 2, 3])) + nl.attr_str(nl.IFA_LABEL, "eth0"))
    route = (struct.pack("=BBBBBBBBI", socket.AF_INET, 24, 0, 0, 254, 2, 253, 1, 0)
             + nl.attr(nl.RTA_DST, bytes([10, 1, 2, 0])) + nl.attr_u32(nl.RTA_OIF, 3))
    done = (nl.NLMSG_DONE, nl.NLM_F_MULTI, struct.pack("=i", 0))

    def handler(kind: int, flags: int, body: bytes) -> list[list[Reply]]:
        if kind == nl.RTM_GETADDR:
            return [[(nl.RTM_NEWADDR, nl.NLM_F_MULTI, addr), done]]
        return [[(nl.RTM_NEWROUTE, nl.NLM_F_MULTI, route), done]]

    link, _ = rtnl(handler)
    assert link.addresses() == [nl.Address(3, ipaddress.IPv4Address("10.1.2.3"), 24, "eth0")]
    assert link.routes() == [nl.Route(ipaddress.IPv4Network("10.1.2.0/24"), None, 3, 254, 2,
                                      253, 1)]


def test_a_batch_is_one_datagram_with_one_outcome_per_request() -> None:
    def handler(kind: int, flags: int, body: bytes) -> list[list[Reply]]:
        return []

    link, kernel = rtnl(handler)
    requests = [nl.link_request(2, up=True, name="eth0"), nl.link_request(1, up=True, name="lo"),
                nl.route_request(ipaddress.IPv4Network("0.0.0.0/0"),
                                 gateway=ipaddress.IPv4Address("10.0.0.1"))]
    sent: list[bytes] = []
    kernel.send = lambda data: sent.append(data) or len(data)  # type: ignore[method-assign]
    seq = 1
    kernel.pending = [b"".join(
        struct.pack("=IHHII", 16 + len(body), kind, flags, seq + i, 0) + body
        for i, (kind, flags, body) in enumerate([_ack(), _ack(), _ack(errno.EEXIST)]))]
    outcomes = link.batch(requests)
    assert outcomes[:2] == [None, None]
    assert isinstance(outcomes[2], AlreadyExists)
    assert str(outcomes[2]) == "rtnetlink RTM_NEWROUTE route 0.0.0.0/0 via 10.0.0.1: already exists"
    assert len(sent) == 1
    kinds = []
    offset = 0
    while offset < len(sent[0]):
        length, kind, flags, got_seq, _ = struct.unpack_from("=IHHII", sent[0], offset)
        kinds.append((kind, flags & nl.NLM_F_ACK, got_seq))
        offset += length
    assert kinds == [(nl.RTM_NEWLINK, nl.NLM_F_ACK, 1), (nl.RTM_NEWLINK, nl.NLM_F_ACK, 2),
                     (nl.RTM_NEWROUTE, nl.NLM_F_ACK, 3)]


def test_set_port_sets_hairpin_through_slave_data_and_the_alias() -> None:
    link, kernel = rtnl()
    link.set_port("dyv1", hairpin=True, alias="dockyard c n")
    body = (nl.ifinfo() + nl.attr_str(nl.IFLA_IFNAME, "dyv1")
            + nl.attr_str(nl.IFLA_IFALIAS, "dockyard c n")
            + nl.nested(nl.IFLA_LINKINFO, nl.attr_str(nl.IFLA_INFO_SLAVE_KIND, "bridge"),
                        nl.nested(nl.IFLA_INFO_SLAVE_DATA, nl.attr(nl.IFLA_BRPORT_MODE, b"\1"))))
    assert kernel.sent == [(nl.RTM_NEWLINK, nl.NLM_F_REQUEST | nl.NLM_F_ACK, body)]
