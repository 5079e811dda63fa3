"""The registry's store: blobs once in a content store, repositories as link records.

distribution's filesystem layout is the model (``_layers``, ``_manifests``), with blobs and
manifests kept once in a :class:`~dockyard.content.ContentStore` whatever the number of
repositories that link them. On disk::

    <root>/
        content/                                ContentStore: blobs/sha256/<hex>, ingest/...
                                                (an upload is the ingest of ref upload/<name>/<id>)
        repositories/
            <name component>/.../               one directory per component of the name
                _layers/<alg>/<hex>             a blob linked into the repository (holds the digest)
                _manifests/revisions/<alg>/<hex>    a manifest of the repository (holds its
                                                media type)
                _manifests/tags/<tag>           the digest a tag names
                _referrers/<alg>/<hex>/<alg>-<hex>  the descriptor (JSON) of a manifest of the
                                                repository whose subject is <alg>:<hex>
        gc.lock                                 flock(2): shared while a request links content,
                                                exclusive while gc marks and sweeps

Every record is one small file replaced by rename(2), so a reader sees it whole or not at all.
A link's mtime is when content last arrived or was asked for through it: gc keeps blobs whose
links are younger than its grace period even when no manifest names them yet (a push uploads
its blobs before its manifest). Repository names and tags cannot start with ``.`` or ``_``
(see :mod:`dockyard.registry.names`), so records and temp files never collide with them.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import logging
import os
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from dockyard.content import ContentStore
from dockyard.content.fs import os_errors, write_atomic
from dockyard.errors import DockyardError, NotFound
from dockyard.oci.descriptor import Descriptor
from dockyard.oci.digest import Digest
from dockyard.registry import errcode
from dockyard.registry.errcode import RegistryError
from dockyard.registry.manifests import PushedManifest

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class StoredManifest:
    digest: Digest
    media_type: str
    data: bytes


@dataclass(frozen=True, slots=True)
class Link:
    """A record naming a digest, with the time content last came through it."""

    digest: Digest
    updated_at: float


class RegistryStore:
    """Repositories, tags and manifests over one content store. Thread- and process-safe."""

    def __init__(self, root: Path, clock: Callable[[], float] = time.time) -> None:
        self.root = root
        self.content = ContentStore(root / "content", clock)
        self._repos = root / "repositories"
        self._lock = root / "gc.lock"
        with os_errors("mkdir", self._repos):
            self._repos.mkdir(parents=True, exist_ok=True)

    # -- the gc lock ---------------------------------------------------------------------------

    @contextlib.contextmanager
    def writing(self) -> Iterator[None]:
        """Hold off gc while linking content: gc's mark and sweep see all of it or none."""
        with self._flock(fcntl.LOCK_SH):
            yield

    @contextlib.contextmanager
    def collecting(self) -> Iterator[None]:
        """Exclusive: no request links content meanwhile (for gc)."""
        with self._flock(fcntl.LOCK_EX):
            yield

    @contextlib.contextmanager
    def _flock(self, mode: int) -> Iterator[None]:
        with os_errors("open", self._lock):
            fd = os.open(self._lock, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        try:
            fcntl.flock(fd, mode)
            yield
        finally:
            os.close(fd)

    # -- repositories --------------------------------------------------------------------------

    def repository_dir(self, name: str) -> Path:
        return self._repos / name

    def exists(self, name: str) -> bool:
        path = self._repos / name
        return (path / "_manifests").is_dir() or (path / "_layers").is_dir()

    def repositories(self) -> list[str]:
        """Every repository name, sorted."""
        found: list[str] = []
        self._walk(self._repos, "", found)
        return sorted(found)

    def _walk(self, path: Path, prefix: str, found: list[str]) -> None:
        try:
            entries = sorted(os.scandir(path), key=lambda e: e.name)
        except FileNotFoundError:
            return
        names = {e.name for e in entries}
        if prefix and ("_manifests" in names or "_layers" in names):
            found.append(prefix)
        for entry in entries:
            if entry.name[0] not in "._" and entry.is_dir(follow_symlinks=False):
                self._walk(Path(entry.path), f"{prefix}/{entry.name}" if prefix else entry.name,
                           found)

    # -- blobs ---------------------------------------------------------------------------------

    def _layer_link(self, name: str, digest: Digest) -> Path:
        return self._repos / name / "_layers" / digest.algorithm / digest.encoded

    def _revision(self, name: str, digest: Digest) -> Path:
        return self._repos / name / "_manifests" / "revisions" / digest.algorithm / digest.encoded

    def has_blob(self, name: str, digest: Digest) -> bool:
        """Whether the repository holds the blob (a layer, config, or one of its manifests)."""
        linked = self._layer_link(name, digest).is_file() or self._revision(name, digest).is_file()
        return linked and self.content.exists(digest)

    def blob_path(self, name: str, digest: Digest) -> Path:
        """The blob's file, if the repository holds it; BLOB_UNKNOWN otherwise."""
        if not self.has_blob(name, digest):
            raise RegistryError(errcode.BLOB_UNKNOWN, f"blob {digest} unknown to repository "
                                f"{name}", detail={"digest": str(digest)})
        return self.content.path(digest)

    def link_blob(self, name: str, digest: Digest) -> None:
        """Link a stored blob into the repository. Hold :meth:`writing` from the blob's commit
        (or check) to here, so gc cannot remove it in between."""
        if not self.content.exists(digest):
            raise NotFound(f"blob {digest} not found in {self.content.root}")
        path = self._layer_link(name, digest)
        if path.is_file():
            self.touch(name, digest)
            return
        with os_errors("mkdir", path.parent):
            path.parent.mkdir(parents=True, exist_ok=True)
        write_atomic(path, str(digest).encode())
        log.debug("linked blob %s into %s", digest, name)

    def touch(self, name: str, digest: Digest) -> None:
        """Renew a layer link's time, so gc's grace period counts from now (best effort)."""
        with contextlib.suppress(OSError):
            os.utime(self._layer_link(name, digest))

    def unlink_blob(self, name: str, digest: Digest) -> None:
        try:
            self._layer_link(name, digest).unlink()
        except FileNotFoundError as exc:
            raise RegistryError(errcode.BLOB_UNKNOWN, f"blob {digest} unknown to repository "
                                f"{name}", detail={"digest": str(digest)}) from exc

    def mount(self, name: str, digest: Digest, source: str) -> bool:
        """Link a blob of ``source`` into ``name``; False if ``source`` does not hold it."""
        with self.writing():
            if not self.has_blob(source, digest):
                return False
            self.link_blob(name, digest)
        return True

    def layer_links(self, name: str) -> list[Link]:
        return _links(self._repos / name / "_layers")

    def remove_layer_link(self, name: str, digest: Digest) -> None:
        self._layer_link(name, digest).unlink(missing_ok=True)

    # -- manifests -----------------------------------------------------------------------------

    def put_manifest(self, name: str, pushed: PushedManifest, tag: str | None) -> None:
        """Store a validated manifest, after checking that what it references is here;
        MANIFEST_BLOB_UNKNOWN (and nothing stored) otherwise."""
        refs = pushed.references
        with self.writing():
            missing = [d for d in refs.blobs if not self.has_blob(name, d)]
            missing += [d for d in refs.manifests if not self.has_manifest(name, d)]
            if missing:
                raise RegistryError(
                    errcode.MANIFEST_BLOB_UNKNOWN,
                    f"manifest {pushed.digest} references {len(missing)} blob(s) or manifest(s) "
                    f"unknown to repository {name}: {', '.join(map(str, missing[:5]))}",
                    detail={"digests": [str(d) for d in missing]},
                )
            self.content.put_bytes(pushed.data, expected=pushed.digest)
            revision = self._revision(name, pushed.digest)
            with os_errors("mkdir", revision.parent):
                revision.parent.mkdir(parents=True, exist_ok=True)
            write_atomic(revision, pushed.media_type.encode())
            if refs.subject is not None:
                self._add_referrer(name, refs.subject.digest, pushed.referrer)
            if tag is not None:
                self._set_tag(name, tag, pushed.digest)
        log.info("stored manifest %s in %s%s", pushed.digest, name, f" as {tag}" if tag else "")

    def has_manifest(self, name: str, digest: Digest) -> bool:
        return self._revision(name, digest).is_file() and self.content.exists(digest)

    def resolve(self, name: str, reference: Digest | str) -> tuple[Digest, str]:
        """The digest and media type a tag or digest names; MANIFEST_UNKNOWN if none."""
        digest = reference if isinstance(reference, Digest) else self._tag(name, reference)
        try:
            media_type = self._revision(name, digest).read_text()
        except (FileNotFoundError, NotADirectoryError):
            raise _manifest_unknown(name, reference) from None
        return digest, media_type

    def manifest(self, name: str, reference: Digest | str) -> StoredManifest:
        digest, media_type = self.resolve(name, reference)
        try:
            data = self.content.read_bytes(digest)
        except NotFound:
            raise _manifest_unknown(name, reference) from None
        return StoredManifest(digest, media_type, data)

    def revisions(self, name: str) -> list[Link]:
        return _links(self._repos / name / "_manifests" / "revisions")

    def delete_manifest(self, name: str, digest: Digest) -> None:
        """Remove a manifest from the repository with its tags and its referrer record."""
        stored = self.manifest(name, digest)
        for tag, target in self.tags(name).items():
            if target == digest:
                (self._tags_dir(name) / tag).unlink(missing_ok=True)
        subject = _subject_of(stored)
        if subject is not None:
            self._referrer_path(name, subject, digest).unlink(missing_ok=True)
        self._revision(name, digest).unlink(missing_ok=True)
        log.info("deleted manifest %s from %s", digest, name)

    # -- tags ----------------------------------------------------------------------------------

    def _tags_dir(self, name: str) -> Path:
        return self._repos / name / "_manifests" / "tags"

    def tags(self, name: str) -> dict[str, Digest]:
        """Tag -> digest, in the spec's lexical order (case-insensitive, then exact)."""
        try:
            names = [n for n in os.listdir(self._tags_dir(name)) if not n.startswith(".")]
        except (FileNotFoundError, NotADirectoryError):
            names = []
        found: dict[str, Digest] = {}
        for tag in sorted(names, key=tag_order):
            with contextlib.suppress(FileNotFoundError, DockyardError):
                found[tag] = Digest.parse((self._tags_dir(name) / tag).read_text())
        return found

    def _tag(self, name: str, tag: str) -> Digest:
        try:
            return Digest.parse((self._tags_dir(name) / tag).read_text())
        except (FileNotFoundError, NotADirectoryError):
            raise _manifest_unknown(name, tag) from None

    def _set_tag(self, name: str, tag: str, digest: Digest) -> None:
        path = self._tags_dir(name) / tag
        with os_errors("mkdir", path.parent):
            path.parent.mkdir(parents=True, exist_ok=True)
        write_atomic(path, str(digest).encode(), sync=True)

    def delete_tag(self, name: str, tag: str) -> None:
        try:
            (self._tags_dir(name) / tag).unlink()
        except (FileNotFoundError, NotADirectoryError):
            raise _manifest_unknown(name, tag) from None
        log.info("deleted tag %s:%s", name, tag)

    # -- referrers -----------------------------------------------------------------------------

    def _referrer_path(self, name: str, subject: Digest, referrer: Digest) -> Path:
        return (self._repos / name / "_referrers" / subject.algorithm / subject.encoded
                / f"{referrer.algorithm}-{referrer.encoded}")

    def _add_referrer(self, name: str, subject: Digest, descriptor: Descriptor) -> None:
        path = self._referrer_path(name, subject, descriptor.digest)
        with os_errors("mkdir", path.parent):
            path.parent.mkdir(parents=True, exist_ok=True)
        write_atomic(path, descriptor.to_json())

    def referrers(self, name: str, subject: Digest) -> list[Descriptor]:
        """Descriptors of the repository's manifests whose subject is ``subject``, by digest."""
        directory = self._repos / name / "_referrers" / subject.algorithm / subject.encoded
        try:
            entries = sorted(n for n in os.listdir(directory) if not n.startswith("."))
        except (FileNotFoundError, NotADirectoryError):
            return []
        found = []
        for entry in entries:
            try:
                found.append(Descriptor.from_json((directory / entry).read_bytes()))
            except FileNotFoundError:
                continue
            except DockyardError as exc:
                log.warning("skipping damaged referrer record %s: %s", directory / entry, exc)
        return found


def tag_order(tag: str) -> tuple[str, str]:
    """Lexical order of the spec's tag list: case-insensitive, ties broken exactly."""
    return tag.lower(), tag


def _links(directory: Path) -> list[Link]:
    found = []
    try:
        algorithms = sorted(os.listdir(directory))
    except (FileNotFoundError, NotADirectoryError):
        return []
    for algorithm in algorithms:
        if algorithm.startswith("."):
            continue
        with contextlib.suppress(FileNotFoundError, NotADirectoryError):
            for entry in sorted(os.scandir(directory / algorithm), key=lambda e: e.name):
                if entry.name.startswith("."):
                    continue
                try:
                    found.append(Link(Digest.parse(f"{algorithm}:{entry.name}"),
                                      entry.stat().st_mtime))
                except (FileNotFoundError, DockyardError):
                    continue
    return found


def _subject_of(stored: StoredManifest) -> Digest | None:
    try:
        document = json.loads(stored.data)
        return Digest.parse(document["subject"]["digest"])
    except (ValueError, KeyError, TypeError, DockyardError):
        return None


def _manifest_unknown(name: str, reference: Digest | str) -> RegistryError:
    return RegistryError(errcode.MANIFEST_UNKNOWN, f"manifest {reference} unknown to repository "
                         f"{name}", detail={"name": name, "reference": str(reference)})
