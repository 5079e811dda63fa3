"""``docker rmi`` and ``docker image prune`` with dockerd 20.10's rules
(daemon/images/image_delete.go, image_prune.go).

Deleting by name removes that name only; the image goes too when it was the last name (unless a
container uses it: then it stays, dangling). Deleting by ID (or ID prefix) removes every name,
but without ``force`` only when they are one tag plus digests of one repository
(``image is referenced in multiple repositories`` otherwise). Containers block deletion: running
ones always (``cannot be forced``), stopped ones unless forced. The answer lists each
``Untagged`` name, then ``Deleted`` for the image and for each layer (chainID) no other image or
container holds.

The caller holds the image service's lock and collects garbage afterwards.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from dockyard.errors import Conflict, DockyardError, NotFound
from dockyard.images.resolve import is_dangling, is_id_prefix, record_key
from dockyard.oci.digest import Digest
from dockyard.oci.reference import Reference
from dockyard.services.image_catalog import Image
from dockyard.services.image_filters import (
    PRUNE_FILTERS,
    check_keys,
    dangling_only,
    match_prune_labels,
    parse_until,
)
from dockyard.services.image_render import field

if TYPE_CHECKING:
    from dockyard.services.images import ImageService

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class _Blocker:
    message: str
    hard: bool
    used: bool


def single_reference(references: Sequence[Reference]) -> bool:
    """dockerd's ``isSingleReference``: at most one tag, and every name in one repository."""
    if len(references) <= 1:
        return len(references) == 1
    tags = [r for r in references if r.digest is None]
    if len(tags) > 1:
        return False
    repositories = {r.repository for r in references if r.digest is not None}
    single = tags[0] if tags else references[0]
    return len(repositories) == 1 and single.repository in repositories


