"""The content store: immutable blobs addressed by digest, written through resumable ingests.

containerd's local content store is the model. On disk::

    <root>/
        blobs/
            sha256/
                <hex>               a complete, verified blob, mode 0444, never modified
                .tmp-<random>       put_bytes() writing a small blob (removed by recover())
        ingest/                     blobs being written; see dockyard.content.ingest
            <sha256 hex of ref>/    data, ref, total, expected, startedat, lock
        labels/                     per-blob labels; see dockyard.content.labels
            sha256/<hex>.json

A file in ``blobs/`` is always complete and verified: it arrives there only by rename(2) of a
data file whose size and digest were checked and which was fsynced once. A crash at any instant
leaves the blob absent (its ingest resumable, or a stray temp file that ``recover()`` removes) or
present and whole. The directory entry itself is not fsynced: a caller that records the digest
elsewhere makes that record durable in its own transaction (one sync per layer, not per file).

A blob's ``created_at`` is its file's mtime: the time its last byte was written.
"""

from __future__ import annotations

import errno
import hashlib
import logging
import os
import shutil
import time
from collections.abc import Callable, Iterator, Mapping, Set
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

from dockyard.content.fs import CHUNK_SIZE, TEMP_PREFIX, os_errors, write_atomic
from dockyard.content.ingest import (
    IngestDir,
    Status,
    discard_dir,
    ingest_key,
    is_scratch,
    lock_dir,
)
from dockyard.content.labels import LabelStore, validate_labels
from dockyard.content.tee import TeeReader
from dockyard.content.writer import ContentWriter
from dockyard.errors import (
    Conflict,
    DataCorrupt,
    DockyardError,
    InvalidArgument,
    NotFound,
    SystemCallError,
)
from dockyard.oci.digest import Digest

__all__ = ["ContentStore", "ContentWriter", "Info", "Status", "TeeReader"]

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Info:
    """A stored blob."""

    digest: Digest
    size: int
    created_at: float
    labels: dict[str, str] = field(default_factory=dict)


