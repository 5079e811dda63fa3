"""The Engine API client against the scripted fake daemon."""

from __future__ import annotations

import io
from typing import Any

import pytest

from dockyard.client import Address, Client, DaemonError, encode_filters, encode_query
from dockyard.errors import Conflict, InvalidArgument, NotFound, Unavailable

from . import fake_daemon as fake


def test_negotiates_down_to_the_daemon_version(daemon: Any) -> None:
    daemon.api_version = "1.30"
    daemon.routes[("GET", "/version")] = lambda r: fake.json_reply({"Version": "x"})
    with Client(daemon.host) as client:
        assert client.get("/version") == {"Version": "x"}
        assert client.api_version == "1.30"
    assert [(r.method, r.target) for r in daemon.requests] == [
        ("HEAD", "/_ping"), ("GET", "/v1.30/version")]


def test_never_goes_above_141(daemon: Any) -> None:
    daemon.api_version = "1.50"
    with Client(daemon.host) as client:
        assert client.api_version == "1.41"


def test_query_is_sorted_and_escaped_and_one_connection_is_reused(daemon: Any) -> None:
    daemon.routes[("GET", "/images/json")] = lambda r: fake.json_reply([])
    with Client(daemon.host) as client:
        client.get("/images/json", {"filters": encode_filters({"reference": ["busybox"]}),
                                    "all": "1"})
        client.get("/images/json")
    assert daemon.requests[1].target == (
        "/v1.41/images/json?all=1&filters=%7B%22reference%22%3A%7B%22busybox%22%3Atrue%7D%7D")
    assert len(daemon._threads) == 1


@pytest.mark.parametrize(("status", "kind"), [
    (400, InvalidArgument), (404, NotFound), (409, Conflict), (500, DaemonError)])
def test_errors_by_status_keep_the_daemon_message(daemon: Any, status: int, kind: type) -> None:
    daemon.routes[("DELETE", "/images/x")] = lambda r: fake.error_reply(status, "No such image: x")
    with Client(daemon.host) as client, pytest.raises(kind) as info:
        client.call("DELETE", "/images/x")
    assert isinstance(info.value, DaemonError)
    assert str(info.value) == "No such image: x"


def test_streams_chunked_json_lines(daemon: Any) -> None:
    chunks = [b'{"status":"a"}\r\n{"stat', b'us":"b"}\r\n', b'{"stream":"c\\n"}']
    daemon.routes[("POST", "/images/load")] = lambda r: (200, {}, chunks)
    with Client(daemon.host) as client:
        assert list(client.stream("POST", "/images/load")) == [
            {"status": "a"}, {"status": "b"}, {"stream": "c\n"}]


def test_upload_is_chunked_and_download_copies(daemon: Any) -> None:
    payload = bytes(range(256)) * 1000
    daemon.routes[("POST", "/images/load")] = lambda r: fake.json_reply({"n": len(r.body)})
    daemon.routes[("GET", "/images/get")] = lambda r: (200, {}, [payload[:1000], payload[1000:]])
    with Client(daemon.host) as client:
        response = client.upload("/images/load", {"quiet": "1"}, io.BytesIO(payload))
        assert response.read() == b'{"n": 256000}\n'
        out = io.BytesIO()
        assert client.download("/images/get", {"names": ["a:b"]}, out) == len(payload)
    assert out.getvalue() == payload
    assert daemon.requests[1].headers["transfer-encoding"] == "chunked"
    assert daemon.requests[1].body == payload
    assert daemon.requests[2].target == "/v1.41/images/get?names=a%3Ab"


def test_missing_socket_names_it(tmp_path: Any) -> None:
    with Client(f"unix://{tmp_path}/none.sock") as client, pytest.raises(Unavailable) as info:
        client.get("/version")
    assert str(info.value) == (f"Cannot connect to the dockyard daemon at unix://{tmp_path}/"
                               "none.sock. Is the dockyard daemon running?")


def test_addresses() -> None:
    assert Address.parse("unix:///run/x.sock").path == "/run/x.sock"
    assert Address.parse("/run/x.sock").url == "unix:///run/x.sock"
    tcp = Address.parse("tcp://10.0.0.1")
    assert (tcp.host, tcp.port, tcp.url) == ("10.0.0.1", 2375, "tcp://10.0.0.1")
    with pytest.raises(InvalidArgument):
        Address.parse("ssh://host")


def test_encode_query_repeats_lists() -> None:
    assert encode_query({"changes": ['CMD ["sh"]', "ENV a=b"], "fromSrc": "-"}) == (
        "?changes=CMD%20%5B%22sh%22%5D&changes=ENV%20a%3Db&fromSrc=-")
