"""What the image service knows about each image, computed once and then kept in memory.

Everything here follows from content: a manifest digest fixes the config and the layers, a diffID
fixes a layer's size. So a cached :class:`ImageFacts` never goes stale; the cache only forgets
the images that are gone (:meth:`Catalog.retain`). Listing 200 images reads no file.

A layer's size is what dockerd 20.10's overlay2 driver reports (moby ``pkg/directory.Size`` of the
layer's diff directory): the sum of ``st_size`` of every entry that is not a directory and not
empty, a hard-linked inode counted once. Symlinks count the length of their target; whiteouts
(character devices) and directories count nothing. It is computed from the layer's tar, the same
for every snapshotter, the first time it is needed, and kept on the layer blob as the content
label ``dockyard/diff-size`` so a restarted daemon does not read the tar again. An image's size
is the sum over its layers.
"""

from __future__ import annotations

import json
import logging
import posixpath
import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, BinaryIO

from dockyard.archive.compression import open_stream
from dockyard.archive.tarreader import DIR, LNK, REG, SYM, TarReader
from dockyard.content.store import ContentStore
from dockyard.errors import DataCorrupt, DockyardError, NotFound
from dockyard.images.importer import LABEL_DIFF_SIZE
from dockyard.images.resolve import (
    Candidate,
    is_dangling,
    record_reference,
    resolve_manifest,
)
from dockyard.images.store import ImageRecord, ImageStore, Target
from dockyard.oci.config import ImageConfig
from dockyard.oci.digest import Digest
from dockyard.oci.identity import chain_ids
from dockyard.oci.reference import Reference
from dockyard.services.image_render import GoTime, config_labels

log = logging.getLogger(__name__)

SIZE_LABEL = LABEL_DIFF_SIZE  # the importer and the pull write it when they unpack
_WHITEOUT = ".wh."
_OPAQUE = ".wh..wh..opq"


@dataclass(frozen=True, slots=True)
class LayerFacts:
    """One layer of an image: its chainID (the snapshot name), diffID, blob and own size."""

    chain_id: Digest
    diff_id: Digest
    blob: Digest | None
    size: int


@dataclass(frozen=True, slots=True)
class ImageFacts:
    """An image as one manifest describes it. ``config`` is the decoded config JSON."""

    id: Digest
    manifest: Digest
    config: Mapping[str, Any]
    created: GoTime
    labels: dict[str, str] | None
    layers: tuple[LayerFacts, ...]
    size: int

    @property
    def chain_ids(self) -> tuple[Digest, ...]:
        return tuple(layer.chain_id for layer in self.layers)


@dataclass(frozen=True, slots=True)
class Image:
    """One image (one ID) and every record that leads to it, in record-name order."""

    facts: ImageFacts
    records: tuple[ImageRecord, ...]
    references: tuple[Reference, ...]

    @property
    def id(self) -> Digest:
        return self.facts.id

    @property
    def tags(self) -> list[str]:
        """``RepoTags``: the tagged names, familiar (``busybox:latest``)."""
        return [r.familiar() for r in self.references if r.tag is not None]

    @property
    def digests(self) -> list[str]:
        """``RepoDigests``: the ``name@digest`` names, familiar."""
        return [r.familiar() for r in self.references if r.digest is not None]

    def last_tagged(self) -> float | None:
        """When a name last moved to this image (``Metadata.LastTagTime``)."""
        times = [r.updated for r in self.records if not is_dangling(r.name)]
        return max(times) if times else None


def diff_size(stream: BinaryIO, name: str = "layer") -> int:
    """dockerd's size of a layer (see the module docstring), read from its tar (plain, gzip or
    zstd)."""
    reader = TarReader(open_stream(stream, name), name)
    inode_of: dict[str, int] = {}
    sizes: list[int] = []
    while (entry := reader.next()) is not None:
        path = _clean(entry.name)
        base = posixpath.basename(path)
        if entry.type == DIR or base == _OPAQUE:
            inode_of.pop(path, None)
            continue
        if base.startswith(_WHITEOUT):
            path = posixpath.join(posixpath.dirname(path), base[len(_WHITEOUT) :])
            size = 0
        elif entry.type == LNK and _clean(entry.linkname) in inode_of:
            inode_of[path] = inode_of[_clean(entry.linkname)]
            continue
        elif entry.type == REG:
            size = entry.size
        elif entry.type == SYM:
            size = len(entry.linkname.encode("utf-8", "surrogateescape"))
        else:
            size = 0
        inode_of[path] = len(sizes)
        sizes.append(size)
    return sum(sizes[inode] for inode in set(inode_of.values()))


