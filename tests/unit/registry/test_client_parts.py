"""The client's pure parts: X-Registry-Auth decoding, WWW-Authenticate parsing, the token
flow against a recorded fetch, endpoint choice, and error wording."""

from __future__ import annotations

import base64
import json
from collections.abc import Mapping

import pytest

from dockyard.errors import InvalidArgument, Unauthorized
from dockyard.registry.auth import (
    ANONYMOUS,
    Authorizer,
    Challenge,
    Credentials,
    decode_registry_auth,
    parse_challenges,
)
from dockyard.registry.endpoints import RegistrySettings, endpoints, is_insecure
from dockyard.registry.transport import Endpoint, transport_error

AUTH = {"username": "traceuser", "password": "tracepass", "serveraddress": "127.0.0.1:5001"}


@pytest.mark.parametrize("encode", [
    lambda b: base64.urlsafe_b64encode(b).decode(),
    lambda b: base64.urlsafe_b64encode(b).decode().rstrip("="),
    lambda b: base64.b64encode(b).decode(),
])
def test_registry_auth_header_is_read_leniently(encode: object) -> None:
    data = json.dumps(AUTH).encode()
    assert decode_registry_auth(encode(data)) == Credentials(  # type: ignore[operator]
        "traceuser", "tracepass", server_address="127.0.0.1:5001")


def test_registry_auth_header_variants() -> None:
    assert decode_registry_auth(None) == ANONYMOUS
    assert decode_registry_auth("e30=") == ANONYMOUS
    auth = base64.b64encode(b"u:p:w").decode()
    encoded = base64.b64encode(json.dumps({"Auth": auth}).encode()).decode()
    assert decode_registry_auth(encoded) == Credentials("u", "p:w")
    token = base64.b64encode(b'{"IdentityToken":"t"}').decode()
    assert decode_registry_auth(token) == Credentials(identity_token="t")
    with pytest.raises(InvalidArgument):
        decode_registry_auth("!!!")


def test_challenges() -> None:
    assert parse_challenges([
        'Bearer realm="https://auth.example/token",service="reg",'
        'scope="repository:a/b:pull,push",error="insufficient_scope"',
        'Basic realm="x \\"y\\""']) == [
        Challenge("bearer", {"realm": "https://auth.example/token", "service": "reg",
                             "scope": "repository:a/b:pull,push", "error": "insufficient_scope"}),
        Challenge("basic", {"realm": 'x "y"'})]


class Recorder:
    def __init__(self, status: int = 200, body: object = None) -> None:
        self.calls: list[tuple[str, str, dict[str, str], bytes | None]] = []
        self.status = status
        self.body = body if body is not None else {"token": "T1", "expires_in": 300}

    def __call__(self, method: str, url: str, headers: Mapping[str, str],
                 body: bytes | None) -> tuple[int, str, bytes]:
        self.calls.append((method, url, dict(headers), body))
        return self.status, "Unauthorized", json.dumps(self.body).encode()


def test_bearer_tokens_are_fetched_once_per_scope() -> None:
    fetch = Recorder()
    authorizer = Authorizer(Credentials("alice", "pw"), fetch)
    assert authorizer.header(["repository:a:pull"]) is None  # no challenge yet
    assert authorizer.challenged(['Bearer realm="http://r/token",service="svc"'])
    assert authorizer.header(["repository:a:pull"]) == "Bearer T1"
    assert authorizer.header(["repository:a:pull"]) == "Bearer T1"
    assert fetch.calls == [("GET", "http://r/token?account=alice&client_id=docker&"
                                   "offline_token=true&scope=repository%3Aa%3Apull&service=svc",
                            {"Authorization": Credentials("alice", "pw").basic()}, None)]


def test_anonymous_token_and_refusal() -> None:
    fetch = Recorder()
    authorizer = Authorizer(ANONYMOUS, fetch)
    authorizer.challenged(['Bearer realm="http://r/token"'])
    authorizer.header(["repository:a:pull"])
    assert fetch.calls[0][:3] == ("GET", "http://r/token?scope=repository%3Aa%3Apull", {})
    refused = Authorizer(ANONYMOUS, Recorder(401, {"errors": [
        {"code": "UNAUTHORIZED", "message": "no"}]}))
    refused.challenged(['Bearer realm="http://r/token"'])
    with pytest.raises(Unauthorized) as error:
        refused.header([])
    assert str(error.value) == "unauthorized: no"


def test_basic_without_credentials() -> None:
    authorizer = Authorizer(ANONYMOUS, Recorder())
    authorizer.challenged(['Basic realm="r"'])
    with pytest.raises(Unauthorized) as error:
        authorizer.header([])
    assert str(error.value) == "no basic auth credentials"


def test_insecure_and_endpoints() -> None:
    settings = RegistrySettings(insecure=("reg.lan:5000", "10.0.0.0/8"),
                                mirrors=("http://127.0.0.1:5000",))
    assert [is_insecure(h, settings) for h in ("localhost:5000", "127.1.2.3:80", "[::1]:5000",
                                              "reg.lan:5000", "10.1.1.1", "reg.lan:6000",
                                              "example.com")] == [
        True, True, True, True, True, False, False]
    assert endpoints("127.0.0.1:5000", settings) == [
        Endpoint("https", "127.0.0.1:5000", verify=False),
        Endpoint("http", "127.0.0.1:5000", verify=False)]
    assert endpoints("example.com", settings) == [Endpoint("https", "example.com")]
    assert endpoints("docker.io", settings) == [
        Endpoint("http", "127.0.0.1:5000", verify=False, mirror=True),
        Endpoint("https", "registry-1.docker.io")]
    assert endpoints("docker.io", settings, push=True) == [
        Endpoint("https", "registry-1.docker.io")]


def test_transport_errors_read_as_go_s() -> None:
    assert str(transport_error("GET", "http://127.0.0.1:5001/v2/", ConnectionRefusedError())) \
        == 'Get "http://127.0.0.1:5001/v2/": dial tcp 127.0.0.1:5001: connect: connection refused'


def test_identity_token_is_traded_by_post() -> None:
    fetch = Recorder(body={"access_token": "A", "refresh_token": "R2"})
    authorizer = Authorizer(Credentials(identity_token="R1"), fetch)
    authorizer.challenged(['Bearer realm="https://auth/token",service="s"'])
    assert authorizer.header(["repository:a:pull"]) == "Bearer A"
    method, url, headers, body = fetch.calls[0]
    assert (method, url, headers["Content-Type"]) == (
        "POST", "https://auth/token", "application/x-www-form-urlencoded")
    assert body == (b"grant_type=refresh_token&refresh_token=R1&service=s&client_id=docker&"
                    b"access_type=offline&scope=repository%3Aa%3Apull")
    assert authorizer.refresh_token == "R2"
