"""The DNS codec and the embedded server, on 127.0.0.1 with a stub upstream run by the test."""

from __future__ import annotations

import ipaddress
import socket
import struct
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from dockyard.network import dnsmsg
from dockyard.network.dns import DnsHub, Zone, resolv_conf_nameservers

A = ipaddress.IPv4Address


def test_question_round_trip() -> None:
    data = dnsmsg.query(0x1234, "Web.Example", dnsmsg.TYPE_AAAA)
    q = dnsmsg.parse_question(data)
    assert (q.id, q.name, q.type, q.klass, q.end) == (0x1234, "web.example", 28, 1, len(data))


def test_answer_a_copies_the_question_and_points_to_it() -> None:
    data = dnsmsg.query(7, "db")
    reply = dnsmsg.answer_a(data, dnsmsg.parse_question(data), [A("10.90.0.3"), A("10.90.0.4")])
    assert reply[:12] == struct.pack("!HHHHHH", 7, 0x8580, 1, 2, 0, 0)
    assert reply[12:len(data)] == data[12:]
    assert dnsmsg.parse_a_answers(reply) == [A("10.90.0.3"), A("10.90.0.4")]
    assert dnsmsg.rcode_of(reply) == dnsmsg.NOERROR


def test_compressed_names_and_loops() -> None:
    header = struct.pack("!HHHHHH", 1, 0x0100, 1, 0, 0, 0)
    pointer = header + b"\xc0\x0c" + struct.pack("!HH", 1, 1)
    with pytest.raises(dnsmsg.BadMessage):
        dnsmsg.parse_question(pointer)  # points at itself
    named = header + b"\x02ab\x00" + struct.pack("!HH", 1, 1)
    assert dnsmsg.parse_question(named).name == "ab"


@given(st.binary(max_size=64))
def test_parse_question_raises_only_bad_message(data: bytes) -> None:
    try:
        q = dnsmsg.parse_question(data)
    except dnsmsg.BadMessage:
        return
    assert q.end <= len(data)


def test_reverse_name() -> None:
    assert dnsmsg.reverse_name(A("10.90.0.3")) == "3.0.90.10.in-addr.arpa"


def test_resolv_conf(tmp_path: Path) -> None:
    conf = tmp_path / "resolv.conf"
    conf.write_text("search example\nnameserver 10.0.0.53\nnameserver ::1\nnameserver 127.0.0.53\n"
                    "nameserver\n")
    assert resolv_conf_nameservers(conf) == [("10.0.0.53", 53), ("127.0.0.53", 53)]
    assert resolv_conf_nameservers(tmp_path / "missing") == []


def test_zone() -> None:
    zone = Zone.of({"web": [A("10.0.0.2")], "Project-Web-1": [A("10.0.0.2")], "gone": []},
                   {A("10.0.0.2"): "Project-Web-1"}, {A("10.0.0.2"): ["back"]})
    assert zone == Zone({"web": (A("10.0.0.2"),), "project-web-1": (A("10.0.0.2"),)},
                        {"2.0.0.10.in-addr.arpa": "project-web-1"}, {"10.0.0.2": ("back",)})


class StubResolver:
    """Answers every A question with 198.18.0.99 over UDP and TCP on 127.0.0.1."""

    ANSWER = A("198.18.0.99")

    def __init__(self) -> None:
        self.udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.udp.bind(("127.0.0.1", 0))
        self.port = self.udp.getsockname()[1]
        self.tcp = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.tcp.bind(("127.0.0.1", self.port))
        self.tcp.listen()
        self.asked: list[str] = []
        self.done = threading.Event()
        for sock in (self.udp, self.tcp):
            sock.settimeout(0.05)
        self.threads = [threading.Thread(target=self._serve_udp, daemon=True),
                        threading.Thread(target=self._serve_tcp, daemon=True)]
        for thread in self.threads:
            thread.start()

    def _reply(self, data: bytes) -> bytes:
        q = dnsmsg.parse_question(data)
        self.asked.append(q.name)
        return dnsmsg.answer_a(data, q, [self.ANSWER])

    def _serve_udp(self) -> None:
        while not self.done.is_set():
            try:
                data, peer = self.udp.recvfrom(512)
            except TimeoutError:
                continue
            self.udp.sendto(self._reply(data), peer)

    def _serve_tcp(self) -> None:
        while not self.done.is_set():
            try:
                conn, _ = self.tcp.accept()
            except TimeoutError:
                continue
            with conn:
                conn.settimeout(5)
                size = struct.unpack("!H", conn.recv(2))[0]
                reply = self._reply(conn.recv(size))
                conn.sendall(struct.pack("!H", len(reply)) + reply)

    def close(self) -> None:
        self.done.set()
        for thread in self.threads:
            thread.join(timeout=5)
        self.udp.close()
        self.tcp.close()


@pytest.fixture
def stub() -> Iterator[StubResolver]:
    server = StubResolver()
    try:
        yield server
    finally:
        server.close()


@pytest.fixture
def hub(stub: StubResolver) -> Iterator[DnsHub]:
    # a dead upstream first: the hub moves on to the next one
    dead = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    dead.bind(("127.0.0.1", 0))
    server = DnsHub([dead.getsockname(), ("127.0.0.1", stub.port)], timeout=0.3)
    try:
        yield server
    finally:
        server.close()
        dead.close()


def ask_udp(port: int, name: str, qtype: int = dnsmsg.TYPE_A, source: str = "") -> bytes:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.settimeout(5)
        if source:
            sock.bind((source, 0))
        sock.sendto(dnsmsg.query(42, name, qtype), ("127.0.0.1", port))
        return sock.recv(512)


