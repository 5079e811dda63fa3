"""The container side of networks without a kernel: what a create asks for, how it is kept,
which ports a start publishes, and the /networks create body."""

from __future__ import annotations

import ipaddress
from pathlib import Path

import pytest

from dockyard.containers.config import ContainerConfig, HostConfig
from dockyard.containers.record import Container
from dockyard.errors import InvalidArgument, NotFound, PermissionDenied, Unsupported
from dockyard.network.ports import PortRequest
from dockyard.services.container_endpoints import (
    EndpointConfig,
    load_networks,
    network_kind,
    port_requests,
    primary_network,
    requested_networks,
    save_networks,
)
from dockyard.services.networks import CreateRequest, _go_time, _until

CLI_DEFAULT = {"default": {"IPAMConfig": None, "Links": None, "Aliases": None, "MacAddress": "",
                           "NetworkID": "", "EndpointID": "", "DNSNames": None}}


def test_modes() -> None:
    assert [network_kind(m) for m in ("default", "bridge", "front", "host", "none",
                                      "container:web")] == \
        ["bridge", "bridge", "bridge", "host", "none", "container"]
    assert [primary_network(m) for m in ("", "default", "bridge", "front")] == \
        ["bridge", "bridge", "bridge", "front"]


def test_requested_networks_as_the_cli_and_compose_send_them() -> None:
    assert requested_networks("default", CLI_DEFAULT, {}) == {"bridge": EndpointConfig()}
    compose = {"tnet": {"Aliases": ["web"], "IPAMConfig": {}}}
    assert requested_networks("tnet", compose, {}) == {
        "tnet": EndpointConfig(("web",), "", {})}
    got = requested_networks("front", {"back": {"IPAMConfig": {"IPv4Address": "10.1.0.5"}}}, {})
    assert list(got) == ["front", "back"]  # the primary network first
    assert got["back"] == EndpointConfig((), "10.1.0.5", {"IPv4Address": "10.1.0.5"})
    assert requested_networks("container:web", None, {}) == {}
    assert requested_networks("host", None, {}) == {"host": EndpointConfig()}


@pytest.mark.parametrize(("mode", "endpoints", "echo", "message"), [
    ("container:web", None, {"PortBindings": {"80/tcp": [{}]}}, "conflicting options"),
    ("container:", None, {}, "invalid network mode"),
    ("default", {"default": {"Aliases": ["x"]}}, {}, "network-scoped alias"),
    ("bridge", {"bridge": {"IPAMConfig": {"IPv4Address": "10.0.0.9"}}}, {},
     "user specified IP address"),
    ("front", {"front": {"IPAMConfig": {"IPv4Address": "nonsense"}}}, {}, "invalid IPv4"),
    ("front", {"front": {"Aliases": "x"}}, {}, "invalid Aliases"),
    ("front", ["front"], {}, "EndpointsConfig"),
])
def test_requested_networks_refused(mode: str, endpoints: object, echo: dict[str, object],
                                    message: str) -> None:
    with pytest.raises(InvalidArgument, match=message):
        requested_networks(mode, endpoints, echo)


def test_ipv6_endpoint_is_unsupported() -> None:
    with pytest.raises(Unsupported):
        EndpointConfig.from_api({"IPAMConfig": {"IPv6Address": "fd00::2"}})


def test_networks_file_round_trip(tmp_path: Path) -> None:
    wanted = {"front": EndpointConfig(("web", "w"), "10.1.0.5", {"IPv4Address": "10.1.0.5"},
                                      "a" * 64), "bridge": EndpointConfig()}
    save_networks(tmp_path, wanted)
    assert load_networks(tmp_path, "front") == wanted
    assert list(load_networks(tmp_path, "front")) == ["front", "bridge"]
    # no file (a container made before networks were recorded): its NetworkMode
    assert load_networks(tmp_path / "none", "default") == {"bridge": EndpointConfig()}
    assert load_networks(tmp_path / "none", "container:x") == {}


def container(host: HostConfig, exposed: dict[str, object] | None = None) -> Container:
    return Container("c" * 64, "/web", "2026-01-01T00:00:00Z", "sha256:" + "0" * 64,
                     ContainerConfig(image="busybox", cmd=("true",), exposed_ports=exposed), host)


def test_port_requests_from_bindings_and_publish_all() -> None:
    host = HostConfig(echo={
        "PortBindings": {"80/tcp": [{"HostIp": "127.0.0.1", "HostPort": "8080"}],
                         "81/udp": [{"HostIp": "", "HostPort": "9000-9010"}],
                         "82": None},
        "PublishAllPorts": True})
    got = port_requests(container(host, {"80/tcp": {}, "90/tcp": {}, "91/udp": {}}))
    assert got == [
        PortRequest(80, "tcp", ipaddress.IPv4Address("127.0.0.1"), 8080),
        PortRequest(81, "udp", None, 9000, 9010),
        PortRequest(82, "tcp"),
        PortRequest(90, "tcp"),
        PortRequest(91, "udp"),
    ]
    assert port_requests(container(HostConfig(), {"80/tcp": {}})) == []


def test_create_request_as_the_cli_sends_it() -> None:
    body = {"Driver": "bridge", "Scope": "", "IPAM": {"Driver": "default", "Options": {},
                                                      "Config": [{"Subnet": "10.213.0.0/24"}]},
            "Internal": False, "Attachable": False, "Ingress": False, "ConfigOnly": False,
            "ConfigFrom": None, "Options": {}, "Labels": {"x": "y"}, "Name": "tracenet2",
            "CheckDuplicate": True}
    request = CreateRequest.parse(body)
    assert request == CreateRequest("tracenet2", labels={"x": "y"},
                                    ipam_config=({"Subnet": "10.213.0.0/24"},))
    assert request.pool() == ("10.213.0.0/24", "", "")
    compose = CreateRequest.parse({"Name": "p_tnet", "CheckDuplicate": True, "Attachable": True,
                                   "Labels": {"com.docker.compose.network": "tnet"}})
    assert (compose.attachable, compose.pool()) == (True, ("", "", ""))


@pytest.mark.parametrize(("body", "error"), [
    ({"Name": "n", "Driver": "overlay"}, NotFound),
    ({"Name": "n", "Driver": "host"}, PermissionDenied),
    ({"Name": "n", "EnableIPv6": True}, Unsupported),
    ({"Name": "n", "IPAM": {"Config": [{"Subnet": "fd00::/64"}]}}, Unsupported),
    ({"Name": "n", "IPAM": {"Driver": "dhcp"}}, Unsupported),
    ({"Driver": "bridge"}, InvalidArgument),
    ([], InvalidArgument),
])
def test_create_request_refused(body: object, error: type[Exception]) -> None:
    with pytest.raises(error):
        CreateRequest.parse(body)


def test_times() -> None:
    assert _go_time("2026-11-27T20:28:19.130314+00:00") == "2026-11-27T20:28:19.130314Z"
    assert _until(["1700000000"]) == 1700000000.0
    assert _until(["2026-11-27T20:28:19Z"]) == 1795811299.0
    assert _until([]) is None
    with pytest.raises(InvalidArgument):
        _until(["yesterday"])
