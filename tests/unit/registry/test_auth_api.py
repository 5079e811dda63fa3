"""Access control through the application: basic auth, bearer tokens, per-repository rules."""

from __future__ import annotations

import base64
from pathlib import Path
from typing import Any

import pytest

from dockyard.oci.digest import Digest
from dockyard.registry.access import ACTIONS, Policy, Rule, Scope
from dockyard.registry.guard import BasicGuard, TokenGuard
from dockyard.registry.htpasswd import Htpasswd, hash_password
from dockyard.registry.tokens import TokenAuthority

from .conftest import Api, image

pytest.importorskip("bcrypt")

RULES = (
    Rule("alice", "*", ACTIONS),
    Rule("bob", "bob/*", frozenset({"pull", "push"})),
    Rule("*", "shared/*", frozenset({"pull"})),
    Rule("anonymous", "public/*", frozenset({"pull"})),
)


def basic(user: str, password: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()}


@pytest.fixture
def htpasswd(tmp_path: Path) -> Htpasswd:
    path = tmp_path / "htpasswd"
    path.write_text(f"alice:{hash_password('wonder', rounds=4)}\n"
                    f"bob:{hash_password('builder', rounds=4)}\n")
    return Htpasswd(path)


@pytest.fixture
def seeded(make_api: Any) -> Api:
    api = make_api()
    for name in ("public/app", "shared/app", "bob/app", "alice/app"):
        api.push_image(name, image(name), "v1")
    return api  # type: ignore[no-any-return]


def test_basic_auth(make_api: Any, seeded: Api, htpasswd: Htpasswd) -> None:
    api = make_api(guard=BasicGuard(htpasswd, Policy(RULES), "test"), root=seeded.store.root)
    challenge = {"WWW-Authenticate": 'Basic realm="test"'}
    base = api("GET", "/v2/")
    assert (base.status, base.code, base.headers["WWW-Authenticate"]) == (
        401, "UNAUTHORIZED", challenge["WWW-Authenticate"])
    assert api("GET", "/v2/", headers=basic("alice", "wonder")).status == 200
    wrong = api("GET", "/v2/", headers=basic("alice", "nope"))
    assert (wrong.status, wrong.code) == (401, "UNAUTHORIZED")
    assert api("GET", "/v2/", headers=basic("mallory", "x")).status == 401
    assert api("GET", "/v2/public/app/manifests/v1").status == 200
    anon = api("GET", "/v2/bob/app/manifests/v1")
    assert (anon.status, anon.code, "WWW-Authenticate" in anon.headers) == (
        401, "UNAUTHORIZED", True)
    bob = basic("bob", "builder")
    assert api("GET", "/v2/bob/app/manifests/v1", headers=bob).status == 200
    assert api("GET", "/v2/shared/app/manifests/v1", headers=bob).status == 200
    denied = api("GET", "/v2/alice/app/manifests/v1", headers=bob)
    assert (denied.status, denied.code) == (403, "DENIED")
    assert api("POST", "/v2/shared/app/blobs/uploads/", headers=bob).code == "DENIED"
    assert api("POST", "/v2/bob/app/blobs/uploads/", headers=bob).status == 202
    assert api("GET", "/v2/_catalog", headers=bob).json() == {
        "repositories": ["bob/app", "public/app", "shared/app"]}
    assert api("GET", "/v2/_catalog", headers=basic("alice", "wonder")).json() == {
        "repositories": ["alice/app", "bob/app", "public/app", "shared/app"]}


def test_mount_needs_pull_on_the_source(make_api: Any, seeded: Api, htpasswd: Htpasswd) -> None:
    api = make_api(guard=BasicGuard(htpasswd, Policy(RULES)), root=seeded.store.root)
    layer = image("alice/app").layers[0]
    digest = Digest.of(layer)
    reply = api("POST", f"/v2/bob/new/blobs/uploads/?mount={digest}&from=alice/app",
                headers=basic("bob", "builder"))
    assert reply.status == 202  # not mounted: bob may not pull alice/app
    reply = api("POST", f"/v2/bob/new/blobs/uploads/?mount={digest}&from=alice/app",
                headers=basic("alice", "wonder"))
    assert reply.status == 201


def token_api(make_api: Any, root: Path, htpasswd: Htpasswd) -> tuple[Api, TokenAuthority]:
    authority = TokenAuthority(b"k" * 32, "issuer", "registry.test", ttl=60)
    guard = TokenGuard(authority, Policy(RULES), htpasswd)
    return make_api(guard=guard, root=root), authority


def fetch_token(api: Api, scope: str | None, creds: dict[str, str] | None = None) -> str:
    url = "/token?service=registry.test" + (f"&scope={scope}" if scope else "")
    reply = api("GET", url, headers=creds)
    assert reply.status == 200, reply
    body = reply.json()
    assert body["token"] == body["access_token"] and body["expires_in"] == 60
    return str(body["token"])


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}", "Host": "reg.example:5000"}


