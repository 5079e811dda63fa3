"""Manifests, tags, the catalog and referrers through the application."""

from __future__ import annotations

import json
from typing import Any

from dockyard.oci import mediatypes as mt
from dockyard.oci.digest import Digest
from dockyard.registry.context import Options

from .conftest import Api, descriptor, image


def test_push_and_pull_an_oci_manifest_by_tag_and_digest(api: Api) -> None:
    img = image("a")
    reply = api.push_image("lib/app", img, "v1")
    assert (reply.status, reply.headers["Location"], reply.headers["Docker-Content-Digest"]) == (
        201, f"/v2/lib/app/manifests/{img.digest}", str(img.digest))
    for ref in ("v1", str(img.digest)):
        got = api("GET", f"/v2/lib/app/manifests/{ref}")
        assert (got.status, got.body, got.headers["Content-Type"],
                got.headers["Docker-Content-Digest"]) == (200, img.manifest, mt.OCI_MANIFEST,
                                                          str(img.digest))
        head = api("HEAD", f"/v2/lib/app/manifests/{ref}")
        assert (head.status, head.body) == (200, b"")


def test_docker_manifest_and_manifest_list(api: Api) -> None:
    img = image("d", docker=True)
    assert api.push_image("lib/app", img, None).status == 201
    listing = json.dumps({"schemaVersion": 2, "mediaType": mt.DOCKER_MANIFEST_LIST,
                          "manifests": [descriptor(mt.DOCKER_MANIFEST, img.manifest,
                                                   platform={"architecture": "amd64",
                                                             "os": "linux"})]}).encode()
    reply = api("PUT", "/v2/lib/app/manifests/multi", listing,
                {"Content-Type": mt.DOCKER_MANIFEST_LIST})
    assert reply.status == 201
    got = api("GET", "/v2/lib/app/manifests/multi")
    assert (got.body, got.headers["Content-Type"]) == (listing, mt.DOCKER_MANIFEST_LIST)
    assert api("GET", f"/v2/lib/app/manifests/{img.digest}").headers["Content-Type"] == \
        mt.DOCKER_MANIFEST


def test_oci_index_needs_its_manifests(api: Api) -> None:
    img = image("i")
    index = json.dumps({"schemaVersion": 2, "mediaType": mt.OCI_INDEX,
                        "manifests": [descriptor(mt.OCI_MANIFEST, img.manifest)]}).encode()
    reply = api("PUT", "/v2/lib/app/manifests/idx", index, {"Content-Type": mt.OCI_INDEX})
    assert (reply.status, reply.code) == (400, "MANIFEST_BLOB_UNKNOWN")
    api.push_image("lib/app", img, None)
    assert api("PUT", "/v2/lib/app/manifests/idx", index,
               {"Content-Type": mt.OCI_INDEX}).status == 201


def test_manifest_naming_missing_blobs_stores_and_tags_nothing(api: Api) -> None:
    img = image("m", layers=2)
    api.push_blob("lib/app", img.config)
    api.push_blob("lib/app", img.layers[0])
    reply = api("PUT", "/v2/lib/app/manifests/v1", img.manifest,
                {"Content-Type": mt.OCI_MANIFEST})
    assert (reply.status, reply.code, reply.json()["errors"][0]["detail"]) == (
        400, "MANIFEST_BLOB_UNKNOWN", {"digests": [str(Digest.of(img.layers[1]))]})
    assert api("GET", "/v2/lib/app/manifests/v1").code == "MANIFEST_UNKNOWN"
    assert not api.store.content.exists(img.digest)
    assert api("GET", "/v2/lib/app/tags/list").json() == {"name": "lib/app", "tags": []}


def test_blobs_of_another_repository_do_not_count(api: Api) -> None:
    img = image("o")
    api.push_blob("other", img.config)
    api.push_blob("other", img.layers[0])
    reply = api("PUT", "/v2/lib/app/manifests/v1", img.manifest,
                {"Content-Type": mt.OCI_MANIFEST})
    assert reply.code == "MANIFEST_BLOB_UNKNOWN"


