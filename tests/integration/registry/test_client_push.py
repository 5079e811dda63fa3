"""Pushes through the distribution service to our registry and to docker-registry, checked with
skopeo and by pulling into a second data root; layers already there, cross-repository mounts,
the gzip of a plain layer kept for the next push, and compressed blobs sent as they were pulled."""

from __future__ import annotations

import io
import json
import os
import shutil
import subprocess
from typing import Any

import pytest

from dockyard.images.push import LABEL_GZIP
from dockyard.oci.digest import Digest

from .conftest import Registry
from .engine import Distribution, Engine, distribution, engine, engine_factory, lines
from .remote import Uploader, build_image, layer_tar, sha256

pytestmark = pytest.mark.root
__all__ = ["distribution", "engine", "engine_factory"]

SKOPEO = shutil.which("skopeo")


def skopeo_manifest(reference: str, creds: str | None = None) -> bytes:
    if SKOPEO is None:
        pytest.skip("needs skopeo")
    args = [SKOPEO, "inspect", "--raw", "--tls-verify=false", f"docker://{reference}"]
    if creds:
        args[2:2] = ["--creds", creds]
    result = subprocess.run(args, capture_output=True, timeout=60, check=False)
    assert result.returncode == 0, result.stderr
    return result.stdout


def import_image(engine: Engine, name: str, files: dict[str, bytes]) -> str:
    repo, _, tag = name.rpartition(":")
    return str(engine.images.import_image(io.BytesIO(layer_tar(files)), repo=repo, tag=tag))


def pushed_digest(messages: list[dict[str, Any]]) -> str:
    aux = [m["aux"] for m in messages if "aux" in m]
    assert len(aux) == 1
    return str(aux[0]["Digest"])


def round_trip(engine_factory: Any, address: str) -> None:
    source, target = engine_factory(), engine_factory()
    name = f"{address}/test/pushed"
    files = {"etc/hello": b"hello\n" * 4000, "bin/tool": os.urandom(200_000)}
    image_id = import_image(source, f"{name}:1", files)
    diff_id = source.image(f"{name}:1")["RootFS"]["Layers"][0]

    messages = source.push(name, "1")
    digest = pushed_digest(messages)
    size = len(skopeo_manifest(f"{name}:1"))
    assert lines(messages) == [f"The push refers to repository [{name}]",
                               f"{diff_id[7:19]}: Preparing", f"{diff_id[7:19]}: Pushed",
                               f"1: digest: {digest} size: {size}"]
    assert messages[-1] == {"progressDetail": {}, "aux": {"Tag": "1", "Digest": digest,
                                                            "Size": size}}
    assert sha256(skopeo_manifest(f"{name}:1")) == digest
    assert source.image(f"{name}:1")["RepoDigests"] == [f"{name}@{digest}"]

    target.pull(name, "1")
    pulled = target.image(f"{name}:1")
    assert (pulled["Id"], pulled["RootFS"]["Layers"]) == (image_id, [diff_id])

    # a second push: the layer is there, and its gzip was kept (nothing compressed again)
    layer = Digest.parse(json.loads(skopeo_manifest(f"{name}:1"))["layers"][0]["digest"])
    tar_blob = source.root.content.info(Digest.parse(diff_id))
    assert tar_blob.labels[LABEL_GZIP] == str(layer)
    kept = source.root.content.path(layer).stat().st_ino
    again = source.push(name, "1")
    assert lines(again)[1:3] == [f"{diff_id[7:19]}: Preparing",
                                 f"{diff_id[7:19]}: Layer already exists"]
    assert pushed_digest(again) == digest
    assert source.root.content.path(layer).stat().st_ino == kept

    # another repository of the same registry: mounted, not uploaded
    source.images.tag(f"{name}:1", f"{address}/test/copy", "2")
    copied = source.push(f"{address}/test/copy", "2")
    assert f"{diff_id[7:19]}: Mounted from test/pushed" in lines(copied)
    assert pushed_digest(copied) == digest


def test_push_to_our_registry_and_pull_back(registry: Registry, engine_factory: Any) -> None:
    round_trip(engine_factory, registry.address)


def test_push_to_docker_registry_and_pull_back(distribution: Distribution,
                                               engine_factory: Any) -> None:
    round_trip(engine_factory, distribution.address)


def test_a_pulled_image_is_pushed_as_pulled(registry: Registry, engine: Engine) -> None:
    image = build_image([{"a": b"a" * 3000}, {"b": b"b" * 3000}], compression="zstd", oci=True)
    Uploader(registry.address).image("test/origin", "1", image)
    engine.pull(f"{registry.address}/test/origin", "1")
    engine.images.tag(f"{registry.address}/test/origin:1", f"{registry.address}/test/again",
                      "1")
    messages = engine.push(f"{registry.address}/test/again", "1")
    assert pushed_digest(messages) == image.digest  # same manifest bytes, same blobs
    statuses = {m["status"] for m in messages if m.get("id")}
    assert statuses == {"Preparing", "Mounted from test/origin"}


def test_push_every_tag_of_a_repository(registry: Registry, engine: Engine) -> None:
    name = f"{registry.address}/test/alltags"
    import_image(engine, f"{name}:a", {"a": b"1"})
    import_image(engine, f"{name}:b", {"b": b"2"})
    messages = engine.push(name)
    assert [m["aux"]["Tag"] for m in messages if "aux" in m] == ["a", "b"]
    tags = registry.request("GET", "/v2/test/alltags/tags/list").json()
    assert tags == {"name": "test/alltags", "tags": ["a", "b"]}
