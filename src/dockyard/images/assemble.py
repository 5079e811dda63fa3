"""Write a new image's config and manifest into the content store.

Used by import now and by commit and build later: given an :class:`~dockyard.oci.config.ImageConfig`
and the layer blobs already in the store, write the config (its digest is the image ID) and a
Docker schema 2 manifest naming them, as dockerd does for images it makes itself.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from dockyard.content.store import ContentStore
from dockyard.oci import mediatypes as mt
from dockyard.oci.config import ImageConfig
from dockyard.oci.descriptor import Descriptor
from dockyard.oci.digest import Digest
from dockyard.oci.manifest import Manifest
from dockyard.oci.mediatypes import Compression


@dataclass(frozen=True, slots=True)
class LayerBlob:
    """A layer as stored: the blob's digest and size, its compression and its diffID."""

    digest: Digest
    size: int
    compression: Compression
    diff_id: Digest

    def descriptor(self) -> Descriptor:
        media_type = mt.layer_media_type(self.compression, docker=True)
        return Descriptor(media_type, self.digest, self.size)


@dataclass(frozen=True, slots=True)
class NewImage:
    config: Digest
    manifest: Descriptor


def write_image(
    content: ContentStore, config: ImageConfig, layers: Sequence[LayerBlob]
) -> NewImage:
    """Store ``config`` and a manifest for ``layers`` (bottom first); return their descriptors."""
    config_bytes = config.to_json()
    config_digest = content.put_bytes(config_bytes)
    manifest = Manifest(
        config=Descriptor(mt.DOCKER_CONFIG, config_digest, len(config_bytes)),
        layers=tuple(layer.descriptor() for layer in layers),
        media_type=mt.DOCKER_MANIFEST,
    )
    data = manifest.canonical_json()
    digest = content.put_bytes(data)
    return NewImage(config_digest, Descriptor(manifest.media_type, digest, len(data)))
