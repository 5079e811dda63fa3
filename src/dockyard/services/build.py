"""Builds (``POST /build``), the build cache in ``/system/df``, and ``POST /build/prune``.

A build runs the builder (:mod:`dockyard.build`) with the image service holding garbage
collection off, then writes the image as dockerd does once its classic builder is done: the
manifest, an untagged record or the tags (a tag taken from another image leaves that one
dangling), and the last messages of the stream (``Successfully built``, ``Successfully
tagged``). Tags are checked before anything runs, as dockerd's tagger does. FROM images come
from the image service, pulled by the distribution service when missing (or with ``pull``),
with the credentials of ``X-Registry-Config``.

The build cache is shown in ``/system/df`` as dockerd lists BuildKit's records: one per cached
step, its size that of the layer it added, ``Shared`` when an image uses that layer too.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import IO, Any, BinaryIO

from dockyard.build.builder import Builder, BuildResult
from dockyard.build.cache import Entry
from dockyard.build.job import BaseImage, BuildOptions
from dockyard.build.output import Emit, Output, Quiet, short_id
from dockyard.build.run import NoExecutor, RunExecutor
from dockyard.errors import DockyardError, InvalidArgument, NotFound
from dockyard.gc import Roots
from dockyard.images.assemble import LayerBlob, write_image
from dockyard.images.importer import DANGLING_PREFIX
from dockyard.images.resolve import resolve_manifest
from dockyard.images.store import Target
from dockyard.oci import mediatypes as mt
from dockyard.oci.config import ImageConfig
from dockyard.oci.digest import Digest
from dockyard.oci.platform import Platform
from dockyard.oci.reference import Reference, parse_reference
from dockyard.registry.auth import ANONYMOUS, Credentials
from dockyard.services.image_render import GoTime
from dockyard.services.images import ImageService
from dockyard.store import DataRoot
from dockyard.sys import Syscalls

log = logging.getLogger(__name__)

PullFn = Callable[[str, Credentials, Emit, Platform], None]


@dataclass(frozen=True, slots=True)
class BuildRequest:
    """A build as the API asks for it."""

    options: BuildOptions = field(default_factory=BuildOptions)
    tags: tuple[str, ...] = ()
    quiet: bool = False
    auth: Mapping[str, Credentials] = field(default_factory=dict)


def parse_tags(tags: Sequence[str]) -> list[Reference]:
    """dockerd's ``sanitizeRepoAndTags``: each a name with an optional tag, no digest."""
    out: list[Reference] = []
    for text in tags:
        if not text:
            continue
        try:
            reference = parse_reference(text)
        except InvalidArgument as exc:
            raise InvalidArgument(f"invalid reference format: {exc}") from exc
        if reference.digest is not None:
            raise InvalidArgument("build tag cannot contain a digest")
        reference = reference.with_default_tag()
        if reference not in out:
            out.append(reference)
    return out


class Resolved:
    """The images FROM and ``COPY --from`` found lately, by manifest (or index) digest and
    platform: a blob never changes, so neither does what it resolves to, and a cached rebuild
    reads and parses no manifest or config again. The newest ``size`` are kept."""

    def __init__(self, size: int = 64) -> None:
        self.size = size
        self._found: OrderedDict[tuple[Digest, Platform], BaseImage] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, digest: Digest, platform: Platform) -> BaseImage | None:
        with self._lock:
            found = self._found.get((digest, platform))
            if found is not None:
                self._found.move_to_end((digest, platform))
            return found

    def put(self, digest: Digest, platform: Platform, image: BaseImage) -> None:
        with self._lock:
            self._found[(digest, platform)] = image
            while len(self._found) > self.size:
                self._found.popitem(last=False)