def test_token_flow(make_api: Any, seeded: Api, htpasswd: Htpasswd) -> None:
    api, authority = token_api(make_api, seeded.store.root, htpasswd)
    first = api("GET", "/v2/bob/app/manifests/v1", headers={"Host": "reg.example:5000"})
    assert (first.status, first.code, first.headers["WWW-Authenticate"]) == (
        401, "UNAUTHORIZED", 'Bearer realm="http://reg.example:5000/token",'
        'service="registry.test",scope="repository:bob/app:pull"')
    bob = basic("bob", "builder")
    token = fetch_token(api, "repository:bob/app:pull,push", bob)
    assert authority.verify(token).scopes[0].actions == frozenset({"pull", "push"})
    assert api("GET", "/v2/bob/app/manifests/v1", headers=bearer(token)).status == 200
    assert api("GET", "/v2/", headers=bearer(token)).status == 200
    other = api("GET", "/v2/shared/app/manifests/v1", headers=bearer(token))
    assert (other.status, other.code) == (401, "DENIED")
    assert 'error="insufficient_scope"' in other.headers["WWW-Authenticate"]


def test_token_grants_only_what_the_policy_allows(make_api: Any, seeded: Api,
                                                  htpasswd: Htpasswd) -> None:
    api, authority = token_api(make_api, seeded.store.root, htpasswd)
    token = fetch_token(api, "repository:shared/app:pull,push", basic("bob", "builder"))
    assert authority.verify(token).scopes[0].actions == frozenset({"pull"})
    assert api("GET", "/v2/shared/app/manifests/v1", headers=bearer(token)).status == 200
    push = api("POST", "/v2/shared/app/blobs/uploads/", headers=bearer(token))
    assert (push.status, push.code) == (401, "DENIED")
    anonymous = fetch_token(api, "repository:public/app:pull")
    assert authority.verify(anonymous).account is None
    assert api("GET", "/v2/public/app/manifests/v1", headers=bearer(anonymous)).status == 200
    nothing = fetch_token(api, "repository:bob/app:pull")
    assert api("GET", "/v2/bob/app/manifests/v1", headers=bearer(nothing)).code == "DENIED"


def test_token_endpoint_refuses_wrong_credentials(make_api: Any, seeded: Api,
                                                  htpasswd: Htpasswd) -> None:
    api, _ = token_api(make_api, seeded.store.root, htpasswd)
    reply = api("GET", "/token?service=registry.test&scope=repository:bob/app:pull",
                headers=basic("bob", "wrong"))
    assert (reply.status, reply.code) == (401, "UNAUTHORIZED")
    assert api("GET", "/token?scope=nonsense").status == 400


def test_forged_and_foreign_tokens(make_api: Any, seeded: Api, htpasswd: Htpasswd) -> None:
    api, _ = token_api(make_api, seeded.store.root, htpasswd)
    foreign = TokenAuthority(b"z" * 32, "issuer", "registry.test")
    forged = foreign.issue("alice", [Scope.repository("alice/app", "pull")]).token
    reply = api("GET", "/v2/alice/app/manifests/v1", headers=bearer(forged))
    assert (reply.status, reply.code) == (401, "UNAUTHORIZED")
    assert 'error="invalid_token"' in reply.headers["WWW-Authenticate"]
    assert api("GET", "/v2/", headers=bearer("not.a.token")).status == 401
    assert api("GET", "/v2/", headers=basic("alice", "wonder")).status == 401


def test_oauth_password_grant(make_api: Any, seeded: Api, htpasswd: Htpasswd) -> None:
    api, authority = token_api(make_api, seeded.store.root, htpasswd)
    form = b"grant_type=password&username=alice&password=wonder&service=registry.test" \
        b"&scope=repository%3Aalice%2Fapp%3Apull&client_id=test"
    reply = api("POST", "/token", form, {"Content-Type": "application/x-www-form-urlencoded"})
    assert reply.status == 200
    grant = authority.verify(reply.json()["access_token"])
    assert (grant.account, [str(s) for s in grant.scopes]) == ("alice",
                                                                ["repository:alice/app:pull"])
    bad = api("POST", "/token", form.replace(b"wonder", b"wrong"))
    assert (bad.status, bad.code) == (401, "UNAUTHORIZED")
    refresh = api("POST", "/token", b"grant_type=refresh_token&refresh_token=x")
    assert refresh.status == 400


def test_catalog_with_a_token(make_api: Any, seeded: Api, htpasswd: Htpasswd) -> None:
    api, _ = token_api(make_api, seeded.store.root, htpasswd)
    token = fetch_token(api, "registry:catalog:*", basic("bob", "builder"))
    assert api("GET", "/v2/_catalog", headers=bearer(token)).json() == {
        "repositories": ["bob/app", "public/app", "shared/app"]}
    pull_only = fetch_token(api, "repository:bob/app:pull", basic("bob", "builder"))
    assert api("GET", "/v2/_catalog", headers=bearer(pull_only)).code == "DENIED"
