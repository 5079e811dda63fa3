"""Fetching the layers of a pull into content ingests and unpacking them into snapshots.

Each layer, bottom first, is one of::

    "Already exists"   its chainID is committed and its blob is stored: only checked
    download + unpack  the usual case
    download only      its chainID is committed (by an import, another image) but the blob is
                       missing: the blob is fetched and checked against the diffID

Up to ``parallel`` blobs download at a time. The unpacker walks the layers in order (a snapshot
needs its parent). When it reaches a layer whose download has not begun, it streams it: the bytes
from the network go through the layer's ingest and into ``apply_layer`` in one pass (decompress,
hash, extract). Worker threads meanwhile download the layers further up into their ingests, and
the unpacker extracts those from the store when their turn comes::

    unpacker:  [stream 0: net -> ingest + extract]  [extract 1 from store]  [extract 2 ...]
    workers:   [download 1 -> ingest]  [download 2 -> ingest]  ...

A download resumes the ingest an interrupted pull left (``Range: bytes=<offset>-``) and commits
the blob only if its size and digest match the manifest: a mismatch discards the ingest and fails
the pull. A snapshot is committed under its chainID only after both the blob's digest and the
layer's diffID check out. Everything made is added to the caller's lease; on failure the
snapshots this fetch committed are removed again, and the blobs that did arrive are kept.
"""

from __future__ import annotations

import itertools
import logging
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from pathlib import Path

from dockyard.archive.apply import ApplyResult, apply_layer
from dockyard.archive.compression import Compression, Readable, detect
from dockyard.content.leases import Resource
from dockyard.content.store import ContentWriter, TeeReader
from dockyard.errors import (
    AlreadyExists,
    Conflict,
    DataCorrupt,
    DockyardError,
    NotFound,
    Unavailable,
)
from dockyard.images.archive import LABEL_UNCOMPRESSED, LABEL_UNCOMPRESSED_SIZE
from dockyard.images.assemble import LayerBlob
from dockyard.images.importer import LABEL_DIFF_SIZE
from dockyard.images.inflate import Inflater, measure
from dockyard.images.meter import CHUNK, Counting, Meter
from dockyard.images.transfer import Transfer
from dockyard.oci import mediatypes as mt
from dockyard.oci.config import ImageConfig
from dockyard.oci.descriptor import Descriptor
from dockyard.oci.digest import Digest
from dockyard.oci.identity import chain_ids
from dockyard.oci.manifest import Manifest
from dockyard.registry.transport import Reply
from dockyard.snapshots import Kind
from dockyard.snapshots.directory import Writeback

log = logging.getLogger(__name__)

SOURCE_LABEL = "containerd.io/distribution.source."  # + registry host: the repositories
_WAIT = 0.1


def source_label(host: str) -> str:
    return SOURCE_LABEL + host


@dataclass(eq=False)
class _Blob:
    """One blob to download (layers sharing a digest share it)."""

    descriptor: Descriptor
    state: str = "todo"  # todo -> claimed -> stored | failed
    error: BaseException | None = None

    @property
    def digest(self) -> Digest:
        return self.descriptor.digest


@dataclass(eq=False)
class _Layer:
    index: int
    blob: _Blob
    diff_id: Digest
    chain: str
    unpacked: bool  # its chainID was committed when the pull began
    existed: bool  # its blob was stored when the pull began
    compression: Compression = "none"
    id: str = field(init=False)

    def __post_init__(self) -> None:
        self.id = self.blob.digest.short


