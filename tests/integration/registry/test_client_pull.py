"""Pulls through the distribution service (no daemon) from our registry server, from Debian's
docker-registry and through a Docker Hub mirror: messages as dockerd sends them, image IDs and
layers as pushed, platform selection, tags, digests, gzip/zstd/plain layers, shared layers."""

from __future__ import annotations

from typing import Any

import pytest

from dockyard.oci.platform import Platform
from dockyard.registry.auth import ANONYMOUS
from dockyard.registry.endpoints import RegistrySettings

from .conftest import Registry
from .engine import Distribution, Engine, distribution, engine, engine_factory, lines
from .remote import RemoteImage, Uploader, build_image, build_index
from .remote import sha256 as sha256_of

pytestmark = pytest.mark.root
__all__ = ["distribution", "engine", "engine_factory"]  # fixtures used by name

PER_LAYER = ["Pulling fs layer", "Verifying Checksum", "Download complete", "Pull complete"]


def by_layer(messages: list[dict[str, Any]]) -> dict[str, list[str]]:
    """Each layer's statuses, in order, without progress messages."""
    out: dict[str, list[str]] = {}
    for message in messages:
        if "progressDetail" in message and "id" in message and not message.get("progress"):
            out.setdefault(message["id"], []).append(message["status"])
    return out


def plain(messages: list[dict[str, Any]]) -> list[str]:
    """The messages that are not about a layer."""
    return [(f"{m['id']}: " if m.get("id") else "") + m["status"] for m in messages
            if "progressDetail" not in m]


def short(digest: str) -> str:
    return digest.split(":")[1][:12]


def two_layers(text: str = "x") -> RemoteImage:
    return build_image([{"base.txt": text.encode() * 5000}, {"top.txt": b"t" * 300_000}])


def check_pulled(engine: Engine, name: str, image: RemoteImage, tags: list[str],
                 digests: list[str]) -> None:
    found = engine.image(tags[0] if tags else digests[0])
    assert (found["Id"], found["RepoTags"], found["RepoDigests"], found["RootFS"]["Layers"]) \
        == (image.image_id, tags, digests, image.diff_ids)


def test_pull_from_our_registry_then_up_to_date(registry: Registry, engine: Engine) -> None:
    image = two_layers()
    Uploader(registry.address).image("test/app", "v1", image)
    name = f"{registry.address}/test/app"

    messages = engine.pull(name, "v1")
    assert plain(messages) == ["v1: Pulling from test/app", f"Digest: {image.digest}",
                               f"Status: Downloaded newer image for {name}:v1"]
    assert by_layer(messages) == {short(d): PER_LAYER for d in image.layer_digests}
    downloading = [m for m in messages if m["status"] == "Downloading"]
    assert downloading and all(m["progress"].startswith("[") for m in downloading)
    check_pulled(engine, name, image, [f"{name}:v1"], [f"{name}@{image.digest}"])

    again = engine.pull(name, "v1")
    assert lines(again) == ["v1: Pulling from test/app", f"Digest: {image.digest}",
                            f"Status: Image is up to date for {name}:v1"]


def test_pull_from_docker_registry(distribution: Distribution, engine: Engine) -> None:
    image = two_layers("d")
    Uploader(distribution.address).image("dist/app", "1", image)
    name = f"{distribution.address}/dist/app"
    messages = engine.pull(name, "1")
    assert by_layer(messages) == {short(d): PER_LAYER for d in image.layer_digests}
    check_pulled(engine, name, image, [f"{name}:1"], [f"{name}@{image.digest}"])


@pytest.mark.parametrize(("compression", "oci"), [("zstd", True), ("none", False),
                                                    ("gzip", True), ("zstd", False)])
def test_layer_compressions_and_media_types(registry: Registry, engine: Engine,
                                            compression: str, oci: bool) -> None:
    image = build_image([{"a": b"1" * 1000}, {"b/c": b"2" * 9000}], compression=compression,
                        oci=oci)
    Uploader(registry.address).image("test/kinds", compression, image)
    name = f"{registry.address}/test/kinds"
    engine.pull(name, compression)
    check_pulled(engine, name, image, [f"{name}:{compression}"], [f"{name}@{image.digest}"])


def test_many_layers_download_ahead_and_wait(registry: Registry, engine: Engine) -> None:
    image = build_image([{f"f{i}": bytes([i]) * (50_000 + i)} for i in range(7)])
    Uploader(registry.address).image("test/many", "1", image)
    name = f"{registry.address}/test/many"
    messages = engine.pull(name, "1")
    layers = by_layer(messages)
    ids = [short(d) for d in image.layer_digests]
    assert [layers[i] for i in ids[:3]] == [PER_LAYER] * 3
    assert [layers[i] for i in ids[3:]] == [[PER_LAYER[0], "Waiting", *PER_LAYER[1:]]] * 4
    check_pulled(engine, name, image, [f"{name}:1"], [f"{name}@{image.digest}"])


def test_shared_layer_already_exists(registry: Registry, engine: Engine) -> None:
    base = {"base.txt": b"b" * 4000}
    small = build_image([base])
    big = build_image([base, {"top.txt": b"t" * 4000}])
    upload = Uploader(registry.address)
    upload.image("test/small", "1", small)
    upload.image("test/big", "1", big)
    engine.pull(f"{registry.address}/test/small", "1")
    messages = engine.pull(f"{registry.address}/test/big", "1")
    assert by_layer(messages) == {short(big.layer_digests[0]): ["Already exists"],
                                  short(big.layer_digests[1]): PER_LAYER}