def _clean(name: str) -> str:
    return posixpath.normpath("/" + name).lstrip("/")


class Catalog:
    """Image facts by record target, record names parsed once, layer sizes by diffID."""

    def __init__(self, content: ContentStore, images: ImageStore) -> None:
        self.content = content
        self.store = images
        self._facts: dict[Digest, ImageFacts] = {}
        self._sizes: dict[Digest, int] = {}
        self._references: dict[str, Reference | None] = {}
        self._sizing = threading.Lock()

    def facts(self, target: Target) -> ImageFacts:
        """The image ``target`` leads to; NotFound or DataCorrupt if its content is missing or
        broken."""
        facts = self._facts.get(target.digest)
        if facts is None:
            facts = self._load(target)
            self._facts[target.digest] = facts
        return facts

    def candidates(self) -> list[Candidate]:
        """Every record with the image it leads to, in record-name order; records whose
        content is unreadable are left out (and logged)."""
        out = []
        for record in self.store.records():
            try:
                self.reference(record.name)
                out.append(Candidate(record, self.facts(record.target).id))
            except DockyardError as exc:
                log.warning("image record %s is unusable: %s", record.name, exc)
        return out

    def images(self) -> dict[Digest, Image]:
        """Every image by ID, in the order of their first record's name."""
        grouped: dict[Digest, list[Candidate]] = {}
        for candidate in self.candidates():
            grouped.setdefault(candidate.image_id, []).append(candidate)
        out = {}
        for image_id, members in grouped.items():
            records = tuple(c.record for c in members)
            names = (self.reference(r.name) for r in records)
            out[image_id] = Image(
                self.facts(records[0].target), records, tuple(n for n in names if n is not None)
            )
        return out

    def reference(self, name: str) -> Reference | None:
        """The parsed name of a record (None for dangling records), parsed once."""
        if name not in self._references:
            self._references[name] = record_reference(name)
        return self._references[name]

    def retain(self, targets: Iterable[Digest]) -> None:
        """Forget the facts of targets no record points at any more."""
        keep = set(targets)
        for digest in [d for d in list(self._facts) if d not in keep]:
            self._facts.pop(digest, None)
        names = {r.name for r in self.store.records()}
        for name in [n for n in list(self._references) if n not in names]:
            self._references.pop(name, None)

    def _load(self, target: Target) -> ImageFacts:
        manifest_digest, manifest = resolve_manifest(self.content, target)
        data = self.content.read_bytes(manifest.config.digest)
        config = ImageConfig.from_json(data)
        try:
            raw = json.loads(data)
        except ValueError as exc:  # from_json accepted it, so this cannot happen
            raise DataCorrupt(f"image config {manifest.config.digest}: {exc}") from exc
        blobs: list[Digest | None] = [d.digest for d in manifest.layers]
        blobs += [None] * (len(config.diff_ids) - len(blobs))
        layers = tuple(
            LayerFacts(chain, diff_id, blob, self._size(diff_id, blob))
            for chain, diff_id, blob in zip(
                chain_ids(config.diff_ids), config.diff_ids, blobs, strict=False
            )
        )
        return ImageFacts(
            id=manifest.config.digest,
            manifest=manifest_digest,
            config=raw,
            created=GoTime.parse(raw.get("created")),
            labels=config_labels(raw),
            layers=layers,
            size=sum(layer.size for layer in layers),
        )

    def _size(self, diff_id: Digest, blob: Digest | None) -> int:
        known = self._sizes.get(diff_id)
        if known is not None:
            return known
        if blob is None:
            log.warning("layer %s has no blob: its size counts as 0", diff_id)
            return 0
        with self._sizing:
            size = self._stored_size(blob)
            if size is None:
                size = self._measure(diff_id, blob)
            self._sizes[diff_id] = size
        return size

    def _stored_size(self, blob: Digest) -> int | None:
        try:
            text = self.content.info(blob).labels.get(SIZE_LABEL, "")
        except NotFound:
            return None
        return int(text) if text.isdigit() else None

    def _measure(self, diff_id: Digest, blob: Digest) -> int:
        try:
            with self.content.open(blob) as stream:
                size = diff_size(stream, str(diff_id))
        except NotFound:
            log.warning("layer blob %s of %s is missing: its size counts as 0", blob, diff_id)
            return 0
        self.content.update_labels(blob, {SIZE_LABEL: str(size)})
        log.debug("layer %s (blob %s) has size %d", diff_id, blob, size)
        return size
