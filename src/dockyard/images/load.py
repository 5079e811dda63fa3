"""``docker load``: images into the store from a docker-archive, an OCI layout, or both in one.

The archive is read once (:mod:`dockyard.images.receive`): every file that may be a blob goes
into the content store, the metadata documents stay in memory. Then, all under one lease::

    plan      manifest.json entries and index.json manifests, merged by config digest (image
              ID); every config, layer count, name and blob checked before anything is unpacked
    unpack    each image's layers into chainID snapshots (dockyard.images.unpack), existing
              ones shared; every blob checked against its config's diffID
    manifest  the archive's own manifest where it has a usable one, else a Docker schema 2
              manifest written here (dockyard.images.assemble), as dockerd records loaded images
    record    the image records (names fully qualified; an untagged image is
              moby-dangling@<manifest digest>); a name taken from another image leaves that
              image dangling, as dockerd renames it to <none>

The image ID is the config digest, so it is the ID dockerd gives the same archive. Until the
records are written nothing names the new content: on any error the snapshots this load
committed are removed, blobs it created that nothing uses are deleted, and the lease is dropped.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import time
import uuid
from collections.abc import Callable
from contextlib import suppress
from dataclasses import dataclass
from typing import TYPE_CHECKING, BinaryIO

from dockyard.content.leases import Resource
from dockyard.content.store import ContentStore
from dockyard.errors import DockyardError, InvalidArgument, NotFound, Unsupported
from dockyard.images.archive import (
    INDEX_JSON,
    MANIFEST_JSON,
    name_of_descriptor,
    parse_manifest_json,
)
from dockyard.images.assemble import LayerBlob, write_image
from dockyard.images.importer import DANGLING_PREFIX
from dockyard.images.receive import Blob, Received, Receiver
from dockyard.images.store import ImageStore, Target
from dockyard.images.unpack import Progress, Unpacker
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

LEASE_SECONDS = 3600.0


@dataclass(frozen=True, slots=True)
class Loaded:
    """One loaded name (fully qualified), or an image loaded without one (``name`` None).
    ``replaced`` is the ID of another image the name pointed at before."""

    name: str | None
    image_id: Digest
    replaced: Digest | None = None

    @property
    def message(self) -> str:
        """What dockerd prints for it (familiar name, or the ID of an untagged image)."""
        if self.name is None:
            return f"Loaded image ID: {self.image_id}"
        return f"Loaded image: {parse_reference(self.name).familiar()}"


@dataclass(frozen=True, slots=True)
class _Plan:
    """One image to load: its config, layer blobs (bottom first) and names."""

    config: ImageConfig
    config_digest: Digest
    layers: tuple[Blob, ...]
    manifest: Manifest | None  # the archive's own, when it describes these layers
    names: tuple[Reference, ...]


def load_images(
    root: DataRoot,
    stream: BinaryIO,
    *,
    progress: Progress | None = None,
    clock: Callable[[], float] = time.time,
) -> list[Loaded]:
    """Load every image of the archive read from ``stream`` (see the module docstring).

    Returns one :class:`Loaded` per name, in archive order, and one per untagged image.
    """
    token = uuid.uuid4().hex[:16]
    labels = {"dockyard/purpose": "load", "dockyard/pid": str(os.getpid())}
    with root.leases.lease(labels=labels, expires_at=clock() + LEASE_SECONDS) as lease:
        received = Received()
        unpacker = Unpacker(root.content, root.leases, root.snapshotter, root.snapshotter_name,
                            lease.id, token=token, progress=progress)
        used: set[Digest] = set()
        try:
            Receiver(root.content, root.leases, lease.id, token).receive(stream, received)
            plans = plan_load(root.content, received)
            unpacked = [unpacker.unpack([layer.digest for layer in plan.layers],
                                        plan.config.diff_ids, str(plan.config_digest))
                        for plan in plans]
            targets = [_manifest(root, plan, layers, lease.id)
                       for plan, layers in zip(plans, unpacked, strict=True)]
            for plan, target in zip(plans, targets, strict=True):
                used.update((layer.digest for layer in plan.layers),
                            (plan.config_digest, target.digest))
        except BaseException:
            used.clear()
            unpacker.rollback()
            raise
        finally:
            _drop_unused(root, received.created - used, lease.id)
        return [loaded for plan, target in zip(plans, targets, strict=True)
                for loaded in _record(root.content, root.images, plan, target)]


def plan_load(content: ContentStore, received: Received) -> list[_Plan]:
    """The images an archive holds, merged by image ID, each checked against the store."""
    documents = received.documents
    if MANIFEST_JSON not in documents and INDEX_JSON not in documents:
        raise InvalidArgument(
            f"load: not an image archive: it has neither {MANIFEST_JSON} nor {INDEX_JSON}"
        )
    plans: dict[Digest, _Plan] = {}
    if MANIFEST_JSON in documents:
        for index, item in enumerate(parse_manifest_json(documents[MANIFEST_JSON])):
            config = received.resolve(item.config, f"config of {MANIFEST_JSON} entry {index}")
            layers = tuple(received.resolve(path, f"layer {i} of image {config.digest}")
                           for i, path in enumerate(item.layers))
            names = tuple(_repo_tag(tag) for tag in item.repo_tags)
            _merge(plans, _new_plan(content, config.digest, layers, None, names))
    if INDEX_JSON in documents:
        index_doc = Index.from_json(documents[INDEX_JSON])
        for descriptor in index_doc.manifests:
            manifest = _oci_manifest(content, descriptor)
            if manifest is not None:
                _merge_oci(content, plans, manifest, descriptor)
    return list(plans.values())


def _repo_tag(text: str) -> Reference:
    try:
        ref = parse_reference(text)
    except InvalidArgument as exc:
        raise InvalidArgument(f"load: invalid tag {text!r}: {exc}") from exc
    if ref.tag is None or ref.digest is not None:
        raise InvalidArgument(f"load: invalid tag {text!r}")
    return ref


def _new_plan(content: ContentStore, config_digest: Digest, layers: tuple[Blob, ...],
              manifest: Manifest | None, names: tuple[Reference, ...]) -> _Plan:
    try:
        config = ImageConfig.from_json(content.read_bytes(config_digest))
    except NotFound as exc:
        raise InvalidArgument(f"load: config {config_digest} is not in the archive") from exc
    except DockyardError as exc:
        raise InvalidArgument(f"load: image {config_digest}: {exc}") from exc
    if config.os and config.os != "linux":
        raise Unsupported(f"image operating system {config.os!r} cannot be used on this platform")
    if len(layers) != len(config.diff_ids):
        raise InvalidArgument(
            f"load: image {config_digest}: invalid manifest, layers length mismatch: expected "
            f"{len(layers)}, got {len(config.diff_ids)}"
        )
    return _Plan(config, config_digest, layers, manifest, names)


def _merge(plans: dict[Digest, _Plan], plan: _Plan) -> None:
    known = plans.get(plan.config_digest)
    if known is None:
        plans[plan.config_digest] = plan
        return
    names = known.names + tuple(n for n in plan.names if n not in known.names)
    manifest = known.manifest or plan.manifest
    layers = plan.layers if known.manifest is None and plan.manifest is not None else known.layers
    plans[plan.config_digest] = dataclasses.replace(known, names=names, manifest=manifest,
                                                    layers=layers)


def _oci_manifest(content: ContentStore, descriptor: Descriptor) -> Manifest | None:
    """The image manifest an ``index.json`` entry names (this platform's, for an index)."""
    if mt.is_index(descriptor.media_type):
        nested = Index.from_json(_blob(content, descriptor, "image index"), descriptor.media_type)
        present = tuple(d for d in nested.manifests if content.exists(d.digest))
        entry = dataclasses.replace(nested, manifests=present).select(
            PlatformMatcher.only(Platform.current()))
        if entry is None:
            log.info("load: index %s has no manifest for this platform", descriptor.digest)
            return None
        descriptor = entry
    if not mt.is_manifest(descriptor.media_type):
        log.info("load: skipping %s (%s)", descriptor.digest, descriptor.media_type)
        return None
    document = parse_manifest_or_index(_blob(content, descriptor, "manifest"),
                                       descriptor.media_type)
    if not isinstance(document, Manifest) or not mt.is_config(document.config.media_type):
        log.info("load: skipping %s: not an image manifest", descriptor.digest)
        return None
    return document


def _blob(content: ContentStore, descriptor: Descriptor, what: str) -> bytes:
    try:
        data = content.read_bytes(descriptor.digest)
    except NotFound as exc:
        raise InvalidArgument(
            f"load: {what} {descriptor.digest} listed in {INDEX_JSON} is not in the archive"
        ) from exc
    if len(data) != descriptor.size:
        raise InvalidArgument(f"load: {what} {descriptor.digest} is {len(data)} bytes, "
                              f"{INDEX_JSON} says {descriptor.size}")
    return data


def _merge_oci(content: ContentStore, plans: dict[Digest, _Plan], manifest: Manifest,
               descriptor: Descriptor) -> None:
    config_digest = manifest.config.digest
    name = name_of_descriptor(descriptor)
    names = (name,) if name is not None else ()
    known = plans.get(config_digest)
    if known is not None and len(manifest.layers) != len(known.config.diff_ids):
        # docker 25.0.0 listed no layers in these manifests; manifest.json has them.
        log.info("load: ignoring manifest %s: it does not list the image's layers",
                 descriptor.digest)
        _merge(plans, dataclasses.replace(known, names=names))
        return
    layers = tuple(_layer(content, layer, config_digest) for layer in manifest.layers)
    _merge(plans, _new_plan(content, config_digest, layers, manifest, names))


def _layer(content: ContentStore, descriptor: Descriptor, image: Digest) -> Blob:
    try:
        size = content.info(descriptor.digest).size
    except NotFound as exc:
        raise InvalidArgument(
            f"load: layer {descriptor.digest} of image {image} is not in the archive"
        ) from exc
    if size != descriptor.size:
        raise InvalidArgument(f"load: layer {descriptor.digest} of image {image} is {size} "
                              f"bytes, its manifest says {descriptor.size}")
    return Blob(descriptor.digest, size)


def _manifest(root: DataRoot, plan: _Plan, layers: list[LayerBlob], lease_id: str) -> Target:
    """The archive's manifest, or a Docker schema 2 one written for the image now."""
    if plan.manifest is not None:
        data = plan.manifest.to_json()
        return Target(plan.manifest.media_type, Digest.of(data), len(data))
    image = write_image(root.content, plan.config, layers)
    root.leases.add_resource(lease_id, Resource("content", str(image.manifest.digest)))
    manifest = image.manifest
    return Target(manifest.media_type, manifest.digest, manifest.size)


def _record(content: ContentStore, images: ImageStore, plan: _Plan,
            target: Target) -> list[Loaded]:
    if not plan.names:
        if not images.by_target(target.digest):
            images.set(f"{DANGLING_PREFIX}{target.digest}", target)
        return [Loaded(None, plan.config_digest)]
    loaded = []
    for ref in plan.names:
        name = ref.fully_qualified()
        replaced = _replaced(content, images, name, plan.config_digest)
        images.set(name, target)
        if replaced is not None:
            old, old_id = replaced
            if not images.by_target(old.digest):
                images.set(f"{DANGLING_PREFIX}{old.digest}", old)
            loaded.append(Loaded(name, plan.config_digest, old_id))
        else:
            loaded.append(Loaded(name, plan.config_digest))
    return loaded


def _replaced(content: ContentStore, images: ImageStore, name: str,
              image_id: Digest) -> tuple[Target, Digest] | None:
    """The target and image ID ``name`` points at now, if that is another image."""
    try:
        old = images.get(name).target
        document = parse_manifest_or_index(content.read_bytes(old.digest), old.media_type)
    except NotFound:
        return None
    old_id = document.config.digest if isinstance(document, Manifest) else old.digest
    return None if old_id == image_id else (old, old_id)


def _drop_unused(root: DataRoot, digests: set[Digest], lease_id: str) -> None:
    """Delete blobs this load created that no image uses and no other lease holds (the
    legacy files of an archive, or everything when the load failed)."""
    held = {r.id for lease in root.leases.leases() if lease.id != lease_id
            for r in lease.resources if r.kind == "content"}
    for digest in digests:
        if str(digest) not in held:
            with suppress(NotFound):
                root.content.delete(digest)
