"""Routes, names, scopes and rules, tokens, htpasswd files and settings."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from dockyard.errors import InvalidArgument, Unauthorized
from dockyard.oci.digest import Digest
from dockyard.registry import routes
from dockyard.registry.access import ACTIONS, Policy, Rule, Scope, parse_scopes
from dockyard.registry.config import AuthConfig, Config, build, load_file, parse_addr, parse_size
from dockyard.registry.errcode import RegistryError
from dockyard.registry.names import NAME_RE, check_name, parse_reference
from dockyard.registry.routes import Endpoint, Match
from dockyard.registry.tokens import TokenAuthority, load_or_create_key

D = Digest.of(b"x")


def test_route_table() -> None:
    cases = {
        "/v2/": Match(Endpoint.BASE),
        "/v2": Match(Endpoint.BASE),
        "/v2/_catalog": Match(Endpoint.CATALOG),
        "/token": Match(Endpoint.TOKEN),
        f"/v2/a/b/blobs/{D}": Match(Endpoint.BLOB, "a/b", str(D)),
        "/v2/a/manifests/latest": Match(Endpoint.MANIFEST, "a", "latest"),
        "/v2/a/b/c/blobs/uploads/": Match(Endpoint.UPLOADS, "a/b/c"),
        "/v2/a/blobs/uploads/123": Match(Endpoint.UPLOAD, "a", "123"),
        "/v2/a/tags/list": Match(Endpoint.TAGS, "a"),
        f"/v2/a/referrers/{D}": Match(Endpoint.REFERRERS, "a", str(D)),
        "/v2/blobs/blobs/x": Match(Endpoint.BLOB, "blobs", "x"),
        "/v2/a/manifests/tags/list": Match(Endpoint.TAGS, "a/manifests"),
        "/v2/a/blobs": None,
        "/v1/a/tags/list": None,
        "/v2/tags/list": None,
    }
    assert {path: routes.match(path) for path in cases} == cases


def test_route_builders_round_trip() -> None:
    assert routes.match(routes.blob_path("x/y", D)) == Match(Endpoint.BLOB, "x/y", str(D))
    assert routes.match(routes.upload_path("x", "u")) == Match(Endpoint.UPLOAD, "x", "u")
    assert routes.match(routes.uploads_path("x")) == Match(Endpoint.UPLOADS, "x")
    assert routes.match(routes.manifest_path("x", "t")) == Match(Endpoint.MANIFEST, "x", "t")
    assert routes.next_link("/v2/_catalog", "a/b", 5) == \
        '</v2/_catalog?last=a%2Fb&n=5>; rel="next"'


@given(st.from_regex(NAME_RE, fullmatch=True).filter(lambda n: len(n) <= 255))
def test_every_spec_name_is_accepted_and_routed(name: str) -> None:
    assert check_name(name) == name
    assert routes.match(routes.tags_path(name)) == Match(Endpoint.TAGS, name)


def test_names_and_references() -> None:
    for bad in ("", "A", "a/", "/a", "a..b", "a/-b", "a" * 256, "a b", "_a", ".a"):
        with pytest.raises(RegistryError) as caught:
            check_name(bad)
        assert caught.value.code.name == "NAME_INVALID"
    assert check_name("a-b__c.d/e--f") == "a-b__c.d/e--f"
    assert parse_reference("v1.0_rc-2") == "v1.0_rc-2"
    assert parse_reference(str(D)) == D
    for bad, code in ((".v1", "MANIFEST_INVALID"), ("a" * 129, "MANIFEST_INVALID"),
                      ("sha256:abc", "DIGEST_INVALID"), ("md5:" + "0" * 32, "DIGEST_INVALID")):
        with pytest.raises(RegistryError) as caught:
            parse_reference(bad)
        assert caught.value.code.name == code, bad


def test_scopes() -> None:
    assert parse_scopes(["repository:a/b:pull,push registry:catalog:*",
                         "repository:host:5000/x:pull"]) == [
        Scope("repository", "a/b", frozenset({"pull", "push"})),
        Scope("registry", "catalog", frozenset({"*"})),
        Scope("repository", "host:5000/x", frozenset({"pull"})),
    ]
    assert str(Scope.repository("a", "push", "pull")) == "repository:a:pull,push"
    for bad in ("repository", "repository:a", ":a:pull"):
        with pytest.raises(InvalidArgument):
            Scope.parse(bad)


def test_policy() -> None:
    policy = Policy([Rule("alice", "alice/*", frozenset({"*"})),
                     Rule.parse("*:shared/*:pull"), Rule.parse("anonymous:pub:pull")])
    want = Scope.repository("alice/x", "pull", "push", "delete")
    assert policy.granted("alice", want) == ACTIONS
    assert policy.granted("bob", want) == frozenset()
    assert policy.granted("bob", Scope.repository("shared/x", "pull", "push")) == {"pull"}
    assert policy.granted(None, Scope.repository("shared/x", "pull")) == frozenset()
    assert policy.granted(None, Scope.repository("pub", "pull")) == {"pull"}
    assert policy.granted("bob", Scope.repository("pub", "pull")) == {"pull"}
    assert Policy([]).granted(None, want) == want.actions
    with pytest.raises(InvalidArgument):
        Rule.parse("alice:x:fly")


def test_tokens() -> None:
    now = [1000.0]
    authority = TokenAuthority(b"s" * 32, "iss", "svc", ttl=300, clock=lambda: now[0])
    scope = Scope.repository("a", "pull")
    token = authority.issue("alice", [scope]).token
    grant = authority.verify(token)
    assert (grant.account, grant.scopes, grant.allows(scope)) == ("alice", (scope,), True)
    assert not grant.allows(Scope.repository("a", "push"))
    header, claims, signature = token.split(".")
    for forged in (f"{header}.{claims}.{signature[:-2]}AA", f"{header}.{claims}", "x.y.z"):
        with pytest.raises(Unauthorized):
            authority.verify(forged)
    with pytest.raises(Unauthorized, match="another service"):
        TokenAuthority(b"s" * 32, "iss", "other", clock=lambda: now[0]).verify(token)
    now[0] += 1000
    with pytest.raises(Unauthorized, match="expired"):
        authority.verify(token)


def test_token_key_is_created_once(tmp_path: Path) -> None:
    key = load_or_create_key(tmp_path / "k" / "token.key")
    assert len(key) == 32 and load_or_create_key(tmp_path / "k" / "token.key") == key
    assert (tmp_path / "k" / "token.key").stat().st_mode & 0o777 == 0o600
    assert [p.name for p in (tmp_path / "k").iterdir()] == ["token.key"]


def test_htpasswd(tmp_path: Path) -> None:
    pytest.importorskip("bcrypt")
    from dockyard.registry.htpasswd import Htpasswd, hash_password

    path = tmp_path / "htpasswd"
    hashed = hash_password("secret", rounds=4)
    assert hashed.startswith("$2y$04$")
    path.write_text(f"# users\n\nalice:{hashed}\nplain:{{SHA}}abc\nbroken\n")
    users = Htpasswd(path)
    assert [users.verify("alice", "secret"), users.verify("alice", "secret"),
            users.verify("alice", "wrong"), users.verify("plain", "abc"),
            users.verify("nobody", "secret")] == [True, True, False, False, False]
    path.write_text(f"alice:{hash_password('changed', rounds=4)}\n")
    assert [users.verify("alice", "secret"), users.verify("alice", "changed")] == [False, True]


def test_config_file_and_flags(tmp_path: Path) -> None:
    (tmp_path / "conf.toml").write_text("""
