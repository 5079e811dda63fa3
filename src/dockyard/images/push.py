"""Pushing an image to a registry: its layers, its config, then its manifest under a tag.

Each layer, announced top first ("Preparing", as dockerd lists them), goes one way::

    the repository has the blob (HEAD)               "Layer already exists"
    another repository of that registry has it       cross-repository mount: "Mounted from R"
    the blob is compressed (as pulled)                sent as it is stored: "Pushing", "Pushed"
    the blob is a plain tar (imported, loaded)        sent gzip-compressed; the gzip is made
                                                      while it is sent, kept in the store and
                                                      remembered on the tar's blob (label
                                                      dockyard/gzip), so a second push of the
                                                      layer compresses nothing

Which repositories hold a blob comes from the label ``containerd.io/distribution.source.<host>``
that pulls and pushes leave on it. Up to ``parallel`` layers move at a time. The manifest sent is
the stored one when every layer went as stored, else a Docker schema 2 manifest naming the
compressed blobs (as dockerd makes one for every push). The caller holds a lease over the new
blobs and records ``R@<digest>`` for the pushed manifest, which keeps them.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import BinaryIO

from dockyard.archive import pgzip
from dockyard.content.leases import Resource
from dockyard.errors import DockyardError, NotFound, Unavailable, Unsupported
from dockyard.images.archive import LABEL_UNCOMPRESSED, LABEL_UNCOMPRESSED_SIZE
from dockyard.images.fetch import source_label
from dockyard.images.meter import CHUNK, Progress
from dockyard.images.transfer import Transfer
from dockyard.oci import mediatypes as mt
from dockyard.oci.descriptor import Descriptor
from dockyard.oci.digest import Digest
from dockyard.oci.manifest import Manifest

log = logging.getLogger(__name__)

LABEL_GZIP = "dockyard/gzip"  # on a plain layer tar: the digest of its gzip, kept for pushes
PUSH_GZIP_LEVEL = 3  # parallel deflate; level 6 (docker's) costs 2.6x the time for 6 % less


@dataclass(frozen=True, slots=True)
class Pushed:
    """The manifest the registry now holds under the tag."""

    digest: Digest
    media_type: str
    data: bytes


@dataclass(frozen=True, slots=True)
class _Layer:
    descriptor: Descriptor
    diff_id: Digest

    @property
    def id(self) -> str:
        return self.diff_id.short


class Pusher(Transfer):
    """Pushes one image (a stored manifest and its config) to one repository."""

    @property
    def host(self) -> str:
        return self.client.endpoint.host

    def push(self, manifest: Manifest, manifest_bytes: bytes, diff_ids: tuple[Digest, ...],
             tag: str) -> Pushed:
        """Send the layers, the config and the manifest (under ``tag``)."""
        if len(manifest.layers) != len(diff_ids):
            raise Unsupported(f"image manifest lists {len(manifest.layers)} layers for "
                              f"{len(diff_ids)} diffIDs")
        layers = [_Layer(d, diff_id) for d, diff_id in zip(manifest.layers, diff_ids,
                                                           strict=True)]
        unique = list({layer.descriptor.digest: layer for layer in reversed(layers)}.values())
        for layer in unique:
            self.progress(layer.id, "Preparing", 0, 0)
        for layer in unique[self.parallel:]:
            self.progress(layer.id, "Waiting", 0, 0)
        sent = self._layers(unique)
        config = manifest.config
        if self.client.stat_blob(self.repository, config.digest, "pull", "push") is None:
            with self.root.content.open(config.digest) as stream:
                self.client.upload_blob(self.repository, config.digest, _chunks(stream),
                                        config.size)
        if all(sent[layer.descriptor.digest] == layer.descriptor for layer in layers):
            data, media_type = manifest_bytes, manifest.media_type
        else:
            new = Manifest(config=Descriptor(mt.DOCKER_CONFIG, config.digest, config.size),
                           layers=tuple(sent[layer.descriptor.digest] for layer in layers),
                           media_type=mt.DOCKER_MANIFEST)
            data, media_type = new.canonical_json(), mt.DOCKER_MANIFEST
        digest = self.client.put_manifest(self.repository, tag, data, media_type)
        return Pushed(digest, media_type, data)

    def _layers(self, layers: list[_Layer]) -> dict[Digest, Descriptor]:
        """Push each layer; the descriptor of what the registry holds for each stored blob."""
        if not layers:
            return {}
        with ThreadPoolExecutor(min(self.parallel, len(layers)), "push") as pool:
            futures = [(layer, pool.submit(self._guarded, layer)) for layer in layers]
            try:
                return {layer.descriptor.digest: future.result() for layer, future in futures}
            except BaseException:
                self.cancel.set()
                raise

    def _guarded(self, layer: _Layer) -> Descriptor:
        if self.cancel.is_set():
            raise Unavailable("push cancelled")
        return self._layer(layer)

    def _layer(self, layer: _Layer) -> Descriptor:
        descriptor = layer.descriptor
        if mt.is_nondistributable(descriptor.media_type):
            raise Unsupported(f"layer {descriptor.digest} is non-distributable: not pushed")
        compression = mt.layer_compression(descriptor.media_type)
        if compression == "none":
            cached = self._cached_gzip(descriptor.digest)
            if cached is None:
                return self._compress_and_send(layer)
            descriptor = cached
        if self._exists(descriptor):
            self.progress(layer.id, "Layer already exists", 0, 0)
        elif (source := self._mount(descriptor)) is not None:
            self.progress(layer.id, f"Mounted from {source}", 0, 0)
        else:
            self._send(layer, descriptor)
            self.progress(layer.id, "Pushed", 0, 0)
        self._remember(descriptor.digest)
        return descriptor

    def _exists(self, descriptor: Descriptor) -> bool:
        size = self.client.stat_blob(self.repository, descriptor.digest, "pull", "push")
        return size is not None

    def _mount(self, descriptor: Descriptor) -> str | None:
        try:
            labels = self.root.content.info(descriptor.digest).labels
        except NotFound:
            return None
        for source in labels.get(source_label(self.host), "").split(","):
            if source and source != self.repository and \
                    self.client.mount_blob(self.repository, descriptor.digest, source):
                return source
        return None

    def _send(self, layer: _Layer, descriptor: Descriptor) -> None:
        meter = _Meter(self.progress, layer.id, descriptor.size, self.cancel)
        with self.root.content.open(descriptor.digest) as stream:
            self.client.upload_blob(self.repository, descriptor.digest,
                                    meter.count(_chunks(stream)), descriptor.size)
        meter.done()

    def _compress_and_send(self, layer: _Layer) -> Descriptor:
        """gzip a plain layer while it is sent, keeping the gzip (its ingest) in the store."""
        content = self.root.content
        source = layer.descriptor.digest
        ref = f"push-gzip-{source}"
        self.root.leases.add_resource(self.lease_id, Resource("ingest", ref))
        meter = _Meter(self.progress, layer.id, layer.descriptor.size, self.cancel)
        with content.writer(ref) as writer, content.open(source) as stream:
            writer.truncate(0)

            def compressed() -> Iterator[bytes]:
                for piece in pgzip.compress(meter.count(_chunks(stream)), level=PUSH_GZIP_LEVEL):
                    writer.write(piece)
                    yield piece

            self.client.upload_blob(self.repository, None, compressed(), None,
                                    digest_after=writer.digest)
            size = writer.offset
            digest = writer.commit(labels={LABEL_UNCOMPRESSED: str(layer.diff_id),
                                           LABEL_UNCOMPRESSED_SIZE: str(layer.descriptor.size)})
        self.root.leases.add_resource(self.lease_id, Resource("content", str(digest)))
        content.update_labels(source, {LABEL_GZIP: str(digest)})
        meter.done()
        self.progress(layer.id, "Pushed", 0, 0)
        self._remember(digest)
        return Descriptor(mt.DOCKER_LAYER_GZIP, digest, size)

    def _cached_gzip(self, digest: Digest) -> Descriptor | None:
        content = self.root.content
        try:
            text = content.info(digest).labels.get(LABEL_GZIP, "")
            if not text:
                return None
            cached = Digest.parse(text)
            size = content.info(cached).size
        except (NotFound, DockyardError):
            return None
        self.root.leases.add_resource(self.lease_id, Resource("content", str(cached)))
        return Descriptor(mt.DOCKER_LAYER_GZIP, cached, size)

    def _remember(self, digest: Digest) -> None:
        """Add this repository to the blob's sources, for later mounts."""
        key = source_label(self.host)
        try:
            known = self.root.content.info(digest).labels.get(key, "")
        except NotFound:
            return
        names = [n for n in known.split(",") if n]
        if self.repository not in names:
            names.append(self.repository)
            self.root.content.update_labels(digest, {key: ",".join(names)})


class _Meter:
    """"Pushing" progress over the bytes read, at most every 1 %."""

    def __init__(self, progress: Progress, layer_id: str, total: int,
                 cancel: threading.Event) -> None:
        self.progress, self.id, self.total, self.cancel = progress, layer_id, total, cancel
        self.current = 0
        self.step = max(total // 100, 1 << 16)
        self.last = 0

    def count(self, chunks: Iterator[bytes]) -> Iterator[bytes]:
        for chunk in chunks:
            if self.cancel.is_set():
                raise Unavailable("push cancelled")
            yield chunk
            self.current += len(chunk)
            if self.current - self.last >= self.step:
                self.last = self.current
                self.progress(self.id, "Pushing", self.current, self.total)

    def done(self) -> None:
        if self.current != self.last:
            self.progress(self.id, "Pushing", self.current, self.total)


def _chunks(stream: BinaryIO, size: int = CHUNK) -> Iterator[bytes]:
    while chunk := stream.read(size):
        yield chunk

