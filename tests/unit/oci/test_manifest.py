"""Manifests and indexes: formats, raw bytes, media type agreement, strict reading."""

from __future__ import annotations

import dataclasses
import json

import pytest

from dockyard import errors
from dockyard.oci import mediatypes as mt
from dockyard.oci.descriptor import Descriptor, Platform, PlatformMatcher
from dockyard.oci.digest import Digest
from dockyard.oci.manifest import Index, Manifest, parse_manifest_or_index

CONFIG = Descriptor(mt.OCI_CONFIG, Digest.of(b"config"), 6)
LAYER = Descriptor(mt.OCI_LAYER_GZIP, Digest.of(b"layer"), 5)
C, L = str(CONFIG.digest), str(LAYER.digest)


def test_oci_manifest_json() -> None:
    manifest = Manifest(CONFIG, (LAYER,), annotations={"k": "v"})
    assert manifest.to_json() == (
        '{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json",'
        f'"config":{{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"{C}",'
        '"size":6},'
        f'"layers":[{{"mediaType":"application/vnd.oci.image.layer.v1.tar+gzip","digest":"{L}",'
        '"size":5}],"annotations":{"k":"v"}}'
    ).encode()
    assert manifest.digest() == Digest.of(manifest.to_json())
    assert manifest.descriptor(Platform("amd64", "linux")) == Descriptor(
        mt.OCI_MANIFEST, manifest.digest(), len(manifest.to_json()),
        platform=Platform("amd64", "linux"),
    )


def test_docker_manifest_json() -> None:
    config = dataclasses.replace(CONFIG, media_type=mt.DOCKER_CONFIG)
    layer = dataclasses.replace(LAYER, media_type=mt.DOCKER_LAYER_GZIP)
    manifest = Manifest(config, (layer,), media_type=mt.DOCKER_MANIFEST)
    assert manifest.to_json() == (
        '{"schemaVersion":2,"mediaType":"application/vnd.docker.distribution.manifest.v2+json",'
        f'"config":{{"mediaType":"application/vnd.docker.container.image.v1+json","size":6,'
        f'"digest":"{C}"}},'
        f'"layers":[{{"mediaType":"application/vnd.docker.image.rootfs.diff.tar.gzip","size":5,'
        f'"digest":"{L}"}}]}}'
    ).encode()


def test_raw_bytes_are_kept_until_the_value_changes() -> None:
    data = b'{\n  "schemaVersion": 2,\n  "config": ' + CONFIG.to_json() + b',\n  "layers": []\n}'
    manifest = Manifest.from_json(data)
    assert (manifest.media_type, manifest.to_json(), manifest.digest()) == (
        mt.OCI_MANIFEST, data, Digest.of(data),
    )
    changed = dataclasses.replace(manifest, layers=(LAYER,))
    assert changed.raw is None
    assert changed.to_json() == changed.canonical_json()
    assert manifest == Manifest(CONFIG)  # raw takes no part in equality


def test_a_docker_manifest_has_no_oci_fields() -> None:
    with pytest.raises(errors.InvalidArgument, match="has no artifactType, subject or annot"):
        Manifest(CONFIG, media_type=mt.DOCKER_MANIFEST, annotations={"a": "b"})
    data = (b'{"schemaVersion":2,"mediaType":"' + mt.DOCKER_MANIFEST.encode() + b'","config":'
            + CONFIG.to_json() + b',"layers":[],"annotations":{"a":"b"}}')
    manifest = Manifest.from_json(data)
    assert (manifest.annotations, manifest.extra) == ({}, {"annotations": {"a": "b"}})


def test_extra_may_not_shadow_known_fields() -> None:
    with pytest.raises(errors.InvalidArgument, match=r"extra fields \['layers'\] are known"):
        Manifest(CONFIG, extra={"layers": []})


def _doc(**fields: object) -> bytes:
    body = {"schemaVersion": 2, "config": json.loads(CONFIG.to_json()), "layers": []}
    body.update(fields)
    return json.dumps({k: v for k, v in body.items() if v is not None}).encode()


