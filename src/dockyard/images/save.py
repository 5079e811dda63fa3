"""``docker save``: images out of the store as one tar, a docker-archive and an OCI layout at once.

The layout is docker 25's (see :mod:`dockyard.images.archive`): every blob once under
``blobs/sha256/``, ``manifest.json`` naming the config and layer blobs by path, ``index.json``
naming one manifest per tag.

Layers are written as uncompressed tars named by their diffID, whatever compression the store
keeps them in. docker 20.10's ``docker load`` reads them (it also takes gzip, but not zstd), and
tools that read ``manifest.json`` take a layer's digest for its diffID. The OCI side describes
those same files: the layout lists an OCI manifest whose layers are the uncompressed tars and whose
config is untouched (so the image ID stays). An OCI manifest whose layers are already plain is
kept byte for byte; any other (compressed layers, or Docker schema 2, whose media types OCI
readers such as skopeo skip in ``index.json``) is rewritten, as docker 25 writes one. Each layer
is in the archive once, instead of a compressed copy for OCI readers plus a plain one for
docker; the cost is that a rewritten manifest's digest differs from the registry's, as it does
for docker 25.

A tar header needs the entry's size before its data, and a compressed blob does not say how big
its tar is. The size is kept in labels on the blob (:data:`~dockyard.images.archive.
LABEL_UNCOMPRESSED_SIZE`, with containerd's ``containerd.io/uncompressed`` diffID beside it);
without them the blob is decompressed once to count and verify, and the labels are written so
the next save streams in one pass. Layers are streamed in 1 MiB chunks, never held whole.

Output is deterministic: entries sorted by path, owner 0:0, mtime 0, documents in a fixed
encoding. Everything is looked up and checked before the first byte is written, so a missing
blob is an error the caller can still report as an HTTP status.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, BinaryIO

from dockyard.archive.compression import detect, open_stream
from dockyard.content.store import ContentStore
from dockyard.errors import DataCorrupt, InvalidArgument, NotFound
from dockyard.images.archive import (
    INDEX_JSON,
    LABEL_UNCOMPRESSED,
    LABEL_UNCOMPRESSED_SIZE,
    LAYOUT_CONTENT,
    MANIFEST_JSON,
    OCI_LAYOUT,
    REPOSITORIES,
    ManifestItem,
    TarOut,
    blob_path,
    encode_manifest_json,
    encode_repositories,
    name_annotations,
)
from dockyard.images.inflate import measure
from dockyard.oci import mediatypes as mt
from dockyard.oci.config import ImageConfig
from dockyard.oci.descriptor import Descriptor
from dockyard.oci.digest import Digest
from dockyard.oci.manifest import Index, Manifest, parse_manifest_or_index
from dockyard.oci.platform import Platform, PlatformMatcher
from dockyard.oci.reference import Reference, parse_reference

if TYPE_CHECKING:
    from dockyard.store import DataRoot

log = logging.getLogger(__name__)

_CHUNK = 1 << 20


@dataclass(frozen=True, slots=True)
class SaveItem:
    """An image to save: the digest of its manifest (or of an index, whose entry for this
    platform is used) and the tagged names to write for it (fully qualified or familiar)."""

    target: Digest
    names: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class _Layer:
    blob: Digest
    diff_id: Digest
    compressed: bool
    size: int  # of the uncompressed tar, as written to the archive


@dataclass(frozen=True, slots=True)
class _Image:
    config: Digest
    config_data: bytes
    manifest: Descriptor  # as index.json lists it, without annotations
    manifest_data: bytes
    layers: tuple[_Layer, ...]
    names: tuple[Reference, ...]


@dataclass(frozen=True, slots=True)
class SavePlan:
    """What an archive will hold, checked against the store; :meth:`write` streams it."""

    content: ContentStore
    images: tuple[_Image, ...]

    @property
    def image_ids(self) -> tuple[Digest, ...]:
        return tuple(image.config for image in self.images)

    def write(self, out: BinaryIO) -> None:
        _write_archive(self.content, self.images, out)


def save_images(root: DataRoot, items: Sequence[SaveItem], out: BinaryIO) -> None:
    """Write ``items`` to ``out`` as one archive (:func:`prepare_save`, then write)."""
    prepare_save(root, items).write(out)


def prepare_save(root: DataRoot, items: Sequence[SaveItem]) -> SavePlan:
    """Resolve every item to its config, manifest and layers, checking that the store holds them
    (NotFound, DataCorrupt), before a byte is written. Items naming the same image (image ID)
    are merged, their names joined; the archive lists images in the order of ``items``."""
    content = root.content
    images: dict[Digest, _Image] = {}
    for item in items:
        names = tuple(_tagged(name) for name in item.names)
        manifest = _resolve(content, item.target)
        known = images.get(manifest.config.digest)
        if known is None:
            images[manifest.config.digest] = _plan_image(content, manifest, names)
        else:
            merged = known.names + tuple(n for n in names if n not in known.names)
            images[manifest.config.digest] = dataclasses.replace(known, names=merged)
    return SavePlan(content, tuple(images.values()))


def _tagged(name: str) -> Reference:
    ref = parse_reference(name)
    if ref.tag is None:
        raise InvalidArgument(f"cannot save {name!r} as a name: it has no tag")
    return Reference(ref.domain, ref.path, ref.tag)


def _resolve(content: ContentStore, digest: Digest) -> Manifest:
    """The manifest ``digest`` names, or this platform's entry of the index it names."""
    document = parse_manifest_or_index(_read(content, digest, "manifest"))
    if isinstance(document, Manifest):
        return document
    entry = _select(content, document, digest)
    chosen = parse_manifest_or_index(_read(content, entry.digest, "manifest"), entry.media_type)
    if not isinstance(chosen, Manifest):
        raise InvalidArgument(f"image index {digest}: entry {entry.digest} is not a manifest")
    return chosen


