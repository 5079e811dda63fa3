"""``dockyard registry gc`` while the server runs and clients push."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from dockyard.oci import mediatypes as mt
from dockyard.oci.digest import Digest
from dockyard.registry.gc import collect
from dockyard.registry.storage import RegistryStore

from .conftest import SRC, Registry


def gc(root: Path, *args: str) -> str:
    result = subprocess.run(
        [sys.executable, "-m", "dockyard.registry", "--log-level", "warning", "gc",
         "--root", str(root), *args],
        capture_output=True, text=True, timeout=120, check=False,
        env={**os.environ, "PYTHONPATH": str(SRC)},
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


def image_blobs(seed: str) -> tuple[bytes, bytes]:
    config = json.dumps({"architecture": "amd64", "os": "linux", "seed": seed}).encode()
    return config, f"layer {seed}".encode() * 100


def put_manifest(registry: Registry, name: str, tag: str, seed: str) -> int:
    config, layer = image_blobs(seed)
    body = json.dumps({
        "schemaVersion": 2, "mediaType": mt.OCI_MANIFEST,
        "config": {"mediaType": mt.OCI_CONFIG, "digest": str(Digest.of(config)),
                   "size": len(config)},
        "layers": [{"mediaType": mt.OCI_LAYER_GZIP, "digest": str(Digest.of(layer)),
                    "size": len(layer)}],
    }).encode()
    reply = registry.request("PUT", f"/v2/{name}/manifests/{tag}", body,
                             {"Content-Type": mt.OCI_MANIFEST})
    assert reply.status in (201, 400), reply
    if reply.status == 400:
        assert reply.code == "MANIFEST_BLOB_UNKNOWN"  # gc took the blobs first
    return reply.status


def push_image(registry: Registry, name: str, tag: str, seed: str) -> int:
    for blob in image_blobs(seed):
        registry.push_blob(name, blob)
    return put_manifest(registry, name, tag, seed)


def age(root: Path, seconds: float) -> None:
    """Make every blob and link look ``seconds`` old, out of gc's grace period."""
    then = time.time() - seconds
    for directory, _, names in os.walk(root):
        if "ingest" in directory:
            continue
        for name in names:
            os.utime(Path(directory, name), (then, then))


def test_gc_removes_only_unreferenced_blobs(registry: Registry) -> None:
    push_image(registry, "gc/app", "v1", "kept")
    orphan = registry.push_blob("gc/app", b"never referenced")
    assert gc(registry.root, "--dry-run", "--grace", "0").startswith(
        f"would remove blob {orphan}\n")
    out = gc(registry.root, "--grace", "0")
    assert out.splitlines() == [f"removed blob {orphan}",
                                "removed 1 blobs (16 bytes), 1 links, 0 manifests, 0 uploads; "
                                "kept 3 blobs"]
    assert registry.request("GET", f"/v2/gc/app/blobs/{orphan}").code == "BLOB_UNKNOWN"
    manifest = registry.request("GET", "/v2/gc/app/manifests/v1")
    assert manifest.status == 200
    for entry in [manifest.json()["config"], *manifest.json()["layers"]]:
        assert registry.request("GET", f"/v2/gc/app/blobs/{entry['digest']}").status == 200
    assert gc(registry.root).endswith("kept 3 blobs\n")


@pytest.mark.slow
def test_gc_racing_manifest_pushes_never_breaks_a_stored_manifest(registry: Registry) -> None:
    # Blobs uploaded long ago and referenced by nothing: gc may take them, unless a manifest
    # naming them is recorded first. Each round starts a gc and a manifest push at the same
    # instant; whichever wins, no stored manifest may lack a blob.
    store = RegistryStore(registry.root)
    statuses = []
    for i in range(30):
        for blob in image_blobs(f"seed{i}"):
            registry.push_blob("race/app", blob)
        age(registry.root, 7200)
        barrier = threading.Barrier(2)
        delay = (i % 10) * 0.001  # spread gc's start over the push's few milliseconds
        errors: list[BaseException] = []
        thread = threading.Thread(target=collect_after, args=(store, barrier, delay, errors))
        thread.start()
        try:
            barrier.wait(5)
            statuses.append(put_manifest(registry, "race/app", f"t{i}", f"seed{i}"))
        finally:
            thread.join()
        assert errors == []
        assert_every_manifest_whole(store)
    assert len(statuses) == 30
    collect(store, grace=3600)
    assert_every_manifest_whole(store)


def collect_after(store: RegistryStore, barrier: threading.Barrier, delay: float,
                  errors: list[BaseException]) -> None:
    try:
        barrier.wait(5)
        time.sleep(delay)
        collect(store, grace=3600)
    except BaseException as exc:  # reported by the caller
        errors.append(exc)


def assert_every_manifest_whole(store: RegistryStore) -> None:
    for name in store.repositories():
        for link in store.revisions(name):
            stored = store.manifest(name, link.digest)
            doc: Any = json.loads(stored.data)
            for entry in [doc["config"], *doc["layers"]]:
                assert store.content.exists(Digest.parse(entry["digest"])), (name, entry)