def ask_tcp(port: int, name: str, source: str = "") -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=5,
                                  source_address=(source, 0) if source else None) as sock:
        data = dnsmsg.query(43, name)
        sock.sendall(struct.pack("!H", len(data)) + data)
        size = struct.unpack("!H", sock.recv(2))[0]
        reply = b""
        while len(reply) < size:
            reply += sock.recv(size - len(reply))
        return reply


def test_names_aliases_and_forwarding(hub: DnsHub, stub: StubResolver) -> None:
    port = hub.serve("net1", "127.0.0.1", 0)
    hub.set_records("net1", {"web": [A("10.90.0.2")], "svc": [A("10.90.0.2"), A("10.90.0.3")]},
                    {A("10.90.0.2"): "web"})
    assert dnsmsg.parse_a_answers(ask_udp(port, "WEB")) == [A("10.90.0.2")]
    assert dnsmsg.parse_a_answers(ask_udp(port, "svc.")) == [A("10.90.0.2"), A("10.90.0.3")]
    assert dnsmsg.parse_a_answers(ask_tcp(port, "web")) == [A("10.90.0.2")]
    empty = ask_udp(port, "web", dnsmsg.TYPE_AAAA)
    assert (dnsmsg.rcode_of(empty), dnsmsg.parse_a_answers(empty)) == (dnsmsg.NOERROR, [])
    ptr = ask_udp(port, "2.0.90.10.in-addr.arpa", dnsmsg.TYPE_PTR)
    assert b"\x03web\x00" in ptr
    assert stub.asked == []
    assert dnsmsg.parse_a_answers(ask_udp(port, "example.org")) == [StubResolver.ANSWER]
    assert dnsmsg.parse_a_answers(ask_tcp(port, "example.net")) == [StubResolver.ANSWER]
    assert stub.asked == ["example.org", "example.net"]


def test_servers_are_per_network_and_stop(hub: DnsHub, stub: StubResolver) -> None:
    one = hub.serve("net1", "127.0.0.1", 0)
    two = hub.serve("net2", "127.0.0.1", 0)
    hub.set_records("net1", {"web": [A("10.90.0.2")]})
    assert dnsmsg.parse_a_answers(ask_udp(two, "web")) == [StubResolver.ANSWER]  # forwarded
    assert hub.serving() == {"net1", "net2"}
    hub.stop("net1")
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        probe.bind(("127.0.0.1", one))  # the port is free again


def test_a_container_on_two_networks_resolves_both(hub: DnsHub, stub: StubResolver) -> None:
    front = hub.serve("front", "127.0.0.1", 0)
    hub.serve("back", "127.0.0.1", 0)
    hub.set_records("back", {"db": [A("10.90.1.2")]})
    hub.set_records("front", {"web": [A("10.90.0.2")]})
    assert dnsmsg.parse_a_answers(ask_udp(front, "db")) == [StubResolver.ANSWER]
    # the asker (127.0.0.1 here) is a container that is on "back" too
    hub.set_records("front", {"web": [A("10.90.0.2")]}, peers={A("127.0.0.1"): ["back"]})
    assert dnsmsg.parse_a_answers(ask_udp(front, "db")) == [A("10.90.1.2")]
    assert dnsmsg.parse_a_answers(ask_tcp(front, "db")) == [A("10.90.1.2")]
    assert dnsmsg.parse_a_answers(ask_udp(front, "web")) == [A("10.90.0.2")]


def test_no_upstream_answers_servfail() -> None:
    hub = DnsHub([], timeout=0.2)
    try:
        port = hub.serve("n", "127.0.0.1", 0)
        assert dnsmsg.rcode_of(ask_udp(port, "example.org")) == dnsmsg.SERVFAIL
    finally:
        hub.close()


def test_a_container_with_its_own_servers_is_forwarded_to_them(hub: DnsHub,
                                                               stub: StubResolver) -> None:
    """The asker's source address picks its upstreams (127.0.0.2 and .3 stand for two
    containers): its own ``--dns`` servers, else the hub's."""
    own = StubResolver()
    try:
        port = hub.serve("net1", "127.0.0.1", 0)
        hub.set_upstreams("127.0.0.2", [("127.0.0.1", own.port)])
        assert hub.upstreams_of("127.0.0.2") == (("127.0.0.1", own.port),)
        assert dnsmsg.parse_a_answers(ask_udp(port, "a.test", source="127.0.0.2")) == \
            [StubResolver.ANSWER]
        assert dnsmsg.parse_a_answers(ask_tcp(port, "b.test", source="127.0.0.2")) == \
            [StubResolver.ANSWER]
        assert dnsmsg.parse_a_answers(ask_udp(port, "c.test", source="127.0.0.3")) == \
            [StubResolver.ANSWER]
        assert (own.asked, stub.asked) == (["a.test", "b.test"], ["c.test"])
        hub.set_upstreams("127.0.0.2", [])  # only servers the hub cannot ask (IPv6)
        assert dnsmsg.rcode_of(ask_udp(port, "d.test", source="127.0.0.2")) == dnsmsg.SERVFAIL
        hub.set_upstreams("127.0.0.2", None)  # the address went back: the hub's servers
        assert dnsmsg.parse_a_answers(ask_udp(port, "e.test", source="127.0.0.2")) == \
            [StubResolver.ANSWER]
        assert (own.asked, stub.asked) == (["a.test", "b.test"], ["c.test", "e.test"])
    finally:
        own.close()
