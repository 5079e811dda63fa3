"""Bad input on pull: a corrupt blob, a wrong diffID, a blob longer than its descriptor, a missing
tag or repository, a dead registry, unknown media types and schema 1. Each fails with dockerd's
wording and leaves no image record, no blob with the wrong bytes and no snapshot behind. And an
interrupted download resumes with a Range request."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from dockyard.errors import DataCorrupt, NotFound, Unsupported
from dockyard.oci.digest import Digest
from dockyard.registry.transport import RemoteError

from .conftest import Registry
from .engine import Distribution, Engine, distribution, engine, free_port
from .remote import FakeRegistry, RemoteImage, Uploader, build_image, sha256

pytestmark = pytest.mark.root
__all__ = ["distribution", "engine"]


@pytest.fixture
def fake() -> Iterator[FakeRegistry]:
    started = FakeRegistry().start()
    try:
        yield started
    finally:
        started.stop()


def three_layers() -> RemoteImage:
    return build_image([{"a": b"a" * 30_000}, {"b": b"b" * 30_000}, {"c": b"c" * 30_000}])


def assert_nothing_kept(engine: Engine, bad: str | None = None) -> None:
    assert engine.root.images.records() == []
    assert [s.name for s in engine.root.snapshotter.walk()] == []
    if bad is not None:
        assert not engine.root.content.exists(Digest.parse(bad))
        assert f"pull-{bad}" not in [s.ref for s in engine.root.content.ingests()]
    assert engine.root.leases.leases() == []


@pytest.mark.parametrize("which", [0, 2])
def test_corrupt_blob(fake: FakeRegistry, engine: Engine, which: int) -> None:
    image = three_layers()
    fake.add("bad/app", "1", image)
    bad = image.layer_digests[which]
    fake.corrupt.add(bad)
    with pytest.raises(DataCorrupt) as failed:
        engine.pull(f"{fake.address}/bad/app", "1")
    assert str(failed.value).startswith(f"filesystem layer verification failed for digest {bad}")
    assert_nothing_kept(engine, bad)


def test_wrong_diff_id(fake: FakeRegistry, engine: Engine) -> None:
    image = three_layers()
    config = json.loads(image.config)
    config["rootfs"]["diff_ids"][1] = sha256(b"something else")
    data = json.dumps(config).encode()
    manifest = json.loads(image.manifest)
    manifest["config"].update(digest=sha256(data), size=len(data))
    image.blobs[sha256(data)] = data
    fake.blobs.update(image.blobs)
    fake.manifests["bad/diff:1"] = (json.dumps(manifest).encode(), image.media_type)
    with pytest.raises(DataCorrupt) as failed:
        engine.pull(f"{fake.address}/bad/diff", "1")
    assert str(failed.value).startswith("invalid diffID for layer 1: expected ")
    assert_nothing_kept(engine)


def test_blob_longer_than_its_descriptor(fake: FakeRegistry, engine: Engine) -> None:
    image = three_layers()
    fake.add("bad/long", "1", image)
    fake.blobs[image.layer_digests[1]] += b"\0" * 10
    with pytest.raises(DataCorrupt) as failed:
        engine.pull(f"{fake.address}/bad/long", "1")
    assert "longer than" in str(failed.value)
    assert_nothing_kept(engine)


def test_missing_tag_and_repository(registry: Registry, distribution: Distribution,
                                    engine: Engine) -> None:
    Uploader(registry.address).image("has/tags", "1", three_layers())
    with pytest.raises(NotFound) as ours:
        engine.pull(f"{registry.address}/has/tags", "nosuchtag")
    assert str(ours.value).startswith(
        f"manifest for {registry.address}/has/tags:nosuchtag not found: manifest unknown: ")
    for tag in ("nosuchtag", "latest"):
        with pytest.raises(NotFound) as theirs:
            engine.pull(f"{distribution.address}/trace/nosuchrepo", tag)
        assert str(theirs.value) == (f"manifest for {distribution.address}/trace/nosuchrepo:"
                                     f"{tag} not found: manifest unknown: manifest unknown")
    assert_nothing_kept(engine)


def test_dead_registry(engine: Engine) -> None:
    port = free_port()
    with pytest.raises(RemoteError) as failed:
        engine.pull(f"127.0.0.1:{port}/x/y", "1")
    assert str(failed.value) == (f'Get "http://127.0.0.1:{port}/v2/": dial tcp '
                                 f"127.0.0.1:{port}: connect: connection refused")
    assert failed.value.http_status == 500


def test_unknown_layer_media_type_and_schema1(fake: FakeRegistry, engine: Engine) -> None:
    image = three_layers()
    manifest = json.loads(image.manifest)
    manifest["layers"][0]["mediaType"] = "application/x-unknown"
    fake.blobs.update(image.blobs)
    fake.manifests["odd/types:1"] = (json.dumps(manifest).encode(), image.media_type)
    with pytest.raises(Unsupported):
        engine.pull(f"{fake.address}/odd/types", "1")
    old = json.dumps({"schemaVersion": 1, "name": "odd/old", "tag": "1", "fsLayers": []})
    fake.manifests["odd/old:1"] = (old.encode(),
                                   "application/vnd.docker.distribution.manifest.v1+prettyjws")
    with pytest.raises(Unsupported) as schema1:
        engine.pull(f"{fake.address}/odd/old", "1")
    assert "schema 1" in str(schema1.value)
    assert_nothing_kept(engine)


def test_interrupted_download_resumes_with_a_range(fake: FakeRegistry, engine: Engine) -> None:
    image = three_layers()
    fake.add("resume/app", "1", image)
    partial = image.layer_digests[1]
    data = image.blobs[partial]
    with engine.root.content.writer(f"pull-{partial}", Digest.parse(partial),
                                    len(data)) as writer:
        writer.write(data[: len(data) // 2])
        writer.flush()
    engine.pull(f"{fake.address}/resume/app", "1")
    ranges = [r for method, path, r in fake.requests if path.endswith(partial)]
    assert ranges == [f"bytes={len(data) // 2}-"]
    assert engine.image(f"{fake.address}/resume/app:1")["Id"] == image.image_id


def test_requests_are_few(fake: FakeRegistry, engine: Engine) -> None:
    image = three_layers()
    fake.add("count/app", "1", image)
    engine.pull(f"{fake.address}/count/app", "1")
    paths: list[Any] = sorted(path for method, path, _ in fake.requests)
    expected = sorted(["/v2/", "/v2/count/app/manifests/1",
                       f"/v2/count/app/blobs/{sha256(image.config)}"]
                      + [f"/v2/count/app/blobs/{d}" for d in image.layer_digests])
    assert paths == expected