class ContentStore:
    """Blobs by digest under ``root``. Safe to share between threads and processes."""

    def __init__(self, root: Path, clock: Callable[[], float] = time.time) -> None:
        self.root = root
        self._clock = clock
        self._blobs = root / "blobs"
        self._ingest_root = root / "ingest"
        self._labels = LabelStore(root / "labels")
        with os_errors("mkdir", root):
            for directory in (self._blobs / "sha256", self._ingest_root, self._labels.root):
                directory.mkdir(parents=True, exist_ok=True)

    # -- blobs -------------------------------------------------------------------------------

    def exists(self, digest: Digest) -> bool:
        return self._blob_path(digest).is_file()

    def path(self, digest: Digest) -> Path:
        """The blob's file, for readers that want a path. NotFound if absent."""
        path = self._blob_path(digest)
        if not path.is_file():
            raise NotFound(f"blob {digest} not found at {path}")
        return path

    def info(self, digest: Digest) -> Info:
        path = self._blob_path(digest)
        try:
            st = os.stat(path)
        except FileNotFoundError as exc:
            raise NotFound(f"blob {digest} not found at {path}") from exc
        return Info(digest, st.st_size, st.st_mtime, self._labels.get(digest))

    def open(self, digest: Digest) -> BinaryIO:
        path = self._blob_path(digest)
        try:
            return open(path, "rb")
        except FileNotFoundError as exc:
            raise NotFound(f"blob {digest} not found at {path}") from exc

    def read_bytes(self, digest: Digest) -> bytes:
        with self.open(digest) as blob:
            return blob.read()

    def verify(self, digest: Digest) -> Info:
        """Re-hash a stored blob (fsck); DataCorrupt if its bytes no longer match its name."""
        path = self.path(digest)
        with os_errors("read", path), open(path, "rb") as blob:
            actual = Digest.from_hasher(hashlib.file_digest(blob, digest.algorithm))
        if actual != digest:
            raise DataCorrupt(f"blob {path} hashes to {actual}, not {digest}")
        return self.info(digest)

    def delete(self, digest: Digest) -> None:
        path = self._blob_path(digest)
        try:
            path.unlink()
        except FileNotFoundError as exc:
            raise NotFound(f"blob {digest} not found at {path}") from exc
        except OSError as exc:
            raise SystemCallError("unlink", exc.errno or errno.EIO, str(path)) from exc
        self._labels.remove(digest)
        log.debug("deleted blob %s", digest)

    def walk(self) -> Iterator[Info]:
        """Every stored blob, ordered by digest. Blobs deleted meanwhile are skipped."""
        for algorithm in self._algorithms():
            labelled = self._labels.labelled(algorithm)
            for name in sorted(os.listdir(self._blobs / algorithm)):
                if name.startswith("."):
                    continue
                try:
                    digest = Digest.parse(f"{algorithm}:{name}")
                    st = os.stat(self._blobs / algorithm / name)
                except FileNotFoundError:
                    continue
                except DockyardError:
                    log.warning("ignoring stray file %s in blobs", self._blobs / algorithm / name)
                    continue
                labels = self._labels.get(digest) if name in labelled else {}
                yield Info(digest, st.st_size, st.st_mtime, labels)

    def update_labels(
        self, digest: Digest, labels: Mapping[str, str | None], replace: bool = False
    ) -> Info:
        """Merge ``labels`` into the blob's (a None value removes that key); ``replace`` sets
        exactly ``labels``. Atomic; returns the new Info."""
        info = self.info(digest)
        new = self._labels.update(digest, labels, replace=replace)
        return Info(info.digest, info.size, info.created_at, new)

    def put_bytes(
        self,
        data: bytes,
        expected: Digest | None = None,
        labels: Mapping[str, str] | None = None,
    ) -> Digest:
        """Store a small blob held in memory (manifests, configs) without an ingest."""
        algorithm = expected.algorithm if expected is not None else "sha256"
        actual = Digest.from_hasher(hashlib.new(algorithm, data))
        if expected is not None and actual != expected:
            raise DataCorrupt(
                f"put of {len(data)} bytes: digest mismatch: expected {expected}, got {actual}"
            )
        if labels:
            validate_labels(labels)
            self._labels.update(actual, labels)
        path = self._blob_path(actual)
        if not path.exists():
            with os_errors("mkdir", path.parent):
                path.parent.mkdir(exist_ok=True)
            write_atomic(path, data, mode=0o444, sync=True)
        return actual

    # -- ingests -----------------------------------------------------------------------------

    def writer(
        self, ref: str, expected: Digest | None = None, total: int | None = None
    ) -> ContentWriter:
        """A writer for ``ref``, resuming its ingest if one exists. Conflict if ref is locked."""
        if total is not None and total < 0:
            raise InvalidArgument(f"invalid total {total} for ref {ref}: must not be negative")
        ingest = IngestDir(self._ingest_root, ref)
        fd = ingest.open_locked(total, expected, self._clock())
        try:
            meta = ingest.reconcile(ingest.read_meta(), total, expected)
            return ContentWriter(ingest, fd, meta, self._publish)
        except BaseException:
            os.close(fd)
            raise

    def ingest(
        self,
        stream: BinaryIO,
        ref: str,
        expected: Digest | None = None,
        total: int | None = None,
        labels: Mapping[str, str] | None = None,
    ) -> Digest:
        """Copy ``stream`` into the store in 1 MiB chunks and commit it.

        A resumed ingest skips ``offset`` bytes of a seekable stream when the digest to verify
        is known; otherwise (nothing would catch a stale prefix) it is written from the start.
        """
        with self.writer(ref, expected, total) as writer:
            if writer.offset and writer.expected is not None and stream.seekable():
                stream.seek(writer.offset, os.SEEK_CUR)
            elif writer.offset:
                writer.truncate(0)
            while chunk := stream.read(CHUNK_SIZE):
                writer.write(chunk)
            return writer.commit(labels=labels)

    def status(self, ref: str) -> Status:
        return IngestDir(self._ingest_root, ref).status()

    def ingests(self) -> list[Status]:
        """Every ingest, locked or not, ordered by ref."""
        found = []
        for path, ingest in self._list_ingests():
            if ingest is None:
                continue
            try:
                found.append(ingest.status())
            except NotFound:
                continue
            except DataCorrupt as exc:
                log.warning("skipping damaged ingest %s: %s", path, exc)
        return sorted(found, key=lambda status: status.ref)

    def abort(self, ref: str) -> None:
        """Remove the ingest of ``ref``. NotFound if none, Conflict if a writer holds it."""
        ingest = IngestDir(self._ingest_root, ref)
        fd = ingest.lock_existing()
        try:
            ingest.discard()
        finally:
            os.close(fd)

    def prune_ingests(self, older_than: float, keep_refs: Set[str] = frozenset()) -> list[str]:
        """Remove unlocked ingests last written before the unix time ``older_than``, except
        those whose ref is in ``keep_refs`` (leased). Returns the refs removed."""
        pruned = []
        for path, ingest in self._list_ingests():
            try:
                if ingest is None:
                    ref, updated_at = path.name, os.stat(path).st_mtime
                else:
                    status = ingest.status()
                    ref, updated_at = status.ref, status.updated_at
            except (OSError, NotFound):
                continue
            except DataCorrupt:
                ref, updated_at = path.name, 0.0
            if ref in keep_refs or updated_at >= older_than:
                continue
            if self._discard_unlocked(path, ref):
                pruned.append(ref)
        return pruned

    def recover(self) -> list[Path]:
        """Clean what a crash can leave: temp files, half-removed ingests, labels of missing
        blobs, ingests too damaged to resume. Keeps every resumable ingest. Returns what went."""
        removed: list[Path] = []
        for algorithm in self._algorithms():
            for name in os.listdir(self._blobs / algorithm):
                if name.startswith(TEMP_PREFIX):
                    removed.append(self._blobs / algorithm / name)
        removed.extend(self._labels.scratch())
        for path in removed:
            path.unlink(missing_ok=True)
        removed.extend(self._remove_orphan_labels())
        removed.extend(self._recover_ingests())
        for path in removed:
            log.info("recover: removed %s", path)
        return removed

    # -- internals ---------------------------------------------------------------------------

    def _algorithms(self) -> list[str]:
        return sorted(p.name for p in self._blobs.iterdir() if p.is_dir())

    def _blob_path(self, digest: Digest) -> Path:
        return self._blobs / digest.algorithm / digest.encoded

    def _publish(self, ingest: IngestDir, digest: Digest, labels: Mapping[str, str] | None) -> None:
        """Move a verified, synced ingest into blobs/. An existing blob wins: same bytes."""
        if labels:
            self._labels.update(digest, labels)
        target = self._blob_path(digest)
        if target.exists():
            log.debug("blob %s exists already; dropping ingest of ref %r", digest, ingest.ref)
            return
        with os_errors("rename", target):
            target.parent.mkdir(exist_ok=True)
            os.rename(ingest.data, target)

    def _list_ingests(self) -> Iterator[tuple[Path, IngestDir | None]]:
        """Each ingest directory with its IngestDir, or None when its ref is unreadable."""
        for name in sorted(os.listdir(self._ingest_root)):
            path = self._ingest_root / name
            if is_scratch(name):
                continue
            try:
                ref = (path / "ref").read_text()
            except FileNotFoundError:
                if path.is_dir():
                    yield path, None
                continue
            except (OSError, UnicodeDecodeError):
                yield path, None
                continue
            yield path, (IngestDir(self._ingest_root, ref) if ingest_key(ref) == name else None)

    def _discard_unlocked(self, path: Path, ref: str) -> bool:
        try:
            fd = lock_dir(path, ref)
        except Conflict:
            return False
        if fd is None:
            return False
        try:
            discard_dir(path)
        finally:
            os.close(fd)
        return True

    def _remove_orphan_labels(self) -> list[Path]:
        removed = []
        for algorithm in os.listdir(self._labels.root):
            if algorithm.startswith("."):
                continue
            for encoded in self._labels.labelled(algorithm):
                if not (self._blobs / algorithm / encoded).exists():
                    path = self._labels.root / algorithm / f"{encoded}.json"
                    path.unlink(missing_ok=True)
                    removed.append(path)
        return removed

    def _recover_ingests(self) -> list[Path]:
        removed = []
        for name in os.listdir(self._ingest_root):
            path = self._ingest_root / name
            if is_scratch(name):
                shutil.rmtree(path, ignore_errors=True)
                removed.append(path)
                continue
            for scratch in path.glob(f"{TEMP_PREFIX}*"):
                scratch.unlink(missing_ok=True)
                removed.append(scratch)
        for path, ingest in self._list_ingests():
            try:
                if ingest is not None:
                    ingest.read_meta()
                    continue
            except NotFound:
                continue
            except DataCorrupt as exc:
                log.warning("recover: ingest %s is damaged: %s", path, exc)
            if self._discard_unlocked(path, path.name):
                removed.append(path)
        return removed
