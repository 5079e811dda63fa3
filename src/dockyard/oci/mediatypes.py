"""Media types of the OCI image spec (media-types.md) and of Docker's image manifest v2 schema 2.

A descriptor's media type says how to read the blob it names: a manifest, an index (Docker: a
manifest list), an image config, or a layer tar and its compression. Docker schema 1 manifests are
named so that dockyard can refuse them with a clear error; it does not read them.
"""

from __future__ import annotations

from typing import Literal

from dockyard.errors import Unsupported

# OCI image spec v1.1
OCI_DESCRIPTOR = "application/vnd.oci.descriptor.v1+json"
OCI_LAYOUT_HEADER = "application/vnd.oci.layout.header.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
OCI_EMPTY = "application/vnd.oci.empty.v1+json"
OCI_LAYER = "application/vnd.oci.image.layer.v1.tar"
OCI_LAYER_GZIP = "application/vnd.oci.image.layer.v1.tar+gzip"
OCI_LAYER_ZSTD = "application/vnd.oci.image.layer.v1.tar+zstd"
OCI_LAYER_NONDISTRIBUTABLE = "application/vnd.oci.image.layer.nondistributable.v1.tar"
OCI_LAYER_NONDISTRIBUTABLE_GZIP = "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip"
OCI_LAYER_NONDISTRIBUTABLE_ZSTD = "application/vnd.oci.image.layer.nondistributable.v1.tar+zstd"

# Docker image manifest v2, schema 2 (and the layer variants containerd also accepts)
DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
DOCKER_MANIFEST_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
DOCKER_CONFIG = "application/vnd.docker.container.image.v1+json"
DOCKER_PLUGIN_CONFIG = "application/vnd.docker.plugin.v1+json"
DOCKER_LAYER = "application/vnd.docker.image.rootfs.diff.tar"
DOCKER_LAYER_GZIP = "application/vnd.docker.image.rootfs.diff.tar.gzip"
DOCKER_LAYER_ZSTD = "application/vnd.docker.image.rootfs.diff.tar.zstd"
DOCKER_FOREIGN_LAYER = "application/vnd.docker.image.rootfs.foreign.diff.tar"
DOCKER_FOREIGN_LAYER_GZIP = "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip"

# Docker schema 1: recognised only to be refused
DOCKER_SCHEMA1_MANIFEST = "application/vnd.docker.distribution.manifest.v1+json"
DOCKER_SCHEMA1_SIGNED_MANIFEST = "application/vnd.docker.distribution.manifest.v1+prettyjws"

Compression = Literal["none", "gzip", "zstd"]

MANIFESTS = frozenset({OCI_MANIFEST, DOCKER_MANIFEST})
INDEXES = frozenset({OCI_INDEX, DOCKER_MANIFEST_LIST})
CONFIGS = frozenset({OCI_CONFIG, DOCKER_CONFIG})
SCHEMA1 = frozenset({DOCKER_SCHEMA1_MANIFEST, DOCKER_SCHEMA1_SIGNED_MANIFEST})

_LAYERS: dict[str, Compression] = {
    OCI_LAYER: "none",
    OCI_LAYER_GZIP: "gzip",
    OCI_LAYER_ZSTD: "zstd",
    OCI_LAYER_NONDISTRIBUTABLE: "none",
    OCI_LAYER_NONDISTRIBUTABLE_GZIP: "gzip",
    OCI_LAYER_NONDISTRIBUTABLE_ZSTD: "zstd",
    DOCKER_LAYER: "none",
    DOCKER_LAYER_GZIP: "gzip",
    DOCKER_LAYER_ZSTD: "zstd",
    DOCKER_FOREIGN_LAYER: "none",
    DOCKER_FOREIGN_LAYER_GZIP: "gzip",
}
LAYERS = frozenset(_LAYERS)

_NONDISTRIBUTABLE = frozenset({
    OCI_LAYER_NONDISTRIBUTABLE,
    OCI_LAYER_NONDISTRIBUTABLE_GZIP,
    OCI_LAYER_NONDISTRIBUTABLE_ZSTD,
    DOCKER_FOREIGN_LAYER,
    DOCKER_FOREIGN_LAYER_GZIP,
})

_DOCKER = frozenset({DOCKER_MANIFEST, DOCKER_MANIFEST_LIST, DOCKER_CONFIG, DOCKER_PLUGIN_CONFIG,
                     DOCKER_LAYER, DOCKER_LAYER_GZIP, DOCKER_LAYER_ZSTD, DOCKER_FOREIGN_LAYER,
                     DOCKER_FOREIGN_LAYER_GZIP}) | SCHEMA1


def is_manifest(media_type: str) -> bool:
    """An image manifest (OCI or Docker schema 2)."""
    return media_type in MANIFESTS


def is_index(media_type: str) -> bool:
    """An image index or a Docker manifest list."""
    return media_type in INDEXES


def is_config(media_type: str) -> bool:
    """An image config (OCI or Docker)."""
    return media_type in CONFIGS


def is_layer(media_type: str) -> bool:
    """A layer tar, compressed or not, distributable or not."""
    return media_type in _LAYERS


def is_nondistributable(media_type: str) -> bool:
    """A layer that must not be pushed (OCI non-distributable, Docker foreign)."""
    return media_type in _NONDISTRIBUTABLE


def is_docker(media_type: str) -> bool:
    """One of Docker's own media types rather than an OCI one."""
    return media_type in _DOCKER


def is_schema1(media_type: str) -> bool:
    return media_type in SCHEMA1


def layer_compression(media_type: str) -> Compression:
    """How a layer blob of this media type is compressed."""
    try:
        return _LAYERS[media_type]
    except KeyError:
        raise Unsupported(f"unsupported layer media type {media_type!r}") from None


def layer_media_type(compression: Compression, *, docker: bool = False) -> str:
    """The distributable layer media type for a compression, OCI or Docker flavoured."""
    table: dict[Compression, str] = (
        {"none": DOCKER_LAYER, "gzip": DOCKER_LAYER_GZIP, "zstd": DOCKER_LAYER_ZSTD}
        if docker
        else {"none": OCI_LAYER, "gzip": OCI_LAYER_GZIP, "zstd": OCI_LAYER_ZSTD}
    )
    try:
        return table[compression]
    except KeyError:
        raise Unsupported(f"unsupported layer compression {compression!r}") from None