def _select(content: ContentStore, index: Index, digest: Digest) -> Descriptor:
    host = Platform.current()
    present = Index(manifests=tuple(d for d in index.manifests if content.exists(d.digest)),
                    media_type=index.media_type)
    entry = present.select(PlatformMatcher.only(host))
    if entry is None:
        raise NotFound(f"image index {digest} has no manifest for {host} in the content store")
    return entry


def _read(content: ContentStore, digest: Digest, what: str) -> bytes:
    try:
        return content.read_bytes(digest)
    except NotFound as exc:
        raise NotFound(f"cannot save: {what} {digest} is not in the content store") from exc


def _plan_image(content: ContentStore, manifest: Manifest, names: tuple[Reference, ...]) -> _Image:
    config_data = _read(content, manifest.config.digest, "config")
    config = ImageConfig.from_json(config_data)
    if len(config.diff_ids) != len(manifest.layers):
        raise DataCorrupt(
            f"image {manifest.config.digest}: manifest {manifest.digest()} lists "
            f"{len(manifest.layers)} layers, its config {len(config.diff_ids)} diffIDs"
        )
    layers = tuple(
        _plan_layer(content, desc.digest, diff_id)
        for desc, diff_id in zip(manifest.layers, config.diff_ids, strict=True)
    )
    manifest = _for_layout(manifest, layers)
    data = manifest.to_json()
    descriptor = Descriptor(manifest.media_type, Digest.of(data), len(data),
                            platform=config.platform)
    return _Image(manifest.config.digest, config_data, descriptor, data, layers, names)


def _for_layout(manifest: Manifest, layers: Sequence[_Layer]) -> Manifest:
    """The OCI manifest the layout lists: ``manifest`` itself when it is one and its layers are
    plain tars; else one whose layers are the uncompressed tars (OCI readers such as skopeo
    skip Docker media types in ``index.json``)."""
    if not manifest.is_docker and not any(layer.compressed for layer in layers):
        return manifest
    descriptors = tuple(
        Descriptor(_plain_type(desc.media_type), layer.diff_id, layer.size)
        if layer.compressed or manifest.is_docker else desc
        for desc, layer in zip(manifest.layers, layers, strict=True)
    )
    if not manifest.is_docker:
        return dataclasses.replace(manifest, layers=descriptors)
    config = manifest.config
    return Manifest(
        config=Descriptor(mt.OCI_CONFIG, config.digest, config.size),
        layers=descriptors,
        media_type=mt.OCI_MANIFEST,
    )


def _plain_type(media_type: str) -> str:
    if mt.is_layer(media_type) and mt.is_nondistributable(media_type):
        return mt.OCI_LAYER_NONDISTRIBUTABLE
    return mt.OCI_LAYER