class ImageSource:
    """The builder's view of the image store (:class:`dockyard.build.job.BaseImages`)."""

    def __init__(self, root: DataRoot, images: ImageService, pull: PullFn | None,
                 auth: Mapping[str, Credentials], resolved: Resolved | None = None) -> None:
        self.root = root
        self.images = images
        self.pull = pull
        self.auth = auth
        self.resolved = resolved or Resolved()

    def base(self, name: str, platform: Platform, pull: bool, output: Output) -> BaseImage:
        if not pull:
            try:
                return self._local(name, platform)
            except NotFound:
                if self.pull is None:
                    raise
        if self.pull is None:
            raise NotFound(f"pull access denied for {name}: this daemon cannot pull")
        reference = parse_reference(name)
        if reference.digest is None:
            reference = reference.with_default_tag()
        self.pull(reference.familiar(), self.auth.get(reference.domain, ANONYMOUS), output.raw,
                  platform)
        return self._local(name, platform)

    def local(self, name: str, platform: Platform) -> BaseImage | None:
        try:
            return self._local(name, platform)
        except NotFound:
            return None

    def _local(self, name: str, platform: Platform) -> BaseImage:
        image = self.images.get(name)
        target = image.records[0].target
        found = self.resolved.get(target.digest, platform)
        if found is not None:
            return found
        _, manifest = resolve_manifest(self.root.content, target, platform)
        config = ImageConfig.from_json(self.root.content.read_bytes(manifest.config.digest))
        layers = tuple(
            LayerBlob(d.digest, d.size, mt.layer_compression(d.media_type), diff_id)
            for d, diff_id in zip(manifest.layers, config.diff_ids, strict=False))
        found = BaseImage(str(manifest.config.digest), config, layers)
        self.resolved.put(target.digest, platform, found)
        return found