def test_unknown_media_types_are_manifest_invalid(api: Api) -> None:
    img = image("u")
    api.push_image("lib/app", img, None)
    for content_type in ("application/vnd.example.thing+json",
                         mt.DOCKER_SCHEMA1_SIGNED_MANIFEST, mt.OCI_INDEX):
        reply = api("PUT", "/v2/lib/app/manifests/v1", img.manifest,
                    {"Content-Type": content_type})
        assert (reply.status, reply.code) == (400, "MANIFEST_INVALID"), content_type
    odd = json.dumps({**json.loads(img.manifest), "mediaType": "application/x-odd"}).encode()
    assert api("PUT", "/v2/lib/app/manifests/v1", odd).code == "MANIFEST_INVALID"
    assert api("PUT", "/v2/lib/app/manifests/v1", b"{not json").code == "MANIFEST_INVALID"
    assert api("GET", "/v2/lib/app/tags/list").json()["tags"] == []


def test_content_type_parameters_and_generic_types_are_accepted(api: Api) -> None:
    img = image("p")
    api.push_blob("lib/app", img.config)
    api.push_blob("lib/app", img.layers[0])
    reply = api("PUT", "/v2/lib/app/manifests/v1", img.manifest,
                {"Content-Type": f"{mt.OCI_MANIFEST}; charset=utf-8"})
    assert reply.status == 201
    assert api("PUT", "/v2/lib/app/manifests/v2", img.manifest,
               {"Content-Type": "application/json"}).status == 201


def test_put_by_digest_checks_the_digest(api: Api) -> None:
    img = image("g")
    api.push_image("lib/app", img, None)
    wrong = Digest.of(b"nope")
    reply = api("PUT", f"/v2/lib/app/manifests/{wrong}", img.manifest,
                {"Content-Type": mt.OCI_MANIFEST})
    assert (reply.status, reply.code) == (400, "DIGEST_INVALID")
    assert api("GET", f"/v2/lib/app/manifests/{wrong}").code == "MANIFEST_UNKNOWN"


def test_manifest_over_the_limit_is_413(make_api: Any) -> None:
    api = make_api(Options(max_manifest_size=100))
    img = image("big")
    reply = api.push_image("lib/app", img, "v1")
    assert (reply.status, reply.code) == (413, "SIZE_INVALID")


def test_malformed_names_and_references(api: Api) -> None:
    for url in ("/v2/Upper/tags/list", "/v2/a//b/tags/list", "/v2/-a/manifests/x",
                f"/v2/{'a' * 256}/tags/list", "/v2/a_/blobs/uploads/"):
        method = "POST" if url.endswith("uploads/") else "GET"
        reply = api(method, url)
        assert (reply.status, reply.code) == (400, "NAME_INVALID"), url
    reply = api("GET", "/v2/lib/app/manifests/.bad")
    assert (reply.status, reply.code) == (400, "MANIFEST_INVALID")
    assert api("GET", "/v2/lib/app/manifests/sha256:zz").code == "DIGEST_INVALID"


def test_delete_manifest_by_digest_and_by_tag(api: Api) -> None:
    img = image("del")
    api.push_image("lib/app", img, "v1")
    api("PUT", "/v2/lib/app/manifests/v2", img.manifest, {"Content-Type": mt.OCI_MANIFEST})
    assert api("DELETE", "/v2/lib/app/manifests/v2").status == 202
    assert api("GET", "/v2/lib/app/tags/list").json()["tags"] == ["v1"]
    assert api("DELETE", f"/v2/lib/app/manifests/{img.digest}").status == 202
    assert api("GET", "/v2/lib/app/manifests/v1").code == "MANIFEST_UNKNOWN"
    assert api("GET", f"/v2/lib/app/manifests/{img.digest}").code == "MANIFEST_UNKNOWN"
    assert api("DELETE", f"/v2/lib/app/manifests/{img.digest}").code == "MANIFEST_UNKNOWN"
    assert api("DELETE", "/v2/nothing/manifests/v1").code == "NAME_UNKNOWN"


def test_tags_pagination(api: Api) -> None:
    img = image("t")
    api.push_image("lib/app", img, None)
    for tag in ("b", "A", "c", "a", "B10"):
        api("PUT", f"/v2/lib/app/manifests/{tag}", img.manifest, {"Content-Type": mt.OCI_MANIFEST})
    assert api("GET", "/v2/lib/app/tags/list").json()["tags"] == ["A", "a", "b", "B10", "c"]
    first = api("GET", "/v2/lib/app/tags/list?n=2")
    assert (first.json()["tags"], first.headers["Link"]) == (
        ["A", "a"], '</v2/lib/app/tags/list?last=a&n=2>; rel="next"')
    second = api("GET", "/v2/lib/app/tags/list?n=2&last=a")
    assert second.json()["tags"] == ["b", "B10"]
    third = api("GET", "/v2/lib/app/tags/list?n=2&last=B10")
    assert (third.json()["tags"], "Link" in third.headers) == (["c"], False)
    zero = api("GET", "/v2/lib/app/tags/list?n=0")
    assert (zero.json()["tags"], "Link" in zero.headers) == ([], False)
    assert api("GET", "/v2/lib/app/tags/list?last=b").json()["tags"] == ["B10", "c"]
    assert api("GET", "/v2/lib/app/tags/list?n=-1").status == 400
    assert api("GET", "/v2/unknown/tags/list").code == "NAME_UNKNOWN"