def _plan_layer(content: ContentStore, blob: Digest, diff_id: Digest) -> _Layer:
    try:
        info = content.info(blob)
        with content.open(blob) as stream:
            compression = detect(stream.read(4))
    except NotFound as exc:
        raise NotFound(f"cannot save: layer {blob} is not in the content store") from exc
    if compression == "none":
        if blob != diff_id:
            raise DataCorrupt(f"layer {blob} is an uncompressed tar but its diffID is {diff_id}")
        return _Layer(blob, diff_id, False, info.size)
    size_label = info.labels.get(LABEL_UNCOMPRESSED_SIZE, "")
    if info.labels.get(LABEL_UNCOMPRESSED) == str(diff_id) and size_label.isdigit():
        return _Layer(blob, diff_id, True, int(size_label))
    return _Layer(blob, diff_id, True, measure_layer(content, blob, diff_id))


def measure_layer(content: ContentStore, blob: Digest, diff_id: Digest) -> int:
    """Decompress ``blob`` to count its tar's bytes and check its diffID; label the blob."""
    actual, size, _ = measure(content, blob)
    if actual != diff_id:
        raise DataCorrupt(f"layer {blob}: uncompressed it is {actual}, not diffID {diff_id}")
    content.update_labels(blob, {LABEL_UNCOMPRESSED: str(diff_id),
                                 LABEL_UNCOMPRESSED_SIZE: str(size)})
    log.debug("layer %s: %d bytes uncompressed (now labelled)", blob, size)
    return size


def _write_archive(content: ContentStore, images: Sequence[_Image], out: BinaryIO) -> None:
    """Write the planned ``images``: blobs sorted by path, then the four documents."""
    tar = TarOut(out)
    blobs: dict[str, bytes | _Layer] = {}
    for image in images:
        blobs[blob_path(image.config)] = image.config_data
        blobs[blob_path(image.manifest.digest)] = image.manifest_data
        for layer in image.layers:
            blobs.setdefault(blob_path(layer.diff_id), layer)
    for directory in sorted({"blobs/"} | {p.rsplit("/", 1)[0] + "/" for p in blobs}):
        tar.directory(directory)
    for path in sorted(blobs):
        source = blobs[path]
        if isinstance(source, bytes):
            tar.file(path, source)
        else:
            _write_layer(content, tar, path, source)
    documents = {
        INDEX_JSON: _index_json(images),
        MANIFEST_JSON: encode_manifest_json([_manifest_item(image) for image in images]),
        OCI_LAYOUT: LAYOUT_CONTENT,
    }
    tagged = [(ref, image.layers[-1].diff_id) for image in images if image.layers
              for ref in image.names]
    if tagged:
        documents[REPOSITORIES] = encode_repositories(tagged)
    for path in sorted(documents):
        tar.file(path, documents[path])
    tar.close()


def _write_layer(content: ContentStore, tar: TarOut, path: str, layer: _Layer) -> None:
    tar.begin_file(path, layer.size)
    written = 0
    with content.open(layer.blob) as stream:
        if layer.compressed:
            source = open_stream(stream, str(layer.blob))
            while chunk := source.read_chunk():
                written += len(chunk)
                if written > layer.size:
                    break
                tar.write(chunk)
        else:
            while written < layer.size and (chunk := stream.read(min(_CHUNK,
                                                                     layer.size - written))):
                tar.write(chunk)
                written += len(chunk)
    if written != layer.size:
        raise DataCorrupt(
            f"layer {layer.blob} changed while being saved: its tar is not {layer.size} bytes"
        )
    tar.end_file(layer.size)


def _manifest_item(image: _Image) -> ManifestItem:
    return ManifestItem(
        config=blob_path(image.config),
        repo_tags=tuple(ref.familiar() for ref in image.names),
        layers=tuple(blob_path(layer.diff_id) for layer in image.layers),
    )


def _index_json(images: Sequence[_Image]) -> bytes:
    descriptors: list[Descriptor] = []
    for image in images:
        if not image.names:
            descriptors.append(image.manifest)
        descriptors.extend(
            dataclasses.replace(image.manifest, annotations=name_annotations(ref))
            for ref in image.names
        )
    return Index(manifests=tuple(descriptors)).canonical_json()
