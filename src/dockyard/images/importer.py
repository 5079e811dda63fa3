"""Import a root filesystem tar as a one-layer image (``docker import``).

The tar is read once: the bytes pass through a content ingest (the layer blob) and, in the same
pass, are decompressed, hashed into the diffID and extracted into a fresh snapshot. An
uncompressed tar is hashed once: its blob digest is its diffID. The extraction also counts the
snapshot's disk usage (so committing it walks no tree) and dockerd's size of the layer, which is
kept as the blob label ``dockyard/diff-size`` for the image service. Everything
written belongs to a lease until the image record is written, so a crash at any instant leaves the
image whole or absent, and garbage collection reclaims the rest once the lease expires::

    lease ─┬─ ingest  import-<id>        (resumable blob data)
           ├─ snapshot extract-<id>      (active, removed on failure)
           └─ content  layer, config, manifest
    commit snapshot as <chainID>, then write the image record, then drop the lease.
"""

from __future__ import annotations

import logging
import os
import time
import uuid
from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext, suppress
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import BinaryIO

from dockyard.archive.apply import ApplyResult, apply_layer
from dockyard.content.leases import LeaseStore, Resource
from dockyard.content.store import ContentStore, TeeReader
from dockyard.errors import AlreadyExists, NotFound
from dockyard.images.archive import LABEL_UNCOMPRESSED, LABEL_UNCOMPRESSED_SIZE
from dockyard.images.assemble import LayerBlob, write_image
from dockyard.images.store import ImageStore, Target
from dockyard.oci.config import ContainerConfig, History, ImageConfig, RootFS, rfc3339_nano
from dockyard.oci.digest import Digest
from dockyard.oci.platform import Platform
from dockyard.snapshots import Snapshotter
from dockyard.snapshots.directory import Writeback
from dockyard.sys import Syscalls

log = logging.getLogger(__name__)

LEASE_SECONDS = 3600.0
DANGLING_PREFIX = "moby-dangling@"
LABEL_DIFF_SIZE = "dockyard/diff-size"  # the image service's SIZE_LABEL: dockerd's layer size


@dataclass(frozen=True, slots=True)
class ImportResult:
    name: str
    image_id: Digest
    manifest: Digest
    layer: LayerBlob


class Importer:
    """Turns rootfs tars into images in the given stores."""

    def __init__(
        self,
        content: ContentStore,
        leases: LeaseStore,
        snapshotter: Snapshotter,
        snapshotter_name: str,
        images: ImageStore,
        *,
        clock: Callable[[], float] = time.time,
        syscalls: Syscalls | None = None,
    ) -> None:
        """With ``syscalls``, the writeback of each layer starts while it is extracted (see
        :class:`~dockyard.snapshots.directory.Writeback`)."""
        self.content = content
        self.syscalls = syscalls
        self.leases = leases
        self.snapshotter = snapshotter
        self.snapshot_kind = f"snapshots/{snapshotter_name}"
        self.images = images
        self.clock = clock

    def import_rootfs(
        self,
        stream: BinaryIO,
        name: str | None,
        *,
        config: ContainerConfig | None = None,
        comment: str = "Imported from -",
        platform: Platform | None = None,
    ) -> ImportResult:
        """Import ``stream`` (a plain, gzip or zstd tar) and tag it ``name`` (fully qualified).

        With no name the image is recorded untagged (dangling), as ``docker import`` does.
        """
        token = uuid.uuid4().hex[:16]
        lease = self.leases.create(
            labels={"dockyard/purpose": "import", "dockyard/pid": str(os.getpid())},
            expires_at=self.clock() + LEASE_SECONDS
        )
        try:
            layer = self._unpack(stream, token, lease.id, name or "-")
            created = rfc3339_nano(datetime.fromtimestamp(self.clock(), UTC))
            host = (platform or Platform.current()).normalize()
            image_config = ImageConfig(
                architecture=host.architecture,
                os=host.os,
                variant=host.variant,
                rootfs=RootFS(diff_ids=(layer.diff_id,)),
                config=config or ContainerConfig(),
                history=(History(created=created, comment=comment),),
                created=created,
            )
            image = write_image(self.content, image_config, [layer])
            for digest in (image.config, image.manifest.digest):
                self.leases.add_resource(lease.id, Resource("content", str(digest)))
            record = name or f"{DANGLING_PREFIX}{image.manifest.digest}"
            manifest = image.manifest
            self.images.set(record, Target(manifest.media_type, manifest.digest, manifest.size))
            log.info("imported %s as %s (layer %s)", record, image.config, layer.digest.short)
            return ImportResult(record, image.config, manifest.digest, layer)
        finally:
            self.leases.delete(lease.id)

    def _unpack(self, stream: BinaryIO, token: str, lease_id: str, label: str) -> LayerBlob:
        """Store the blob and extract it in one pass; commit the snapshot as its chainID."""
        key = f"extract-{token}"
        ref = f"import-{token}"
        self.leases.add_resource(lease_id, Resource(self.snapshot_kind, key))
        self.leases.add_resource(lease_id, Resource("ingest", ref))
        self.snapshotter.prepare(key, "", labels={"dockyard/extract": label})
        committed = False
        try:
            upper = Path(self.snapshotter.upper_dir(key))
            with self.content.writer(ref) as writer:
                with self._writeback(upper):
                    tee = TeeReader(stream, writer)
                    result = apply_layer(
                        tee,
                        upper,
                        whiteouts=self.snapshotter.whiteout_style,
                        name=label,
                        stream_digest=writer.digest,
                        measure=True,
                    )
                    tee.drain()
                blob = writer.commit(labels=_labels(result))
            self.leases.add_resource(lease_id, Resource("content", str(blob)))
            try:
                # A single layer's chainID is its diffID (image-spec config.md).
                self.snapshotter.commit(str(result.diff_id), key, usage=result.usage)
                committed = True
            except AlreadyExists:
                log.debug("layer %s is unpacked already; sharing it", result.diff_id)
            size = self.content.info(blob).size
            return LayerBlob(blob, size, result.compression, result.diff_id)
        except BaseException:
            with suppress(NotFound):
                self.content.abort(ref)
            raise
        finally:
            if not committed:
                self.snapshotter.remove(key)

    def _writeback(self, upper: Path) -> AbstractContextManager[object]:
        return nullcontext() if self.syscalls is None else Writeback(self.syscalls, upper)


def _labels(result: ApplyResult) -> dict[str, str]:
    """What the blob records about its layer, so that nothing reads the tar again for it: the
    size the image service shows and, for a compressed blob, its diffID and tar size (save needs
    them; an uncompressed blob is its own tar), as the pull's unpacker labels them."""
    labels = {LABEL_DIFF_SIZE: str(result.diff_size)}
    if result.compression != "none":
        labels[LABEL_UNCOMPRESSED] = str(result.diff_id)
        labels[LABEL_UNCOMPRESSED_SIZE] = str(result.size)
    return labels