def test_catalog_pagination(api: Api) -> None:
    for name in ("b", "a/x", "a", "c/d/e"):
        api.push_blob(name, b"blob")
    assert api("GET", "/v2/_catalog").json() == {"repositories": ["a", "a/x", "b", "c/d/e"]}
    page = api("GET", "/v2/_catalog?n=3")
    assert (page.json()["repositories"], page.headers["Link"]) == (
        ["a", "a/x", "b"], '</v2/_catalog?last=b&n=3>; rel="next"')
    assert api("GET", "/v2/_catalog?n=3&last=b").json()["repositories"] == ["c/d/e"]


def test_referrers(api: Api) -> None:
    subject = image("subject")
    api.push_image("lib/app", subject, "v1")
    subject_descriptor = descriptor(mt.OCI_MANIFEST, subject.manifest)
    sbom = image("sbom", artifactType="application/vnd.example.sbom",
                 subject=subject_descriptor, annotations={"k": "v"})
    sig = image("sig", subject=subject_descriptor)
    for art in (sbom, sig):
        reply = api.push_image("lib/app", art, None)
        assert (reply.status, reply.headers["OCI-Subject"]) == (201, str(subject.digest))
    listed = api("GET", f"/v2/lib/app/referrers/{subject.digest}")
    assert (listed.status, listed.headers["Content-Type"]) == (200, mt.OCI_INDEX)
    entries = {e["digest"]: e for e in listed.json()["manifests"]}
    assert entries == {
        str(sbom.digest): {"mediaType": mt.OCI_MANIFEST, "digest": str(sbom.digest),
                           "size": len(sbom.manifest), "annotations": {"k": "v"},
                           "artifactType": "application/vnd.example.sbom"},
        str(sig.digest): {"mediaType": mt.OCI_MANIFEST, "digest": str(sig.digest),
                          "size": len(sig.manifest), "artifactType": mt.OCI_CONFIG},
    }
    filtered = api("GET", f"/v2/lib/app/referrers/{subject.digest}"
                   "?artifactType=application/vnd.example.sbom")
    assert ([e["digest"] for e in filtered.json()["manifests"]],
            filtered.headers["OCI-Filters-Applied"]) == ([str(sbom.digest)], "artifactType")
    api("DELETE", f"/v2/lib/app/manifests/{sig.digest}")
    after = api("GET", f"/v2/lib/app/referrers/{subject.digest}").json()["manifests"]
    assert [e["digest"] for e in after] == [str(sbom.digest)]


def test_referrers_of_nothing_is_an_empty_index(api: Api) -> None:
    digest = Digest.of(b"absent")
    reply = api("GET", f"/v2/nowhere/referrers/{digest}")
    assert (reply.status, reply.json()) == (200, {"schemaVersion": 2, "mediaType": mt.OCI_INDEX,
                                                  "manifests": []})
    assert api("GET", "/v2/nowhere/referrers/sha256:bad").status == 400


def test_subject_may_be_pushed_after_its_referrer(api: Api) -> None:
    subject = image("late")
    ref = image("early", subject=descriptor(mt.OCI_MANIFEST, subject.manifest))
    assert api.push_image("lib/app", ref, None).status == 201


def test_base_unknown_paths_and_methods(api: Api) -> None:
    base = api("GET", "/v2/")
    assert (base.status, base.json(), base.headers["Docker-Distribution-API-Version"]) == (
        200, {}, "registry/2.0")
    assert api("GET", "/v3/").status == 404
    reply = api("POST", "/v2/lib/app/manifests/v1")
    assert (reply.status, reply.code, reply.headers["Allow"]) == (
        405, "UNSUPPORTED", "DELETE, GET, HEAD, PUT")
    assert api("GET", "/token").status == 404