class Deletion:
    """One ``delete`` or ``prune`` request against the service's records."""

    def __init__(self, service: ImageService) -> None:
        self.service = service
        self.store = service.root.images
        self.catalog = service.catalog

    def delete(self, name: str, *, force: bool, prune: bool) -> list[dict[str, str]]:
        image, found = self.service.find(name)
        out: list[dict[str, str]] = []
        references = list(image.references)
        if found.reference is not None and not is_id_prefix(image.id, name):
            if not force and single_reference(references):
                user = next(iter(self.service.users(image.id)), None)
                if user is not None:
                    raise Conflict(
                        f'conflict: unable to remove repository reference "{name}" (must force)'
                        f" - container {user.container_id[:12]} is using its referenced image"
                        f" {image.id.encoded[:12]}"
                    )
            removed = self._untag(found.reference)
            out.append({"Untagged": removed.familiar()})
            if removed.digest is None:
                out += self._untag_digests_of(removed, image.id)
            if self._references(image.id):
                return out
            self._delete_image(image, out, force=force, quiet=True)
            return out
        if single_reference(references):
            self._refuse(self._blocker(image.id, running=True, stopped=not force))
            for reference in references:
                out.append({"Untagged": self._untag(reference).familiar()})
        self._delete_image(image, out, force=force, quiet=False)
        return out

    def _references(self, image_id: Digest) -> list[Reference]:
        current = self.catalog.images().get(image_id)
        return list(current.references) if current else []

    def _untag(self, reference: Reference) -> Reference:
        key = record_key(reference)
        try:
            self.store.delete(key)
        except NotFound as exc:
            raise NotFound("reference does not exist") from exc
        if reference.digest is not None:
            return reference.without_tag()
        return reference.with_default_tag()

    def _untag_digests_of(self, removed: Reference, image_id: Digest) -> list[dict[str, str]]:
        """After a tag goes: digests of that repository go too when no tag of it is left."""
        same = [r for r in self._references(image_id) if r.repository == removed.repository]
        if any(r.digest is None for r in same):
            return []
        return [{"Untagged": self._untag(r).familiar()} for r in same]

    def _blocker(
        self, image_id: Digest, *, running: bool, stopped: bool, references: bool = False
    ) -> _Blocker | None:
        short = image_id.encoded[:12]
        users = self.service.users(image_id)
        live = next((u for u in users if u.running), None)
        if running and live is not None:
            return _Blocker(
                f"conflict: unable to delete {short} (cannot be forced) - image is being used by"
                f" running container {live.container_id[:12]}", hard=True, used=True)
        if references and self._references(image_id):
            return _Blocker(
                f"conflict: unable to delete {short} (must be forced) - image is referenced in"
                " multiple repositories", hard=False, used=False)
        dead = next((u for u in users if not u.running), None)
        if stopped and dead is not None:
            return _Blocker(
                f"conflict: unable to delete {short} (must be forced) - image is being used by"
                f" stopped container {dead.container_id[:12]}", hard=False, used=True)
        return None

    @staticmethod
    def _refuse(blocker: _Blocker | None) -> None:
        if blocker is not None:
            raise Conflict(blocker.message)

    def _delete_image(self, image: Image, out: list[dict[str, str]], *, force: bool,
                      quiet: bool) -> None:
        """dockerd's ``imageDeleteHelper``: every remaining name, then the image itself."""
        soft = not force
        blocker = self._blocker(image.id, running=True, stopped=soft, references=soft)
        if blocker is not None:
            dangling = not self._references(image.id)
            if quiet and (not dangling or blocker.used):
                self.service.keep_dangling(image)
                return
            raise Conflict(blocker.message)
        for reference in self._references(image.id):
            out.append({"Untagged": self._untag(reference).familiar()})
        current = self.catalog.images().get(image.id)
        for record in current.records if current else ():
            if is_dangling(record.name):
                self.store.delete(record.name)
        out.append({"Deleted": str(image.id)})
        out += [{"Deleted": str(chain)} for chain in self._released(image)]
        log.info("deleted image %s", image.id)

    def _released(self, image: Image) -> list[Digest]:
        """The image's layers, top first, that no other image or container holds."""
        others = {c for i in self.catalog.images().values() for c in i.facts.chain_ids}
        infos = {info.name: info for info in self.service.root.snapshotter.walk()}
        held: set[str] = set()
        pending = list(self.service.gc_roots().snapshots)
        while pending:
            name = pending.pop()
            if name in infos and name not in held:
                held.add(name)
                pending.append(infos[name].parent)
        released = []
        for chain in reversed(image.facts.chain_ids):
            if chain in others or str(chain) in held:
                break
            if str(chain) in infos:
                released.append(chain)
        return released

    def prune(self, filters: Mapping[str, Sequence[str]], now: float) -> dict[str, Any]:
        check_keys(filters, PRUNE_FILTERS)
        dangling = dangling_only(filters, prune=True)
        until = parse_until(filters, now)
        images = self.catalog.images()
        sizes = {layer.chain_id: layer.size for i in images.values() for layer in i.facts.layers}
        deleted: list[dict[str, str]] = []
        for image in sorted(images.values(), key=lambda i: str(i.id)):
            if until is not None and image.facts.created.unix > until:
                continue
            container = field(image.facts.config, "config")
            if isinstance(container, dict) and not match_prune_labels(
                filters, image.facts.labels or {}
            ):
                continue
            references = list(image.references)
            if not references:
                deleted += self._try_delete(image.id.encoded)
            elif not dangling or not any(r.tag is not None for r in references):
                for reference in references:
                    deleted += self._try_delete(reference.fully_qualified())
        space = sum(
            sizes.get(Digest.parse(item["Deleted"]), 0) for item in deleted if "Deleted" in item
        )
        return {"ImagesDeleted": deleted or None, "SpaceReclaimed": space}

    def _try_delete(self, name: str) -> list[dict[str, str]]:
        try:
            return self.delete(name, force=False, prune=True)
        except (Conflict, NotFound):
            return []
        except DockyardError as exc:
            log.warning("failed to prune image %s: %s", name, exc)
            return []
