"""Garbage collection: remove what no image, container, lease or build cache references.

Mark and sweep, as containerd's metadata GC does:

1. Expired leases are deleted; live leases' resources are roots.
2. Roots: each image record's target, lease resources, and the caller's extra roots
   (containers' snapshots, build cache entries).
3. Mark content by walking descriptors: an index marks its manifests, a manifest its config and
   layers. Mark snapshots: a manifest's config names diffIDs, whose chainIDs are the committed
   snapshots of that image; a marked snapshot marks its parent.
4. Sweep: delete unmarked blobs, remove unmarked snapshots children first, and drop ingests that
   no lease holds once they are older than ``ingest_grace`` seconds.

The caller holds the data root's write lock; nothing else writes while this runs.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from dockyard.content.leases import LeaseStore
from dockyard.content.store import ContentStore
from dockyard.errors import DockyardError, NotFound
from dockyard.images.store import ImageStore
from dockyard.oci import mediatypes as mt
from dockyard.oci.config import ImageConfig
from dockyard.oci.digest import Digest
from dockyard.oci.identity import chain_ids
from dockyard.oci.manifest import Index, Manifest, parse_manifest_or_index
from dockyard.snapshots import Snapshotter

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Roots:
    """References held outside images and leases (containers, build cache)."""

    content: frozenset[Digest] = frozenset()
    snapshots: frozenset[str] = frozenset()


@dataclass(frozen=True, slots=True)
class Report:
    blobs: tuple[Digest, ...] = ()
    snapshots: tuple[str, ...] = ()
    ingests: tuple[str, ...] = ()
    leases: tuple[str, ...] = ()
    bytes_freed: int = 0


@dataclass
class _Marks:
    content: set[Digest] = field(default_factory=set)
    snapshots: set[str] = field(default_factory=set)


class Collector:
    def __init__(
        self,
        content: ContentStore,
        leases: LeaseStore,
        snapshotter: Snapshotter,
        snapshotter_name: str,
        images: ImageStore,
        *,
        ingest_grace: float = 3600.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.content = content
        self.leases = leases
        self.snapshotter = snapshotter
        self.snapshot_kind = f"snapshots/{snapshotter_name}"
        self.images = images
        self.ingest_grace = ingest_grace
        self.clock = clock

    def collect(self, roots: Roots | None = None) -> Report:
        roots = roots or Roots()
        expired = self.leases.delete_expired()
        marks = _Marks(set(roots.content), set(roots.snapshots))
        held = self.leases.resources()
        marks.content.update(Digest.parse(r.id) for r in held if r.kind == "content")
        marks.snapshots.update(r.id for r in held if r.kind == self.snapshot_kind)
        for record in self.images.records():
            self._mark_content(record.target.digest, marks)
        self._close_snapshot_parents(marks)
        blobs, freed = self._sweep_content(marks)
        snapshots = self._sweep_snapshots(marks)
        leased_ingests = {r.id for r in held if r.kind == "ingest"}
        ingests = self.content.prune_ingests(self.clock() - self.ingest_grace, leased_ingests)
        report = Report(tuple(blobs), tuple(snapshots), tuple(ingests), tuple(expired), freed)
        log.info("gc removed %d blobs (%d bytes), %d snapshots, %d ingests, %d leases",
                 len(blobs), freed, len(snapshots), len(ingests), len(expired))
        return report

    def _mark_content(self, digest: Digest, marks: _Marks) -> None:
        """Mark ``digest`` and what it references; a missing child is skipped (pull may be
        partial), a malformed document is kept without its children and logged."""
        pending = [digest]
        while pending:
            current = pending.pop()
            if current in marks.content:
                continue
            marks.content.add(current)
            try:
                document = parse_manifest_or_index(self.content.read_bytes(current))
            except NotFound:
                continue
            except DockyardError as exc:
                log.debug("not a manifest or index: %s (%s)", current, exc)
                continue
            pending.extend(self._children(document, marks))

    def _children(self, document: Manifest | Index, marks: _Marks) -> Iterable[Digest]:
        if isinstance(document, Index):
            return [d.digest for d in document.manifests]
        config = document.config
        marks.content.add(config.digest)
        if mt.is_config(config.media_type):
            try:
                image = ImageConfig.from_json(self.content.read_bytes(config.digest))
            except DockyardError as exc:
                log.warning("image config %s is unreadable: %s", config.digest, exc)
            else:
                marks.snapshots.update(str(c) for c in chain_ids(image.diff_ids))
        return [layer.digest for layer in document.layers]

    def _close_snapshot_parents(self, marks: _Marks) -> None:
        parents = {info.name: info.parent for info in self.snapshotter.walk()}
        pending = list(marks.snapshots)
        while pending:
            parent = parents.get(pending.pop(), "")
            if parent and parent not in marks.snapshots:
                marks.snapshots.add(parent)
                pending.append(parent)

    def _sweep_content(self, marks: _Marks) -> tuple[list[Digest], int]:
        removed: list[Digest] = []
        freed = 0
        for info in list(self.content.walk()):
            if info.digest not in marks.content:
                self.content.delete(info.digest)
                removed.append(info.digest)
                freed += info.size
        return removed, freed

    def _sweep_snapshots(self, marks: _Marks) -> list[str]:
        infos = {info.name: info for info in self.snapshotter.walk()}

        def depth(name: str) -> int:
            count = 0
            while name in infos and infos[name].parent:
                name = infos[name].parent
                count += 1
            return count

        doomed = sorted((n for n in infos if n not in marks.snapshots), key=depth, reverse=True)
        removed = []
        for name in doomed:
            try:
                self.snapshotter.remove(name)
                removed.append(name)
            except DockyardError as exc:
                # A child still in use by something unmarked (a container of another snapshotter
                # user) keeps its parent; report and go on.
                log.warning("gc could not remove snapshot %s: %s", name, exc)
        return removed
