"""The image use cases behind ``/images/...``: list, inspect, history, tag, delete, prune, import.

Names follow dockerd 20.10 (the Foundation II contract): records are keyed by fully qualified
references (``docker.io/library/busybox:latest``), untagged images by
``moby-dangling@<manifest digest>``, and the image ID is the config digest. Clients see
familiar names (``busybox:latest``). Lookups are :mod:`dockyard.images.resolve`'s.

An image exists while some record leads to it. When a name moves to another image, or the last
name of an image still used by a container is removed, the image keeps a dangling record, as
dockerd keeps such an image listed as ``<none>:<none>``. Deleting an image drops its records and
then collects garbage, which removes its blobs and unpacked layers unless others share them.

Methods block (they read and write the data root): the API calls them through ``run_blocking``.
Changes to records are serialised by one lock. Garbage collection waits until no writer is
running (an import here; loads, pulls and builds register through :meth:`ImageService.writing`),
because a writer stores content before the record that names it exists.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from typing import Any, BinaryIO, Protocol

from dockyard.errors import DockyardError, InvalidArgument, NotFound, Unsupported
from dockyard.gc import Report, Roots
from dockyard.images.importer import DANGLING_PREFIX
from dockyard.images.resolve import Lookup, is_dangling, lookup
from dockyard.oci.digest import Digest
from dockyard.oci.platform import Platform
from dockyard.oci.reference import Reference, parse_reference, validate_tag
from dockyard.services import image_views as views
from dockyard.services.image_catalog import Catalog, Image
from dockyard.services.image_changes import apply_changes
from dockyard.services.image_deletion import Deletion
from dockyard.services.image_filters import (
    LIST_FILTERS,
    check_keys,
    dangling_only,
    match_labels,
    match_reference,
)
from dockyard.store import DataRoot

log = logging.getLogger(__name__)

IMPORT_COMMENT = "Imported from -"


@dataclass(frozen=True, slots=True)
class ImageUser:
    """A container made from an image (it blocks deleting the image)."""

    container_id: str
    running: bool


class ContainerUsers(Protocol):
    """What the image service asks the container service."""

    def containers_using(self, image_id: Digest) -> list[ImageUser]: ...


class ImageService:
    """The images of one data root, as the Engine API shows them."""

    def __init__(
        self,
        root: DataRoot,
        clock: Callable[[], float] = time.time,
        *,
        containers: ContainerUsers | None = None,
        gc_roots: Callable[[], Roots] | None = None,
    ) -> None:
        self.root = root
        self.clock = clock
        self.catalog = Catalog(root.content, root.images)
        self.containers = containers
        self._gc_roots = gc_roots
        self._gc_sources: list[Callable[[], Roots]] = []
        self._lock = threading.RLock()
        self._writers = 0
        self._gc_wanted = False
        self._graph: dict[Digest, dict[str, Any]] = {}
        self.on_event: Callable[[str, str, str], None] | None = None  # (action, actor, name)

    def _event(self, action: str, actor: str, name: str) -> None:
        """An image event for ``GET /events`` (dockerd's ``LogImageEvent``)."""
        if self.on_event is not None:
            try:
                self.on_event(action, actor, name)
            except Exception:
                log.exception("image event %s of %s", action, actor)

    # -- lookups ----------------------------------------------------------------------------

    def find(self, name: str) -> tuple[Image, Lookup]:
        """The image ``name`` names (ID, ID prefix, name, name@digest) and how it was found."""
        found = lookup(name, self.catalog.candidates())
        image = self.catalog.images().get(found.image_id)
        if image is None:  # removed between the two reads
            raise NotFound(f"No such image: {name}")
        return image, found

    def get(self, name: str) -> Image:
        return self.find(name)[0]

    def users(self, image_id: Digest) -> list[ImageUser]:
        return self.containers.containers_using(image_id) if self.containers else []

    # -- queries ----------------------------------------------------------------------------

    def list_images(
        self, *, all_images: bool = False, filters: Mapping[str, Sequence[str]] | None = None
    ) -> list[dict[str, Any]]:
        """``GET /images/json``: one item per image, newest first. ``all_images`` changes nothing:
        dockyard keeps no intermediate (parent) images to hide."""
        filters = filters or {}
        check_keys(filters, LIST_FILTERS)
        dangling = dangling_only(filters, prune=False)
        before = self._bound(filters, "before")
        since = self._bound(filters, "since")
        patterns = filters.get("reference", [])
        items = []
        for image in self.catalog.images().values():
            created = image.facts.created
            if before is not None and (created.unix, created.nanos) >= before:
                continue
            if since is not None and (created.unix, created.nanos) <= since:
                continue
            if "label" in filters and (
                image.facts.labels is None or not match_labels(filters["label"], image.facts.labels)
            ):
                continue
            names = [r for r in image.references if not patterns or match_reference(patterns, r)]
            tags = [r.familiar() for r in names if r.tag is not None] or None
            digests = [r.familiar() for r in names if r.digest is not None] or None
            if tags is None and digests is None:
                if ("dangling" in filters and not dangling) or patterns:
                    continue
                tags, digests = ["<none>:<none>"], ["<none>@<none>"]
            elif dangling and tags:
                continue
            items.append((created.unix, created.nanos, views.summary(image, tags, digests)))
        items.sort(key=lambda item: (item[0], item[1], item[2]["Id"]), reverse=True)
        return [item[2] for item in items]

    def _bound(self, filters: Mapping[str, Sequence[str]], key: str) -> tuple[int, int] | None:
        bound = None
        for value in filters.get(key, []):
            created = self.get(value).facts.created
            bound = (created.unix, created.nanos)
        return bound

    def inspect(self, name: str) -> dict[str, Any]:
        """``GET /images/{name}/json``; a failed lookup reads as dockerd's LookupImage error."""
        try:
            image = self.get(name)
        except DockyardError as exc:
            raise type(exc)(f"no such image: {name}: {exc}") from exc
        return views.inspect(image, self.graph_driver(image))

    def history(self, name: str) -> list[dict[str, Any]]:
        return views.history(self.get(name))

    def summaries(self) -> list[dict[str, Any]]:
        """The images of ``/system/df``: list items with containers counted and the bytes of
        layers shared with other images."""
        images = self.catalog.images().values()
        uses: dict[Digest, int] = {}
        for image in images:
            for chain in set(image.facts.chain_ids):
                uses[chain] = uses.get(chain, 0) + 1
        out = []
        for image in images:
            shared = sum(layer.size for layer in image.facts.layers if uses[layer.chain_id] > 1)
            tags = image.tags or (None if image.digests else ["<none>:<none>"])
            digests = image.digests or (None if image.tags else ["<none>@<none>"])
            item = views.summary(
                image, tags, digests, containers=len(self.users(image.id)), shared_size=shared
            )
            out.append(item)
        out.sort(key=lambda item: (item["Created"], item["Id"]), reverse=True)
        return out

    def layers_size(self) -> int:
        """Bytes of all layers of all images, each layer counted once (``LayersSize``)."""
        sizes = {
            layer.chain_id: layer.size
            for image in self.catalog.images().values()
            for layer in image.facts.layers
        }
        return sum(sizes.values())

    def graph_driver(self, image: Image) -> dict[str, Any]:
        """``GraphDriver``: overlay2 with the layer directories, or vfs without data."""
        if self.root.snapshotter_name != "overlayfs":
            return {"Data": None, "Name": "vfs"}
        cached = self._graph.get(image.id)
        if cached is None:
            cached = {"Data": self._overlay_dirs(image), "Name": "overlay2"}
            self._graph[image.id] = cached
        return cached

    def _overlay_dirs(self, image: Image) -> dict[str, str] | None:
        """Find the layers' directories from the mounts of a throwaway view of the image."""
        chains = image.facts.chain_ids
        if not chains:
            return None
        key = f"inspect-{image.id.encoded[:12]}-{threading.get_ident()}"
        try:
            labels = {"dockyard/purpose": "inspect"}
            mounts = self.root.snapshotter.view(key, str(chains[-1]), labels)
        except DockyardError as exc:
            log.debug("no layer directories for %s: %s", image.id, exc)
            return None
        finally:
            with suppress(NotFound):
                self.root.snapshotter.remove(key)
        dirs: list[str] = []
        for option in mounts[0].options if mounts else ():
            if option.startswith("lowerdir="):
                dirs = option.removeprefix("lowerdir=").split(":")
        if not dirs and mounts:
            dirs = [mounts[0].source]
        if not dirs:
            return None
        top = dirs[0].rsplit("/", 1)[0]
        data = {"MergedDir": f"{top}/merged", "UpperDir": dirs[0], "WorkDir": f"{top}/work"}
        if len(dirs) > 1:
            data = {"LowerDir": ":".join(dirs[1:]), **data}
        return data

    # -- changes ----------------------------------------------------------------------------

    def tag(self, name: str, repo: str, tag: str = "") -> str:
        """``POST /images/{name}/tag``: point ``repo[:tag]`` at the image; returns the familiar
        name. The repo arrives fully qualified from the CLI."""
        with self._lock:
            image = self.get(name)
            new = parse_reference(repo)
            if tag:
                new = Reference(new.domain, new.path, validate_tag(tag))
            if new.digest is not None:
                raise InvalidArgument("refusing to create a tag with a digest reference")
            new = new.with_default_tag()
            self._name(new.fully_qualified(), image)
        log.info("tagged %s as %s", image.id, new.familiar())
        self._event("tag", str(image.id), new.familiar())
        return new.familiar()

    def _name(self, key: str, image: Image) -> None:
        """Point record ``key`` at ``image``; the image it leaves keeps a dangling record."""
        before = self.catalog.images()
        previous = next((i for i in before.values() if any(r.name == key for r in i.records)), None)
        target = image.records[0].target
        if previous is None or not any(r.name == key and r.target == target
                                       for r in previous.records):  # else: there already
            self.root.images.set(key, target)
        for record in image.records:
            if is_dangling(record.name):
                self.root.images.delete(record.name)
        if previous is not None and previous.id != image.id:
            self.keep_dangling(previous)

    def keep_dangling(self, image: Image) -> None:
        """Give ``image`` a dangling record if no record leads to it any more."""
        if image.id not in self.catalog.images():
            target = image.records[0].target
            self.root.images.set(f"{DANGLING_PREFIX}{target.digest}", target)
            log.info("image %s is dangling now", image.id)

    def delete(self, name: str, *, force: bool = False, prune: bool = True) -> list[dict[str, str]]:
        """``DELETE /images/{name}``: untag, or delete the image; then collect garbage."""
        with self._lock:
            image_id = ""
            with suppress(DockyardError):  # Deletion words a failed lookup itself
                image_id = str(self.get(name).id)
            deleted = Deletion(self).delete(name, force=force, prune=prune)
        self.gc()
        for item in deleted:
            if "Untagged" in item:
                self._event("untag", image_id, image_id)
            elif "Deleted" in item:
                self._event("delete", item["Deleted"], item["Deleted"])
        return deleted

    def prune(self, filters: Mapping[str, Sequence[str]] | None = None) -> dict[str, Any]:
        """``POST /images/prune``: delete dangling (or, with dangling=false, unused) images."""
        with self._lock:
            report = Deletion(self).prune(filters or {}, self.clock())
        self.gc()
        return report

    def import_image(
        self,
        stream: BinaryIO,
        *,
        repo: str = "",
        tag: str = "",
        message: str = "",
        changes: Sequence[str] = (),
        platform: str = "",
    ) -> Digest:
        """``POST /images/create?fromSrc=-``: a rootfs tar as a one-layer image."""
        name = None
        if repo:
            reference = parse_reference(repo)
            if reference.digest is not None:
                raise InvalidArgument("cannot import digest reference")
            if tag:
                reference = reference.with_tag(validate_tag(tag))
            name = reference.with_default_tag().fully_qualified()
        config = apply_changes(changes)
        host = Platform.current()
        if platform:
            wanted = Platform.parse(platform)
            if wanted.os != "linux":
                raise Unsupported(f"import for operating system {wanted.os!r} is not supported")
        with self.writing():
            before = self.catalog.images() if name else {}
            result = self.root.importer.import_rootfs(
                stream, name, config=config, comment=message or IMPORT_COMMENT, platform=host
            )
        if name:
            with self._lock:
                self._after_import(name, result.image_id, before)
        log.info("imported %s as %s", name or "an untagged image", result.image_id)
        self._event("import", str(result.image_id), str(result.image_id))
        return result.image_id

    def _after_import(self, name: str, image_id: Digest, before: Mapping[Digest, Image]) -> None:
        for image in before.values():
            if image.id != image_id and any(r.name == name for r in image.records):
                self.keep_dangling(image)

    # -- garbage ----------------------------------------------------------------------------

    @contextmanager
    def writing(self) -> Iterator[None]:
        """Hold off garbage collection while content is written before its record exists
        (import here; load, pull and build should use it too)."""
        with self._lock:
            self._writers += 1
        try:
            yield
        finally:
            with self._lock:
                self._writers -= 1
                run = self._writers == 0 and self._gc_wanted
            if run:
                self.gc()

    def add_gc_roots(self, source: Callable[[], Roots]) -> None:
        """Also keep what ``source`` holds when collecting garbage. The daemon adds the
        containers' and the build cache's roots here, as those services are made after this one."""
        with self._lock:
            self._gc_sources.append(source)

    def gc_roots(self) -> Roots:
        """What containers and the build cache hold besides images: the union of the ``gc_roots``
        given to the constructor and the sources added since."""
        sources = [self._gc_roots] if self._gc_roots else []
        held = [source() for source in [*sources, *self._gc_sources]]
        return Roots(frozenset().union(*(roots.content for roots in held)),
                     frozenset().union(*(roots.snapshots for roots in held)))

    def gc(self) -> Report | None:
        """Collect garbage now, or after the last running import (None then)."""
        with self._lock:
            if self._writers:
                self._gc_wanted = True
                return None
            self._gc_wanted = False
            report = self.root.gc(self.gc_roots())
            self.catalog.retain(r.target.digest for r in self.root.images.records())
            live = set(self.catalog.images())
            for image_id in [i for i in list(self._graph) if i not in live]:
                self._graph.pop(image_id, None)
            return report