root = "data"
addr = "0.0.0.0:5443"
delete = true
max_upload_size = "1GiB"
[tls]
cert = "c.pem"
key = "k.pem"
[auth]
mode = "token"
htpasswd = "users"
[[auth.access]]
account = "ci"
repository = "ci/*"
actions = ["pull", "push"]
""")
    data = load_file(tmp_path / "conf.toml")
    config = build(data)
    assert config == Config(
        root=tmp_path / "data", host="0.0.0.0", port=5443, delete_enabled=True,
        max_upload_size=1 << 30, tls_cert=tmp_path / "c.pem", tls_key=tmp_path / "k.pem",
        auth=AuthConfig(mode="token", htpasswd=tmp_path / "users",
                        access=(Rule("ci", "ci/*", frozenset({"pull", "push"})),)))
    (tmp_path / "conf.json").write_text(json.dumps({"root": "/r", "auth": {"htpasswd": "/h"}}))
    basic = build(load_file(tmp_path / "conf.json"))
    assert (basic.auth.mode, basic.auth.access) == ("basic", (Rule("*", "*", ACTIONS),))
    assert build({"root": "/r"}).auth == AuthConfig()


def test_config_errors(tmp_path: Path) -> None:
    for data, text in (({}, "root not set"), ({"root": "/r", "colour": 1}, "colour"),
                       ({"root": "/r", "tls": {"cert": "c"}}, "both"),
                       ({"root": "/r", "auth": {"mode": "basic"}}, "htpasswd"),
                       ({"root": "/r", "auth": {"mode": "ldap"}}, "ldap"),
                       ({"root": "/r", "read_only": "yes"}, "read_only")):
        with pytest.raises(InvalidArgument, match=text):
            build(data)
    (tmp_path / "bad.toml").write_text("root = ")
    with pytest.raises(InvalidArgument, match="invalid config file"):
        load_file(tmp_path / "bad.toml")


def test_sizes_and_addresses() -> None:
    assert [parse_size(v) for v in (10, "10", "2KiB", "3M", "1GiB", "5 MB", "7b")] == [
        10, 10, 2048, 3_000_000, 1 << 30, 5_000_000, 7]
    assert [parse_addr(a) for a in ("127.0.0.1:5000", ":80", "[::1]:443")] == [
        ("127.0.0.1", 5000), ("0.0.0.0", 80), ("::1", 443)]
    for bad in ("5000", "host:port", "h:70000"):
        with pytest.raises(InvalidArgument):
            parse_addr(bad)
    with pytest.raises(InvalidArgument):
        parse_size("lots")