class LayerFetcher(Transfer):
    """Fetches and unpacks the layers of one pull, under the caller's lease."""

    def __post_init__(self) -> None:
        super().__post_init__()
        self.kind = f"snapshots/{self.root.snapshotter_name}"
        self.committed: list[str] = []
        self._cond = threading.Condition()
        token = uuid.uuid4().hex[:16]
        self._keys = (f"pull-{token}-{n}" for n in itertools.count())
        self._source = {source_label(self.client.endpoint.host): self.repository}
        self._blobs: list[_Blob] = []

    def fetch(self, manifest: Manifest, config: ImageConfig) -> list[LayerBlob]:
        """Make every layer's snapshot and blob; returns the layers as the manifest names them."""
        layers = self._plan(manifest, config)
        todo = [layer.blob for layer in layers if layer.blob.state == "todo"]
        first = todo[0] if todo else None
        if first is not None:
            first.state = "claimed"  # the unpacker streams it
        workers = min(self.parallel - 1, len(todo) - 1)
        pool = ThreadPoolExecutor(workers, "pull") if workers > 0 else None
        try:
            for _ in range(workers):
                assert pool is not None
                pool.submit(self._worker)
            parent = ""
            for layer in layers:
                self._layer(layer, parent, streaming=layer.blob is first)
                parent = layer.chain
        except BaseException:
            self._fail()
            self.rollback()
            raise
        finally:
            if pool is not None:
                pool.shutdown(wait=True)
        return [self._layer_blob(layer) for layer in layers]

    # -- planning ----------------------------------------------------------------------------

    def _plan(self, manifest: Manifest, config: ImageConfig) -> list[_Layer]:
        blobs: dict[Digest, _Blob] = {}
        layers = []
        for index, (descriptor, diff_id, chain) in enumerate(
                zip(manifest.layers, config.diff_ids, chain_ids(config.diff_ids), strict=True)):
            self.root.leases.add_resource(self.lease_id, Resource(self.kind, str(chain)))
            blob = blobs.get(descriptor.digest)
            if blob is None:
                blob = blobs[descriptor.digest] = _Blob(descriptor)
                if self._stored(descriptor):
                    blob.state = "stored"
            layers.append(_Layer(index, blob, diff_id, str(chain), self._unpacked(str(chain)),
                                 blob.state == "stored"))
        self._blobs = list(blobs.values())
        waiting = 0
        announced: set[str] = set()
        for layer in layers:
            if layer.id in announced:
                continue
            announced.add(layer.id)
            if layer.unpacked and layer.blob.state == "stored":
                self.progress(layer.id, "Already exists", 0, 0)
                continue
            self.progress(layer.id, "Pulling fs layer", 0, 0)
        for layer in layers:
            if layer.blob.state == "todo" and layer.id in announced:
                waiting += 1
                if waiting > self.parallel:
                    self.progress(layer.id, "Waiting", 0, 0)
        return layers

    def _stored(self, descriptor: Descriptor) -> bool:
        try:
            info = self.root.content.info(descriptor.digest)
        except NotFound:
            return False
        self.root.leases.add_resource(self.lease_id, Resource("content", str(descriptor.digest)))
        return info.size == descriptor.size

    def _unpacked(self, name: str) -> bool:
        try:
            return self.root.snapshotter.stat(name).kind == Kind.COMMITTED
        except NotFound:
            return False

    # -- the unpacker ------------------------------------------------------------------------

    def _layer(self, layer: _Layer, parent: str, *, streaming: bool) -> None:
        """Bring one layer in. ``streaming``: this thread downloads its blob (it claimed it)."""
        streaming = streaming or self._claim(layer.blob)
        if layer.unpacked and layer.existed:
            layer.compression = self._verify(layer)  # announced as "Already exists"
            return
        if layer.unpacked:
            if streaming:
                self._download(layer.blob, layer.id)
            self._wait(layer.blob)
            layer.compression = self._verify(layer)
        elif streaming and not self._partial(layer.blob):
            self._stream(layer, parent)
        else:
            if streaming:
                self._download(layer.blob, layer.id)
            self._wait(layer.blob)
            self._unpack_stored(layer, parent)
        self.progress(layer.id, "Pull complete", 0, 0)

    def _claim(self, blob: _Blob) -> bool:
        with self._cond:
            if blob.state != "todo":
                return False
            blob.state = "claimed"
            return True

    def _stream(self, layer: _Layer, parent: str) -> None:
        """Download and unpack in one pass: network -> ingest (tee) -> apply_layer."""
        blob = layer.blob
        writer = self._writer(blob)
        if writer is None:  # someone else stored it meanwhile
            self._unpack_stored(layer, parent)
            return
        with writer, self._open(blob, 0) as reply:
            meter = Meter(self.progress, layer.id, "Downloading", blob.descriptor.size)
            source = Counting(reply.read_chunk, meter, blob.descriptor.size, self.cancel,
                               str(blob.digest))
            tee = TeeReader(source, writer)  # type: ignore[arg-type]
            result = self._extract(layer, parent, tee, writer)
            meter.emit()
        self._committed_blob(blob, layer.id)
        self.progress(layer.id, "Extracting", blob.descriptor.size, blob.descriptor.size)
        self._label(layer, result)

    def _unpack_stored(self, layer: _Layer, parent: str) -> None:
        size = layer.blob.descriptor.size
        meter = Meter(self.progress, layer.id, "Extracting", size)
        with self.root.content.open(layer.blob.digest) as stream:
            source = Counting(stream.read, meter, size, self.cancel, str(layer.blob.digest))
            result = self._extract(layer, parent, source, None)
        meter.emit()
        self._label(layer, result)

    def _extract(self, layer: _Layer, parent: str, stream: Readable,
                 writer: ContentWriter | None) -> ApplyResult:
        """Apply the layer into a fresh snapshot and commit it as its chainID once verified
        (with a ``writer``, the blob is committed first, from the drained stream)."""
        snapshotter = self.root.snapshotter
        key = next(self._keys)
        self.root.leases.add_resource(self.lease_id, Resource(self.kind, key))
        snapshotter.prepare(key, parent, labels={"dockyard/extract": str(layer.diff_id)})
        committed = False
        try:
            result = self._apply(layer, key, stream, writer)
            try:
                snapshotter.commit(layer.chain, key, usage=result.usage)
                committed = True
                self.committed.append(layer.chain)
            except AlreadyExists:
                log.debug("snapshot %s appeared meanwhile; sharing it", layer.chain)
        finally:
            if not committed:
                snapshotter.remove(key)
        return result

    def _apply(self, layer: _Layer, key: str, stream: Readable,
               writer: ContentWriter | None) -> ApplyResult:
        """Extract the layer into snapshot ``key``, a compressed one decompressed by an
        :class:`Inflater` beside the extraction; check its diffID."""
        snapshotter = self.root.snapshotter
        plain = mt.layer_compression(layer.blob.descriptor.media_type) == "none"
        inflater = None if plain else Inflater(stream, str(layer.blob.digest))
        upper = Path(snapshotter.upper_dir(key))
        try:
            with self._writeback(upper):
                result = apply_layer(inflater or stream, upper,
                                     whiteouts=snapshotter.whiteout_style,
                                     name=str(layer.blob.digest),
                                     stream_digest=writer.digest if writer and plain else None,
                                     measure=True)
        except DataCorrupt:
            if inflater is not None:
                inflater.close()
            if writer is not None:  # a damaged blob shows as a damaged tar first:
                self._finish(stream, writer, layer)  # name the blob if it is that
            raise
        finally:
            if inflater is not None:
                inflater.close()
        if writer is not None:
            self._finish(stream, writer, layer)
        if result.diff_id != layer.diff_id:
            raise DataCorrupt(f"invalid diffID for layer {layer.index}: expected "
                              f"{layer.diff_id}, got {result.diff_id} (blob {layer.blob.digest})")
        layer.compression = inflater.compression if inflater else result.compression
        return result

    def _writeback(self, upper: Path) -> AbstractContextManager[object]:
        """Start the layer's writeback while it is extracted (as import does), so that the
        snapshot's one sync at commit finds little left to write."""
        return Writeback(self.root.syscalls, upper)

    def _finish(self, stream: Readable, writer: ContentWriter, layer: _Layer) -> None:
        """Read the streamed blob to its end and commit it (verifying its digest)."""
        assert isinstance(stream, TeeReader)
        stream.drain()
        self._commit(writer, layer.blob, layer.id)

    def _label(self, layer: _Layer, result: ApplyResult) -> None:
        labels = {LABEL_DIFF_SIZE: str(result.diff_size),
                  LABEL_UNCOMPRESSED_SIZE: str(result.size)}
        if layer.compression != "none":
            labels[LABEL_UNCOMPRESSED] = str(layer.diff_id)
        self.root.content.update_labels(layer.blob.digest, labels)

    def _verify(self, layer: _Layer) -> Compression:
        """Check a stored blob against the diffID of an already unpacked layer."""
        digest = layer.blob.digest
        if digest == layer.diff_id:
            return "none"
        content = self.root.content
        if content.info(digest).labels.get(LABEL_UNCOMPRESSED) == str(layer.diff_id):
            with content.open(digest) as stream:
                return detect(stream.read(4))
        actual, size, compression = measure(content, digest)
        if actual != layer.diff_id:
            raise DataCorrupt(f"invalid diffID for layer {layer.index}: expected {layer.diff_id}"
                              f", got {actual} (blob {digest})")
        content.update_labels(digest, {LABEL_UNCOMPRESSED: str(layer.diff_id),
                                       LABEL_UNCOMPRESSED_SIZE: str(size)})
        return compression

    def _layer_blob(self, layer: _Layer) -> LayerBlob:
        descriptor = layer.blob.descriptor
        compression = mt.layer_compression(descriptor.media_type) \
            if mt.is_layer(descriptor.media_type) else layer.compression
        return LayerBlob(descriptor.digest, descriptor.size, compression, layer.diff_id)

    # -- downloads ---------------------------------------------------------------------------

    def _worker(self) -> None:
        while True:
            with self._cond:
                blob = next((b for b in self._blobs if b.state == "todo"), None)
                if blob is None or self.cancel.is_set():
                    return
                blob.state = "claimed"
            try:
                self._download(blob, blob.digest.short)
            except BaseException as exc:  # reported to the unpacker through the blob
                log.debug("download of %s failed: %s", blob.digest, exc)
                return

    def _download(self, blob: _Blob, layer_id: str) -> None:
        """Fetch ``blob`` into its ingest (resuming it) and commit it; mark it stored or
        failed."""
        try:
            writer = self._writer(blob)
            if writer is not None:
                with writer:
                    self._copy(blob, writer, layer_id)
            self._committed_blob(blob, layer_id)
            self._set(blob, "stored")
        except BaseException as exc:
            self._set(blob, "failed", exc)
            raise

    def _copy(self, blob: _Blob, writer: ContentWriter, layer_id: str) -> None:
        size = blob.descriptor.size
        offset = writer.offset
        meter = Meter(self.progress, layer_id, "Downloading", size)
        if offset < size:
            with self._open(blob, offset) as reply:
                if reply.status != 206 and offset:
                    writer.truncate(0)
                meter.current = writer.offset
                source = Counting(reply.read_chunk, meter, size, self.cancel, str(blob.digest))
                while chunk := source.read(CHUNK):
                    writer.write(chunk)
        meter.emit()
        self._commit(writer, blob, layer_id)

    def _commit(self, writer: ContentWriter, blob: _Blob, layer_id: str) -> None:
        self.progress(layer_id, "Verifying Checksum", 0, 0)
        try:
            writer.commit(blob.descriptor.size, blob.digest, labels=self._source)
        except DataCorrupt as exc:
            raise DataCorrupt(f"filesystem layer verification failed for digest {blob.digest}: "
                              f"{exc}") from exc

    def _committed_blob(self, blob: _Blob, layer_id: str) -> None:
        self.root.leases.add_resource(self.lease_id, Resource("content", str(blob.digest)))
        self.progress(layer_id, "Download complete", 0, 0)

    def _open(self, blob: _Blob, offset: int) -> Reply:
        return self.client.open_blob(self.repository, blob.digest, offset)

    def _writer(self, blob: _Blob) -> ContentWriter | None:
        """The ingest's writer, waiting while another pull holds it; None once the blob is
        stored."""
        ref = f"pull-{blob.digest}"
        self.root.leases.add_resource(self.lease_id, Resource("ingest", ref))
        while True:
            if self.cancel.is_set():
                raise Unavailable(f"pull of {blob.digest} cancelled")
            if self.root.content.exists(blob.digest):
                return None
            try:
                return self.root.content.writer(ref, blob.digest, blob.descriptor.size)
            except Conflict:
                log.debug("ingest %s is busy; waiting", ref)
                time.sleep(_WAIT)

    def _partial(self, blob: _Blob) -> bool:
        """An interrupted pull left part of this blob: finish it rather than stream anew."""
        try:
            return self.root.content.status(f"pull-{blob.digest}").offset > 0
        except (NotFound, DataCorrupt):
            return False

    def _set(self, blob: _Blob, state: str, error: BaseException | None = None) -> None:
        with self._cond:
            blob.state = state
            blob.error = error
            self._cond.notify_all()

    def _wait(self, blob: _Blob) -> None:
        """Wait until a blob another thread downloads is stored; raise its failure."""
        with self._cond:
            while blob.state not in ("stored", "failed"):
                self._cond.wait(0.5)
        if blob.error is not None:
            raise blob.error

    def _fail(self) -> None:
        with self._cond:
            self.cancel.set()
            self._cond.notify_all()

    def rollback(self) -> None:
        """Remove the snapshots this fetch committed that no other lease holds."""
        held = {r.id for lease in self.root.leases.leases() if lease.id != self.lease_id
                for r in lease.resources if r.kind == self.kind}
        for name in reversed(self.committed):
            if name in held:
                continue
            try:
                self.root.snapshotter.remove(name)
            except DockyardError as exc:
                log.warning("rollback: could not remove snapshot %s: %s", name, exc)
        self.committed.clear()
