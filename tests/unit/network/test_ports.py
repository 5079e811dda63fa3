"""-p specs, the Engine API's PortBindings and host-port reservations (loopback only)."""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Iterator

import pytest
from hypothesis import given
from hypothesis import strategies as st

from dockyard.errors import Conflict, InvalidArgument, Unsupported
from dockyard.network.ports import HostPorts, PortBinding, PortRequest, parse_publish

LO = ipaddress.IPv4Address("127.0.0.1")


@pytest.mark.parametrize(("spec", "expected"), [
    ("80", [PortRequest(80)]),
    ("8080:80", [PortRequest(80, host_port=8080)]),
    ("127.0.0.1:8080:80", [PortRequest(80, host_ip=LO, host_port=8080)]),
    ("127.0.0.1::80/udp", [PortRequest(80, "udp", LO)]),
    ("0.0.0.0:9000:90/tcp", [PortRequest(90, host_port=9000)]),
    ("80-82", [PortRequest(80), PortRequest(81), PortRequest(82)]),
    ("8000-8001:80-81/udp", [PortRequest(80, "udp", None, 8000),
                             PortRequest(81, "udp", None, 8001)]),
    ("8000-8010:80", [PortRequest(80, host_port=8000, host_port_end=8010)]),
])
def test_parse_publish(spec: str, expected: list[PortRequest]) -> None:
    assert parse_publish(spec) == expected


@pytest.mark.parametrize(("spec", "error", "message"), [
    ("", InvalidArgument, "invalid container port in '': not a port between 1 and 65535"),
    ("70000", InvalidArgument, "invalid container port in '70000': not a port between 1 and"),
    ("a:80", InvalidArgument, "invalid host port in 'a:80'"),
    ("x:1:2", InvalidArgument, "invalid host address 'x'"),
    ("90-80", InvalidArgument, "invalid container port in '90-80': range ends before it starts"),
    ("8000-8001:80-85", InvalidArgument, "invalid publish spec '8000-8001:80-85': host and"),
    ("80/sctp", Unsupported, "publishing sctp ports is not supported"),
    ("80/icmp", InvalidArgument, "invalid protocol 'icmp': expected tcp or udp"),
    ("[::1]:80:80", Unsupported, "publishing on an IPv6 address is not supported"),
    ("::1:80:80", Unsupported, "publishing on an IPv6 address is not supported"),
])
def test_parse_publish_rejects(spec: str, error: type[Exception], message: str) -> None:
    with pytest.raises(error) as caught:
        parse_publish(spec)
    assert str(caught.value).startswith(message)


@given(st.text(alphabet="0123456789.:-/tcpudx[]", max_size=24))
def test_parse_publish_raises_only_the_taxonomy(spec: str) -> None:
    try:
        requests = parse_publish(spec)
    except (InvalidArgument, Unsupported):
        return
    assert requests
    assert all(0 < r.container_port < 65536 and r.proto in ("tcp", "udp") for r in requests)


def test_from_api() -> None:
    assert PortRequest.from_api("80/tcp", "", "8080") == PortRequest(80, host_port=8080)
    assert PortRequest.from_api("53/udp", "127.0.0.1", "") == PortRequest(53, "udp", LO)
    assert PortRequest.from_api("80", "0.0.0.0", "8000-8010") == \
        PortRequest(80, host_port=8000, host_port_end=8010)
    assert PortRequest.from_api("80", "", "8000-8000") == PortRequest(80, host_port=8000)


def test_binding_prints_as_docker_port_does() -> None:
    assert str(PortBinding("tcp", 80, None, 8080)) == "80/tcp -> 0.0.0.0:8080"
    assert str(PortBinding("udp", 53, LO, 5353)) == "53/udp -> 127.0.0.1:5353"


@pytest.fixture
def ports() -> Iterator[HostPorts]:
    held = HostPorts()
    try:
        yield held
    finally:
        held.close()


def _bindable(port: int, kind: int = socket.SOCK_STREAM) -> bool:
    with socket.socket(socket.AF_INET, kind) as probe:
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def test_a_reserved_port_is_held_until_released(ports: HostPorts) -> None:
    got = ports.reserve("c1", PortRequest(80, host_ip=LO))
    assert got.host_ip == LO and got.host_port > 0
    assert not _bindable(got.host_port)
    assert ports.reserve("c1", PortRequest(80, host_ip=LO, host_port=got.host_port)) == got
    with pytest.raises(Conflict) as caught:
        ports.reserve("c2", PortRequest(81, host_ip=LO, host_port=got.host_port))
    assert str(caught.value) == \
        f"Bind for 127.0.0.1:{got.host_port} failed: port is already allocated"
    assert ports.owners() == {"c1"}
    ports.release("c1")
    assert _bindable(got.host_port)
    assert ports.owners() == set()


def test_a_range_gives_the_first_free_port(ports: HostPorts) -> None:
    first = ports.reserve("c1", PortRequest(80, "udp", LO))
    start = first.host_port
    try:
        second = ports.reserve("c2", PortRequest(80, "udp", LO, start, start + 1))
    except Conflict:  # something else holds start + 1
        assert not _bindable(start + 1, socket.SOCK_DGRAM)
        return
    assert second.host_port == start + 1
    ports.release_binding("c2", second)
    assert _bindable(second.host_port, socket.SOCK_DGRAM)


def test_tcp_and_udp_are_separate(ports: HostPorts) -> None:
    tcp = ports.reserve("c1", PortRequest(80, "tcp", LO))
    udp = ports.reserve("c1", PortRequest(80, "udp", LO, tcp.host_port))
    assert udp.host_port == tcp.host_port


def test_a_foreign_address_is_invalid(ports: HostPorts) -> None:
    with pytest.raises(InvalidArgument) as caught:
        ports.reserve("c1", PortRequest(80, host_ip=ipaddress.IPv4Address("198.51.100.250")))
    assert str(caught.value) == "cannot publish on 198.51.100.250: not a local address"