@pytest.mark.parametrize(
    ("data", "given", "error", "message"),
    [
        (_doc(schemaVersion=1), None, errors.Unsupported,
         "unsupported image manifest: docker schema 1"),
        (_doc(mediaType=mt.DOCKER_SCHEMA1_SIGNED_MANIFEST), None, errors.Unsupported,
         "unsupported image manifest: docker schema 1"),
        (_doc(schemaVersion=3), None, errors.InvalidArgument,
         "invalid image manifest: schemaVersion: want 2, got 3"),
        (_doc(schemaVersion=None), None, errors.InvalidArgument,
         "invalid image manifest: schemaVersion: missing"),
        (_doc(mediaType=mt.OCI_MANIFEST), mt.DOCKER_MANIFEST, errors.InvalidArgument,
         f"invalid image manifest: mediaType: '{mt.OCI_MANIFEST}' but the descriptor says "
         f"'{mt.DOCKER_MANIFEST}'"),
        (_doc(), mt.DOCKER_MANIFEST, errors.InvalidArgument,
         f"invalid image manifest: mediaType: missing (required by {mt.DOCKER_MANIFEST})"),
        (_doc(mediaType=mt.OCI_INDEX), None, errors.InvalidArgument,
         f"invalid image manifest: mediaType: '{mt.OCI_INDEX}' is not an image manifest"),
        (_doc(config=None), None, errors.InvalidArgument,
         "invalid image manifest: config: missing"),
        (_doc(layers=None), None, errors.InvalidArgument,
         "invalid image manifest: layers: missing"),
        (_doc(layers=[{"mediaType": "a/b", "size": 1}]), None, errors.InvalidArgument,
         "invalid image manifest: layers[0].digest: missing"),
        (_doc(subject={"mediaType": "a/b"}), None, errors.InvalidArgument,
         "invalid image manifest: subject.digest: missing"),
        (_doc(annotations={"a": 1}), None, errors.InvalidArgument,
         "invalid image manifest: annotations['a']: want string, got number"),
        (b"[]", None, errors.InvalidArgument,
         "invalid image manifest: want a JSON object, got array"),
    ],
)
def test_manifest_errors(data: bytes, given: str | None, error: type[errors.DockyardError],
                         message: str) -> None:
    with pytest.raises(error) as caught:
        Manifest.from_json(data, given)
    assert str(caught.value) == message


def test_index_errors() -> None:
    with pytest.raises(errors.InvalidArgument, match="invalid image index: manifests: missing"):
        Index.from_json(b'{"schemaVersion":2}')
    with pytest.raises(errors.InvalidArgument, match=r"manifests\[0\]: want object, got string"):
        Index.from_json(b'{"schemaVersion":2,"manifests":["x"]}')
    with pytest.raises(errors.InvalidArgument, match="media type 'a/b'"):
        Index(media_type="a/b")


def test_parse_manifest_or_index_tells_them_apart() -> None:
    index = Index((Descriptor(mt.OCI_MANIFEST, Digest.of(b"m"), 1),))
    bare_index = b'{"schemaVersion":2,"manifests":[]}'
    assert parse_manifest_or_index(index.to_json()) == index
    assert parse_manifest_or_index(bare_index) == Index()
    assert parse_manifest_or_index(bare_index, mt.OCI_INDEX) == Index()
    assert parse_manifest_or_index(_doc()) == Manifest(CONFIG)
    with pytest.raises(errors.InvalidArgument, match="invalid manifest: duplicate key"):
        parse_manifest_or_index(b'{"a":1,"a":1}')


def test_select_prefers_the_best_rank_then_the_first_listed() -> None:
    def entry(name: bytes, platform: Platform | None) -> Descriptor:
        return Descriptor(mt.OCI_MANIFEST, Digest.of(name), 1, platform=platform)

    i386 = entry(b"386", Platform("386", "linux"))
    first = entry(b"first", Platform("amd64", "linux"))
    second = entry(b"second", Platform("x86_64", "linux"))
    index = Index((entry(b"none", None), i386, first, second))
    assert index.select(PlatformMatcher.only(Platform("amd64", "linux"))) == first
    assert index.select(PlatformMatcher.only(Platform("386", "linux"))) == i386
    assert index.select(PlatformMatcher.only(Platform("arm64", "linux"))) is None