class BuildService:
    """Builds, and the build cache, of one data root."""

    def __init__(self, root: DataRoot, images: ImageService, syscalls: Syscalls, *,
                 pull: PullFn | None = None, executor: RunExecutor | None = None,
                 docker_version: str = "", clock: Callable[[], float] = time.time) -> None:
        self.root = root
        self.images = images
        self.pull = pull
        self.clock = clock
        self.resolved = Resolved()
        self.builder = Builder(root, syscalls,
                               images=ImageSource(root, images, pull, {}, self.resolved),
                               executor=executor or NoExecutor(), docker_version=docker_version)

    @property
    def executor(self) -> RunExecutor:
        return self.builder.executor

    @executor.setter
    def executor(self, executor: RunExecutor) -> None:
        """Wire the executor once the container service exists."""
        self.builder.executor = executor

    def recover(self) -> None:
        self.builder.recover()

    def gc_roots(self) -> Roots:
        return self.builder.cache.roots()

    # -- builds ---------------------------------------------------------------------------

    def build(self, context: BinaryIO | IO[bytes] | None, request: BuildRequest, emit: Emit,
              cancel: threading.Event | None = None) -> Digest:
        """Build, record and tag the image; its ID. Messages go to ``emit``."""
        tags = parse_tags(request.tags)
        sink: Emit = emit
        quiet = Quiet(emit) if request.quiet else None
        if quiet is not None:
            sink = quiet
        started = False

        def first(message: dict[str, Any]) -> None:
            nonlocal started
            started = True
            sink(message)

        try:
            with self.images.writing():
                source = ImageSource(self.root, self.images, self.pull, request.auth,
                                     self.resolved)
                result = self.builder.build(context, request.options, first, cancel,
                                            images=source)
                image_id = self._record(result, tags)
            out = Output(sink)
            out.text(f"Successfully built {short_id(image_id)}\n")
            for tag in tags:
                out.text(f"Successfully tagged {tag.familiar()}\n")
        except DockyardError:
            if quiet is not None and started:
                quiet.fail()
            raise
        if quiet is not None:
            quiet.finish(image_id)
        return image_id

    def _record(self, result: BuildResult, tags: Sequence[Reference]) -> Digest:
        image = write_image(self.root.content, result.config, result.layers)
        manifest = image.manifest
        target = Target(manifest.media_type, manifest.digest, manifest.size)
        known = self.images.catalog.images().get(image.config)
        if known is None:
            self.root.images.set(f"{DANGLING_PREFIX}{manifest.digest}", target)
        for tag in tags:
            self.images.tag(str(image.config), tag.familiar())
        log.info("built %s%s", image.config,
                 f" as {', '.join(t.familiar() for t in tags)}" if tags else "")
        return image.config

    # -- the cache ------------------------------------------------------------------------

    def usage(self) -> tuple[list[dict[str, Any]], int]:
        """``BuildCache`` and ``BuilderSize`` of ``/system/df``."""
        shared = self._image_chains()
        records = [self._record_view(e, shared) for e in self.builder.cache.entries()]
        size = sum(r["Size"] for r in records if not r["Shared"])
        return records, size

    def _image_chains(self) -> set[str]:
        return {str(c) for image in self.images.catalog.images().values()
                for c in image.facts.chain_ids}

    def _record_view(self, entry: Entry, shared: set[str]) -> dict[str, Any]:
        return {
            "ID": entry.key[:25],
            "Parent": entry.parent[:25],
            "Type": "regular",
            "Description": entry.description,
            "InUse": False,
            "Shared": bool(entry.size) and entry.chain in shared,
            "Size": entry.size,
            "CreatedAt": GoTime.from_timestamp(entry.created).rfc3339_nano(),
            "LastUsedAt": GoTime.from_timestamp(entry.last_used).rfc3339_nano(),
            "UsageCount": entry.usage_count,
        }

    def prune(self, *, all_entries: bool = False, keep_storage: int = 0,
              filters: Mapping[str, Sequence[str]] | None = None) -> dict[str, Any]:
        """``POST /build/prune``: drop cache entries (the oldest used first when keeping
        ``keep_storage`` bytes), then collect the layers nothing else holds. Without
        ``all_entries``, entries whose layer an image uses too (it frees nothing) stay."""
        filters = filters or {}
        unknown = set(filters) - {"until", "unused-for", "id", "parent", "type", "description",
                                  "inuse", "shared", "private"}
        if unknown:
            raise InvalidArgument(f"Invalid filter '{sorted(unknown)[0]}'")
        shared = self._image_chains()
        entries = sorted(self.builder.cache.entries(), key=lambda e: (e.last_used, e.key))
        doomed = [e for e in entries if _selected(e, filters, self.clock())
                  and (all_entries or not (e.size and e.chain in shared))]
        if keep_storage:
            doomed = _beyond(doomed, entries, keep_storage)
        self.builder.cache.delete(e.key for e in doomed)
        self.images.gc()
        reclaimed = sum(e.size for e in doomed if not (e.size and e.chain in shared))
        return {"CachesDeleted": [e.key[:25] for e in doomed] or None,
                "SpaceReclaimed": reclaimed}


def _selected(entry: Entry, filters: Mapping[str, Sequence[str]], now: float) -> bool:
    for key in ("until", "unused-for"):
        for value in filters.get(key, []):
            if entry.last_used > now - _seconds(value):
                return False
    ids = filters.get("id", [])
    if ids and not any(entry.key.startswith(i) for i in ids):
        return False
    descriptions = filters.get("description", [])
    return not descriptions or any(d in entry.description for d in descriptions)


def _seconds(text: str) -> float:
    from dockyard.build.duration import parse_duration

    try:
        return parse_duration(text) / 1e9
    except InvalidArgument:
        try:
            return float(text)
        except ValueError:
            raise InvalidArgument(f"invalid duration {text!r} in filter") from None


def _beyond(doomed: list[Entry], entries: list[Entry], keep: int) -> list[Entry]:
    """Of ``doomed`` (oldest used first), only as many as it takes to get under ``keep``."""
    total = sum(e.size for e in entries)
    out = []
    for entry in doomed:
        if total <= keep:
            break
        out.append(entry)
        total -= entry.size
    return out
