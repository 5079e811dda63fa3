"""Media type classification and layer compression."""

from __future__ import annotations

import pytest

from dockyard import errors
from dockyard.oci import mediatypes as mt


def test_classification() -> None:
    table = {
        mt.OCI_MANIFEST: "manifest",
        mt.DOCKER_MANIFEST: "manifest",
        mt.OCI_INDEX: "index",
        mt.DOCKER_MANIFEST_LIST: "index",
        mt.OCI_CONFIG: "config",
        mt.DOCKER_CONFIG: "config",
        mt.OCI_LAYER_GZIP: "layer",
        mt.DOCKER_FOREIGN_LAYER_GZIP: "layer",
        mt.DOCKER_SCHEMA1_SIGNED_MANIFEST: "none",
        "application/vnd.in-toto+json": "none",
    }

    def kind(media_type: str) -> str:
        checks = [("manifest", mt.is_manifest), ("index", mt.is_index),
                  ("config", mt.is_config), ("layer", mt.is_layer)]
        found = [name for name, check in checks if check(media_type)]
        return found[0] if len(found) == 1 else "none" if not found else "several"

    assert {media_type: kind(media_type) for media_type in table} == table


def test_layer_compression() -> None:
    table = {
        mt.OCI_LAYER: "none",
        mt.OCI_LAYER_GZIP: "gzip",
        mt.OCI_LAYER_ZSTD: "zstd",
        mt.OCI_LAYER_NONDISTRIBUTABLE: "none",
        mt.OCI_LAYER_NONDISTRIBUTABLE_GZIP: "gzip",
        mt.OCI_LAYER_NONDISTRIBUTABLE_ZSTD: "zstd",
        mt.DOCKER_LAYER: "none",
        mt.DOCKER_LAYER_GZIP: "gzip",
        mt.DOCKER_LAYER_ZSTD: "zstd",
        mt.DOCKER_FOREIGN_LAYER: "none",
        mt.DOCKER_FOREIGN_LAYER_GZIP: "gzip",
    }
    assert {media_type: mt.layer_compression(media_type) for media_type in table} == table


def test_unknown_layer_media_type_is_named() -> None:
    with pytest.raises(errors.Unsupported, match=r"unsupported layer media type 'text/plain'"):
        mt.layer_compression("text/plain")
    with pytest.raises(errors.Unsupported, match="'lz4'"):
        mt.layer_media_type("lz4")  # type: ignore[arg-type]


def test_layer_media_type_round_trips() -> None:
    for docker in (False, True):
        for compression in ("none", "gzip", "zstd"):
            media_type = mt.layer_media_type(compression, docker=docker)
            assert mt.layer_compression(media_type) == compression
            assert mt.is_docker(media_type) is docker


def test_nondistributable() -> None:
    assert [m for m in sorted(mt.LAYERS) if mt.is_nondistributable(m)] == [
        mt.DOCKER_FOREIGN_LAYER,
        mt.DOCKER_FOREIGN_LAYER_GZIP,
        mt.OCI_LAYER_NONDISTRIBUTABLE,
        mt.OCI_LAYER_NONDISTRIBUTABLE_GZIP,
        mt.OCI_LAYER_NONDISTRIBUTABLE_ZSTD,
    ]