def test_index_selects_the_platform(registry: Registry, engine: Engine) -> None:
    host = Platform.current().architecture
    other = "arm64" if host != "arm64" else "amd64"
    images = {host: build_image([{"arch": host.encode()}], architecture=host),
              other: build_image([{"arch": other.encode()}], architecture=other)}
    upload = Uploader(registry.address)
    for image in images.values():
        for data in image.blobs.values():
            upload.blob("test/multi", data)
        upload.manifest("test/multi", image.digest, image.manifest, image.media_type)
    index = build_index(images)
    upload.manifest("test/multi", "1", index, "application/vnd.oci.image.index.v1+json")
    name = f"{registry.address}/test/multi"
    from .remote import sha256

    messages = engine.pull(name, "1")
    assert f"Digest: {sha256(index)}" in lines(messages)
    assert engine.image(f"{name}:1")["Id"] == images[host].image_id
    messages = engine.pull(name, "1", platform=f"linux/{other}")
    assert lines(messages)[-1] == f"Status: Downloaded newer image for {name}:1"
    assert engine.image(f"{name}:1")["Id"] == images[other].image_id
    assert engine.image(f"{name}:1")["Architecture"] == other


def test_pull_by_digest_and_all_tags(registry: Registry, engine: Engine) -> None:
    one, two = two_layers("1"), two_layers("2")
    upload = Uploader(registry.address)
    upload.image("test/tags", "one", one)
    upload.image("test/tags", "two", two)
    name = f"{registry.address}/test/tags"

    messages = engine.pull(name, one.digest)
    assert plain(messages) == [f"{one.digest}: Pulling from test/tags", f"Digest: {one.digest}",
                               f"Status: Downloaded newer image for {name}@{one.digest}"]
    check_pulled(engine, name, one, [], [f"{name}@{one.digest}"])

    messages = engine.pull(name)
    assert plain(messages) == [
        "one: Pulling from test/tags", f"Digest: {one.digest}",
        "two: Pulling from test/tags", f"Digest: {two.digest}",
        f"Status: Downloaded newer image for {name}"]
    check_pulled(engine, name, two, [f"{name}:two"], [f"{name}@{two.digest}"])


def test_a_moved_tag_leaves_the_old_image_dangling(registry: Registry, engine: Engine) -> None:
    old, new = two_layers("o"), two_layers("n")
    upload = Uploader(registry.address)
    name = f"{registry.address}/test/moving"
    upload.image("test/moving", "1", old)
    engine.pull(name, "1")
    upload.image("test/moving", "1", new)
    engine.pull(name, "1")
    listed = {i["Id"]: (i["RepoTags"], i["RepoDigests"]) for i in engine.images.list_images()}
    assert listed == {new.image_id: ([f"{name}:1"], [f"{name}@{new.digest}"]),
                      old.image_id: (None, [f"{name}@{old.digest}"])}


def test_docker_hub_names_go_to_the_mirror_first(registry: Registry, engine_factory: Any) -> None:
    image = two_layers("m")
    Uploader(registry.address).image("library/mirrored", "1", image)
    engine = engine_factory(RegistrySettings(mirrors=(f"http://{registry.address}",)))
    messages = engine.pull("mirrored", "1")
    assert lines(messages)[-1] == "Status: Downloaded newer image for mirrored:1"
    check_pulled(engine, "mirrored", image, ["mirrored:1"], [f"mirrored@{image.digest}"])


def test_pull_over_tls_from_a_loopback_registry(registry_factory: Any,
                                                tls_files: tuple[Any, Any],
                                                engine: Engine) -> None:
    cert, key = tls_files
    registry = registry_factory("--tls-cert", str(cert), "--tls-key", str(key), tls=True)
    image = two_layers("s")
    upload = registry.connection()
    for data in image.blobs.values():
        upload.request("POST", f"/v2/test/tls/blobs/uploads/?digest={sha256_of(data)}", data)
        response = upload.getresponse()
        response.read()
        assert response.status == 201
    upload.request("PUT", "/v2/test/tls/manifests/1", image.manifest,
                   {"Content-Type": image.media_type})
    assert upload.getresponse().status == 201
    upload.close()
    name = f"{registry.address}/test/tls"
    engine.pull(name, "1")  # https first (certificate unchecked: a loopback registry)
    check_pulled(engine, name, image, [f"{name}:1"], [f"{name}@{image.digest}"])


def test_two_pulls_of_one_image_at_once(registry: Registry, engine: Engine) -> None:
    import threading

    image = build_image([{f"f{i}": bytes([i]) * 400_000} for i in range(4)])
    Uploader(registry.address).image("test/twice", "1", image)
    name = f"{registry.address}/test/twice"
    errors: list[BaseException] = []

    def pull() -> None:
        try:
            engine.service.pull(name, "1", ANONYMOUS, lambda message: None)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=pull) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert errors == []
    check_pulled(engine, name, image, [f"{name}:1"], [f"{name}@{image.digest}"])
    assert engine.root.leases.leases() == []
