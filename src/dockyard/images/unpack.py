"""Unpacking an image's layers from the content store into its chain of snapshots.

Layer ``i`` of an image becomes the committed snapshot named by the chainID of layers ``0..i``
(image-spec config.md), whose parent is the snapshot of layer ``i - 1``. A snapshot that exists
already is shared ("Already exists"), but its blob is still checked against the diffID the
config names, so that a manifest never points at a blob that does not hold its layer::

    for each layer, bottom first:
        chainID committed?  yes: verify blob -> diffID (free when the blob is the plain tar)
                            no:  prepare unpack-<token>-<n> on the parent chainID,
                                 apply the blob (decompress, hash, extract in one pass),
                                 diffID matches? commit as chainID : remove, DataCorrupt

Every snapshot used or made is added to the caller's lease, so garbage collection leaves it
alone until the image record is written. :meth:`Unpacker.rollback` removes the snapshots this
unpacker committed (children first) when the whole operation fails; an active snapshot never
outlives its layer. Compressed blobs get the labels save reads (their tar's diffID and size).
"""

from __future__ import annotations

import hashlib
import itertools
import logging
from collections.abc import Callable, Sequence
from pathlib import Path

from dockyard.archive.apply import apply_layer
from dockyard.archive.compression import Compression, detect, open_stream
from dockyard.content.leases import LeaseStore, Resource
from dockyard.content.store import ContentStore
from dockyard.errors import AlreadyExists, DataCorrupt, DockyardError, NotFound
from dockyard.images.archive import LABEL_UNCOMPRESSED, LABEL_UNCOMPRESSED_SIZE
from dockyard.images.assemble import LayerBlob
from dockyard.oci.digest import Digest
from dockyard.oci.identity import chain_ids
from dockyard.snapshots import Kind, Snapshotter

log = logging.getLogger(__name__)

#: Called with a layer's diffID and "Already exists", "Loading layer" or "Loaded".
Progress = Callable[[Digest, str], None]


class Unpacker:
    """Unpacks layers for one operation that holds the lease ``lease_id``."""

    def __init__(
        self,
        content: ContentStore,
        leases: LeaseStore,
        snapshotter: Snapshotter,
        snapshotter_name: str,
        lease_id: str,
        *,
        token: str,
        progress: Progress | None = None,
    ) -> None:
        self.content = content
        self.leases = leases
        self.snapshotter = snapshotter
        self.kind = f"snapshots/{snapshotter_name}"
        self.lease_id = lease_id
        self.progress = progress or (lambda diff_id, status: None)
        self.committed: list[str] = []
        self._keys = (f"unpack-{token}-{n}" for n in itertools.count())
        self._verified: dict[tuple[Digest, Digest], Compression] = {}

    def unpack(self, blobs: Sequence[Digest], diff_ids: Sequence[Digest],
               image: str) -> list[LayerBlob]:
        """Make the snapshots of ``blobs`` (bottom first, one per diffID); ``image`` names the
        image in errors. Returns the layers as a manifest lists them."""
        layers: list[LayerBlob] = []
        parent = ""
        for index, (blob, diff_id, chain) in enumerate(
            zip(blobs, diff_ids, chain_ids(diff_ids), strict=True)
        ):
            self.leases.add_resource(self.lease_id, Resource(self.kind, str(chain)))
            where = f"layer {index} of image {image}"
            if self._committed(str(chain)):
                self.progress(diff_id, "Already exists")
                compression = self._verify(blob, diff_id, where)
            else:
                self.progress(diff_id, "Loading layer")
                compression = self._apply(blob, diff_id, str(chain), parent, where)
                self.progress(diff_id, "Loaded")
            layers.append(LayerBlob(blob, self.content.info(blob).size, compression, diff_id))
            parent = str(chain)
        return layers

    def rollback(self) -> None:
        """Remove the snapshots this unpacker committed that no other lease holds."""
        held = {r.id for lease in self.leases.leases() if lease.id != self.lease_id
                for r in lease.resources if r.kind == self.kind}
        for name in reversed(self.committed):
            if name in held:
                continue
            try:
                self.snapshotter.remove(name)
            except DockyardError as exc:
                log.warning("rollback: could not remove snapshot %s: %s", name, exc)
        self.committed.clear()

    def _committed(self, name: str) -> bool:
        try:
            return self.snapshotter.stat(name).kind == Kind.COMMITTED
        except NotFound:
            return False

    def _verify(self, blob: Digest, diff_id: Digest, where: str) -> Compression:
        """Check that ``blob`` is (or decompresses to) the tar ``diff_id`` names. Labels are
        set only after such a check, so a blob labelled with this diffID passes at once."""
        if blob == diff_id:
            return "none"  # the store verified the blob's digest: it is this very tar
        known = self._verified.get((blob, diff_id))
        if known is not None:
            return known
        if self.content.info(blob).labels.get(LABEL_UNCOMPRESSED) == str(diff_id):
            with self.content.open(blob) as stream:  # labelled after an earlier check
                return detect(stream.read(4))
        hasher = hashlib.sha256()
        size = 0
        with self.content.open(blob) as stream:
            source = open_stream(stream, str(blob))
            while chunk := source.read_chunk():
                hasher.update(chunk)
                size += len(chunk)
        self._check(blob, diff_id, Digest.from_hasher(hasher), where)
        self._remember(blob, diff_id, source.compression, size)
        return source.compression

    def _apply(self, blob: Digest, diff_id: Digest, chain: str, parent: str,
               where: str) -> Compression:
        key = next(self._keys)
        self.leases.add_resource(self.lease_id, Resource(self.kind, key))
        self.snapshotter.prepare(key, parent, labels={"dockyard/extract": str(diff_id)})
        committed = False
        try:
            with self.content.open(blob) as stream:
                result = apply_layer(stream, Path(self.snapshotter.upper_dir(key)),
                                     whiteouts=self.snapshotter.whiteout_style, name=str(blob))
            self._check(blob, diff_id, result.diff_id, where)
            try:
                self.snapshotter.commit(chain, key)
                committed = True
                self.committed.append(chain)
            except AlreadyExists:
                log.debug("snapshot %s appeared meanwhile; sharing it", chain)
        finally:
            if not committed:
                self.snapshotter.remove(key)
        self._remember(blob, diff_id, result.compression, result.size)
        return result.compression

    @staticmethod
    def _check(blob: Digest, expected: Digest, actual: Digest, where: str) -> None:
        if actual != expected:
            raise DataCorrupt(f"invalid diffID for {where}: expected {expected}, got {actual} "
                              f"(blob {blob})")

    def _remember(self, blob: Digest, diff_id: Digest, compression: Compression,
                  size: int) -> None:
        self._verified[(blob, diff_id)] = compression
        if compression != "none":
            self.content.update_labels(blob, {LABEL_UNCOMPRESSED: str(diff_id),
                                              LABEL_UNCOMPRESSED_SIZE: str(size)})
