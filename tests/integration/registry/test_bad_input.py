"""The issue's bad inputs against a running server: each gets the spec's status and code, a
message, and leaves nothing stored or tagged (no blob file, no link, no tag, no ingest)."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

from dockyard.oci import mediatypes as mt
from dockyard.oci.digest import Digest

from .conftest import Registry, Reply, wait_for

BLOB = b"layer bytes " * 1000
CONFIG = b'{"architecture":"amd64","os":"linux"}'


def manifest(layers: list[bytes], media_type: str = mt.OCI_MANIFEST) -> bytes:
    return json.dumps({
        "schemaVersion": 2, "mediaType": media_type,
        "config": {"mediaType": mt.OCI_CONFIG, "digest": str(Digest.of(CONFIG)),
                   "size": len(CONFIG)},
        "layers": [{"mediaType": mt.OCI_LAYER_GZIP, "digest": str(Digest.of(b)),
                    "size": len(b)} for b in layers],
    }).encode()


def files(root: Path) -> set[str]:
    """Every file under the root except the gc lock and token key: the stored state."""
    found = set()
    for directory, _, names in os.walk(root):
        for name in names:
            path = Path(directory, name).relative_to(root)
            if str(path) not in ("gc.lock", "token.key"):
                found.add(str(path))
    return found


def check(reply: Reply, status: int, code: str) -> None:
    assert (reply.status, reply.code) == (status, code), reply
    assert reply.json()["errors"][0]["message"]


@pytest.fixture
def seeded(registry: Registry) -> tuple[Registry, set[str]]:
    registry.push_blob("bad/app", CONFIG)
    return registry, files(registry.root)


def unchanged(registry: Registry, before: set[str]) -> bool:
    return wait_for(lambda: files(registry.root) == before)


def start(registry: Registry) -> str:
    return registry.request("POST", "/v2/bad/app/blobs/uploads/").headers["Location"]


def test_wrong_digest(seeded: tuple[Registry, set[str]]) -> None:
    registry, before = seeded
    wrong = Digest.of(b"other")
    check(registry.request("POST", f"/v2/bad/app/blobs/uploads/?digest={wrong}", BLOB),
          400, "DIGEST_INVALID")
    location = start(registry)
    registry.request("PATCH", location, BLOB)
    check(registry.request("PUT", f"{location}?digest={wrong}"), 400, "DIGEST_INVALID")
    assert unchanged(registry, before)


def test_truncated_upload(seeded: tuple[Registry, set[str]]) -> None:
    registry, before = seeded
    location = start(registry)
    registry.request("PATCH", location, BLOB[:5000])
    check(registry.request("PUT", f"{location}?digest={Digest.of(BLOB)}"), 400,
          "DIGEST_INVALID")
    assert unchanged(registry, before)


def test_out_of_order_chunk(seeded: tuple[Registry, set[str]]) -> None:
    registry, before = seeded
    location = start(registry)
    reply = registry.request("PATCH", location, BLOB[100:200], {"Content-Range": "100-199"})
    check(reply, 416, "BLOB_UPLOAD_INVALID")
    assert reply.headers["Range"] == "0-0"
    check(registry.request("PUT", f"{location}?digest={Digest.of(BLOB)}"), 400,
          "DIGEST_INVALID")
    assert unchanged(registry, before)


def test_unknown_media_type(seeded: tuple[Registry, set[str]]) -> None:
    registry, before = seeded
    for content_type in ("application/vnd.example.unknown+json", mt.DOCKER_SCHEMA1_MANIFEST):
        reply = registry.request("PUT", "/v2/bad/app/manifests/v1", manifest([]),
                                 {"Content-Type": content_type})
        check(reply, 400, "MANIFEST_INVALID")
    body = manifest([], media_type="application/vnd.example.unknown+json")
    check(registry.request("PUT", "/v2/bad/app/manifests/v1", body), 400, "MANIFEST_INVALID")
    assert unchanged(registry, before)


def test_manifest_naming_missing_blobs(seeded: tuple[Registry, set[str]]) -> None:
    registry, before = seeded
    reply = registry.request("PUT", "/v2/bad/app/manifests/v1", manifest([BLOB]),
                             {"Content-Type": mt.OCI_MANIFEST})
    check(reply, 400, "MANIFEST_BLOB_UNKNOWN")
    assert reply.json()["errors"][0]["detail"] == {"digests": [str(Digest.of(BLOB))]}
    check(registry.request("GET", "/v2/bad/app/manifests/v1"), 404, "MANIFEST_UNKNOWN")
    assert unchanged(registry, before)


def test_upload_over_the_limit(registry_factory: Any) -> None:
    registry = registry_factory("--max-upload-size", "4KiB", "--max-manifest-size", "1KiB")
    registry.push_blob("bad/app", CONFIG)
    before = files(registry.root)
    check(registry.request("POST", f"/v2/bad/app/blobs/uploads/?digest={Digest.of(BLOB)}",
                           BLOB), 413, "SIZE_INVALID")
    location = start(registry)
    check(registry.request("PATCH", location, BLOB), 413, "SIZE_INVALID")
    check(registry.request("GET", location), 404, "BLOB_UPLOAD_UNKNOWN")
    big = manifest([CONFIG] * 20)
    check(registry.request("PUT", "/v2/bad/app/manifests/v1", big,
                           {"Content-Type": mt.OCI_MANIFEST}), 413, "SIZE_INVALID")
    assert unchanged(registry, before)


def test_malformed_names_and_references(seeded: tuple[Registry, set[str]]) -> None:
    registry, before = seeded
    for method, path in (("POST", "/v2/Bad/App/blobs/uploads/"),
                         ("GET", "/v2/bad//app/tags/list"),
                         ("PUT", "/v2/bad/app-/manifests/v1")):
        check(registry.request(method, path, b"{}"), 400, "NAME_INVALID")
    check(registry.request("PUT", "/v2/bad/app/manifests/-v1", manifest([])), 400,
          "MANIFEST_INVALID")
    check(registry.request("GET", "/v2/bad/app/blobs/sha256:123"), 400, "DIGEST_INVALID")
    assert unchanged(registry, before)


def test_wrong_credentials(registry_factory: Any, htpasswd_file: Path) -> None:
    registry = registry_factory("--htpasswd", str(htpasswd_file))
    before = files(registry.root)
    alice = ("alice", "wonderland")
    reply = registry.request("POST", f"/v2/bad/app/blobs/uploads/?digest={Digest.of(BLOB)}",
                             BLOB, auth=("alice", "wrong"))
    check(reply, 401, "UNAUTHORIZED")
    assert reply.headers["WWW-Authenticate"] == 'Basic realm="dockyard-registry"'
    check(registry.request("GET", "/v2/", auth=("mallory", "x")), 401, "UNAUTHORIZED")
    check(registry.request("GET", "/v2/"), 401, "UNAUTHORIZED")
    assert registry.request("GET", "/v2/", auth=alice).status == 200
    assert unchanged(registry, before)
