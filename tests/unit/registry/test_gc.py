"""Garbage collection: what it keeps, what it removes, and its lock against writers."""

from __future__ import annotations

import json
import os
import threading
import time
from typing import Any

from dockyard.oci import mediatypes as mt
from dockyard.oci.digest import Digest
from dockyard.registry.gc import collect

from .conftest import Api, descriptor, image

LATER = 10_000.0  # seconds past now: beyond any grace period used here


def later() -> float:
    return time.time() + LATER


def stored(api: Api) -> set[Digest]:
    return {info.digest for info in api.store.content.walk()}


def test_keeps_what_manifests_reference_and_removes_the_rest(api: Api) -> None:
    img = image("kept")
    api.push_image("lib/app", img, "v1")
    orphan = api.push_blob("lib/app", b"uploaded but never referenced")
    report = collect(api.store, grace=3600, clock=later)
    assert (report.blobs, report.bytes_freed, report.links) == ((orphan,), 29, 1)
    assert stored(api) == {img.digest, Digest.of(img.config), Digest.of(img.layers[0])}
    assert api("GET", f"/v2/lib/app/blobs/{orphan}").code == "BLOB_UNKNOWN"
    assert api("GET", "/v2/lib/app/manifests/v1").body == img.manifest
    for layer in img.layers:
        assert api("GET", f"/v2/lib/app/blobs/{Digest.of(layer)}").body == layer


def test_grace_period_keeps_fresh_uploads(api: Api) -> None:
    orphan = api.push_blob("lib/app", b"pushed a moment ago")
    assert collect(api.store, grace=3600).blobs == ()
    assert orphan in stored(api)


def test_a_head_renews_the_grace_period(api: Api) -> None:
    blob = api.push_blob("lib/app", b"old blob")
    link = api.store.repository_dir("lib/app") / "_layers" / "sha256" / blob.encoded
    old = time.time() - 2 * LATER
    os.utime(link, (old, old))
    os.utime(api.store.content.path(blob), (old, old))
    assert api("HEAD", f"/v2/lib/app/blobs/{blob}").status == 200
    assert collect(api.store, grace=3600).blobs == ()


def test_dry_run_removes_nothing(api: Api) -> None:
    orphan = api.push_blob("lib/app", b"orphan")
    report = collect(api.store, grace=0, dry_run=True, clock=later)
    assert report.blobs == (orphan,)
    assert orphan in stored(api)


def test_deleted_manifest_frees_its_blobs(api: Api) -> None:
    img = image("gone")
    keep = image("stays")
    api.push_image("lib/app", img, "v1")
    api.push_image("other", keep, "v1")
    api("DELETE", f"/v2/lib/app/manifests/{img.digest}")
    collect(api.store, grace=3600, clock=later)
    assert stored(api) == {keep.digest, Digest.of(keep.config), Digest.of(keep.layers[0])}


def test_shared_blob_stays_while_any_repository_references_it(api: Api) -> None:
    img = image("shared")
    api.push_image("one", img, "v1")
    api.push_image("two", img, "v1")
    api("DELETE", f"/v2/one/manifests/{img.digest}")
    collect(api.store, grace=3600, clock=later)
    assert Digest.of(img.layers[0]) in stored(api)
    assert api("GET", f"/v2/two/blobs/{Digest.of(img.layers[0])}").status == 200


def test_delete_untagged_keeps_index_children_and_referrers(api: Api) -> None:
    child = image("child")
    api.push_image("lib/app", child, None)
    index = json.dumps({"schemaVersion": 2, "mediaType": mt.OCI_INDEX,
                        "manifests": [descriptor(mt.OCI_MANIFEST, child.manifest)]}).encode()
    api("PUT", "/v2/lib/app/manifests/v1", index, {"Content-Type": mt.OCI_INDEX})
    sbom = image("sbom", subject=descriptor(mt.OCI_INDEX, index))
    api.push_image("lib/app", sbom, None)
    loose = image("loose")
    api.push_image("lib/app", loose, None)
    report = collect(api.store, grace=3600, delete_untagged=True, clock=later)
    assert report.manifests == (f"lib/app@{loose.digest}",)
    assert stored(api) >= {Digest.of(index), child.digest, sbom.digest,
                           Digest.of(child.layers[0]), Digest.of(sbom.layers[0])}
    assert Digest.of(loose.layers[0]) not in stored(api)
    assert api("GET", f"/v2/lib/app/manifests/{loose.digest}").code == "MANIFEST_UNKNOWN"


def test_stale_upload_sessions_are_pruned(api: Api) -> None:
    location = api("POST", "/v2/lib/app/blobs/uploads/").headers["Location"]
    api("PATCH", location, b"partial")
    api.close()  # the server would close idle writers; a held one is never pruned
    report = collect(api.store, upload_ttl=60, clock=later)
    assert len(report.uploads) == 1 and api.store.content.ingests() == []


def test_collect_waits_for_writers(api: Any) -> None:
    release = threading.Event()
    holding = threading.Event()

    def writer() -> None:
        with api.store.writing():
            holding.set()
            release.wait(5)

    thread = threading.Thread(target=writer)
    thread.start()
    holding.wait(5)
    started = time.monotonic()
    timer = threading.Timer(0.3, release.set)
    timer.start()
    try:
        collect(api.store)
    finally:
        release.set()
        thread.join()
        timer.cancel()
    assert time.monotonic() - started >= 0.25
