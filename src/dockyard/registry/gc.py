"""Garbage collection: remove blobs no manifest needs, safely while the server runs.

Mark and sweep, both under the store's exclusive gc lock (:meth:`RegistryStore.collecting`),
which every request that links content holds shared: a manifest push checks its blobs and
records itself, an upload commits and links its blob, a mount checks and links, each entirely
before the mark or entirely after the sweep. So gc never removes a blob that a manifest it did
not see names, and a push never records a manifest naming a blob gc removed.

Marked (kept):

* every manifest of every repository and what it references, recursively (config, layers,
  index entries); with ``delete_untagged`` only manifests reachable from a tag, manifests
  younger than ``grace``, and manifests whose subject is kept (referrers); the other manifests
  are removed from their repository first;
* every blob whose link is younger than ``grace`` seconds: a push uploads blobs before the
  manifest that names them, and a HEAD or mount renews the link;
* every blob itself younger than ``grace``.

Swept: every other blob, and the repository links to it. Upload sessions idle for longer than
``upload_ttl`` are pruned (the server holds a lock on the ones in use).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

from dockyard.errors import DataCorrupt, NotFound
from dockyard.oci.digest import Digest
from dockyard.registry.errcode import RegistryError
from dockyard.registry.manifests import References, parse, references_of
from dockyard.registry.storage import RegistryStore

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class GcReport:
    blobs: tuple[Digest, ...]
    bytes_freed: int
    links: int
    manifests: tuple[str, ...]
    uploads: tuple[str, ...]
    kept: int


def collect(store: RegistryStore, *, grace: float = 3600.0, upload_ttl: float = 86400.0,
            delete_untagged: bool = False, dry_run: bool = False,
            clock: Callable[[], float] = time.time) -> GcReport:
    """One mark-and-sweep pass; returns what went (or would go, with ``dry_run``)."""
    with store.collecting():
        now = clock()
        cutoff = now - grace
        marked: set[Digest] = set()
        gone_manifests: list[str] = []
        repositories = store.repositories()
        for name in repositories:
            gone_manifests += _mark_repository(store, name, marked, cutoff=cutoff,
                                               delete_untagged=delete_untagged, dry_run=dry_run)
        blobs, freed = _sweep_blobs(store, marked, cutoff, dry_run)
        links = _sweep_links(store, repositories, marked, cutoff, dry_run)
        uploads = [] if dry_run else store.content.prune_ingests(now - upload_ttl)
    report = GcReport(tuple(blobs), freed, links, tuple(gone_manifests), tuple(uploads),
                      len(marked))
    log.info("gc%s: %d blobs (%d bytes), %d links, %d manifests, %d uploads; %d blobs kept",
             " (dry run)" if dry_run else "", len(blobs), freed, links, len(gone_manifests),
             len(uploads), len(marked))
    return report


def _mark_repository(store: RegistryStore, name: str, marked: set[Digest], *, cutoff: float,
                     delete_untagged: bool, dry_run: bool) -> list[str]:
    revisions = store.revisions(name)
    refs: dict[Digest, References] = {}
    for link in revisions:
        found = _references(store, name, link.digest)
        if found is not None:
            refs[link.digest] = found
    if delete_untagged:
        roots = set(store.tags(name).values())
        roots |= {link.digest for link in revisions if link.updated_at >= cutoff}
    else:
        roots = {link.digest for link in revisions}
    kept = _reach(roots, refs, marked)
    while True:  # referrers of what is kept are kept
        more = {d for d, r in refs.items()
                if d not in kept and r.subject is not None and r.subject.digest in kept}
        if not more:
            break
        kept |= _reach(more, refs, marked)
    for link in store.layer_links(name):
        if link.updated_at >= cutoff:
            marked.add(link.digest)
    gone = []
    for link in revisions:
        if link.digest not in kept:
            gone.append(f"{name}@{link.digest}")
            if not dry_run:
                store.delete_manifest(name, link.digest)
    return gone


def _reach(roots: set[Digest], refs: dict[Digest, References], marked: set[Digest]) -> set[Digest]:
    reached: set[Digest] = set()
    stack = list(roots)
    while stack:
        digest = stack.pop()
        if digest in reached:
            continue
        reached.add(digest)
        marked.add(digest)
        found = refs.get(digest)
        if found is not None:
            marked.update(found.blobs)
            stack.extend(found.manifests)
    return reached


def _references(store: RegistryStore, name: str, digest: Digest) -> References | None:
    try:
        stored = store.manifest(name, digest)
    except (RegistryError, NotFound):
        return None  # its blob is gone: nothing to keep for it
    try:
        return references_of(parse(stored.data, stored.media_type))
    except RegistryError as exc:
        raise DataCorrupt(f"gc stopped: manifest {name}@{digest} is unreadable ({exc}); "
                          "delete it or repair it, then run gc again") from exc


def _sweep_blobs(store: RegistryStore, marked: set[Digest], cutoff: float,
                 dry_run: bool) -> tuple[list[Digest], int]:
    removed, freed = [], 0
    for info in store.content.walk():
        if info.digest in marked or info.created_at >= cutoff:
            continue
        removed.append(info.digest)
        freed += info.size
        if not dry_run:
            try:
                store.content.delete(info.digest)
            except NotFound:
                continue
        log.debug("gc: blob %s (%d bytes)", info.digest, info.size)
    return removed, freed


def _sweep_links(store: RegistryStore, repositories: list[str], marked: set[Digest],
                 cutoff: float, dry_run: bool) -> int:
    count = 0
    for name in repositories:
        for link in store.layer_links(name):
            if link.digest not in marked and link.updated_at < cutoff:
                count += 1
                if not dry_run:
                    store.remove_layer_link(name, link.digest)
    return count
