"""ContentWriter: streams bytes into an ingest, hashing as it goes, and commits a verified blob.

The writer owns the ingest's flock(2) from open to close. Writes go through one buffered file
(1 MiB buffer, so small writes are coalesced and large ones pass straight to write(2)) and one
running hasher; nothing else touches the kernel per chunk. ``commit`` flushes, checks size and
digest, fsyncs the data file once, and hands it to the store, which renames it into ``blobs/``.
Closing without a commit keeps the ingest so a later writer of the same ref resumes it.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import logging
import os
from collections.abc import Callable, Mapping
from types import TracebackType

from dockyard.content.fs import CHUNK_SIZE, os_errors
from dockyard.content.ingest import IngestDir, Meta, Status
from dockyard.content.labels import validate_labels
from dockyard.errors import Conflict, DataCorrupt, InvalidArgument
from dockyard.oci.digest import Digest

log = logging.getLogger(__name__)

#: Moves a verified, synced data file into blobs/ (a no-op when the blob exists) and records labels.
Publish = Callable[[IngestDir, Digest, Mapping[str, str] | None], None]


class ContentWriter:
    """The one writer of an ingest. Use as a context manager; get one from ContentStore.writer."""

    def __init__(self, ingest: IngestDir, lock_fd: int, meta: Meta, publish: Publish) -> None:
        self._ingest = ingest
        self._lock_fd: int | None = lock_fd
        self._meta = meta
        self._publish = publish
        self._file: io.BufferedWriter | None = None
        algorithm = meta.expected.algorithm if meta.expected is not None else "sha256"
        with os_errors("open", ingest.data):
            with contextlib.suppress(FileNotFoundError):
                # A commit that failed after making the data read-only leaves it so.
                os.chmod(ingest.data, 0o600)
            fd = os.open(ingest.data, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
            raw = io.FileIO(fd, "r+", closefd=True)
            try:
                # Resuming: the hash state is not on disk, so re-read what is there.
                self._hasher = hashlib.file_digest(raw, algorithm)
                self._offset = raw.tell()
            except BaseException:
                raw.close()
                raise
        self._raw = raw
        self._file = io.BufferedWriter(raw, buffer_size=CHUNK_SIZE)
        if self._offset:
            log.debug("resuming ingest of ref %r at offset %d", ingest.ref, self._offset)

    @property
    def ref(self) -> str:
        return self._ingest.ref

    @property
    def offset(self) -> int:
        """How many bytes the ingest holds, including those written before a resume."""
        return self._offset

    @property
    def total(self) -> int | None:
        return self._meta.total

    @property
    def expected(self) -> Digest | None:
        return self._meta.expected

    @property
    def closed(self) -> bool:
        return self._file is None

    def status(self) -> Status:
        updated = os.stat(self._ingest.data).st_mtime if self._file is not None else 0.0
        meta = self._meta
        return Status(meta.ref, self._offset, meta.total, meta.expected, meta.started_at, updated)

    def writable(self) -> bool:
        return True

    def write(self, data: bytes | bytearray | memoryview) -> int:
        """Append ``data`` and hash it. Returns its length, like a file's write."""
        file = self._open_file()
        with os_errors("write", self._ingest.data):
            written = file.write(data)
        self._hasher.update(data)
        self._offset += written
        return written

    def flush(self) -> None:
        """Hand buffered bytes to the kernel (not to the disk), so another process sees them."""
        file = self._open_file()
        with os_errors("write", self._ingest.data):
            file.flush()

    def digest(self) -> Digest:
        """The digest of everything written so far."""
        return Digest.from_hasher(self._hasher)

    def truncate(self, size: int = 0) -> None:
        """Cut the ingest to ``size`` bytes and re-hash (for a source that cannot resume)."""
        file = self._open_file()
        if not 0 <= size <= self._offset:
            raise InvalidArgument(
                f"cannot truncate ref {self.ref} to {size}: it holds {self._offset} bytes"
            )
        with os_errors("truncate", self._ingest.data):
            file.flush()
            file.truncate(size)
            file.seek(0)
            self._hasher = hashlib.new(self._hasher.name)
            remaining = size
            while remaining:
                chunk = self._raw.read(min(CHUNK_SIZE, remaining))
                if not chunk:
                    break
                self._hasher.update(chunk)
                remaining -= len(chunk)
            file.seek(size)
        self._offset = size

    def commit(
        self,
        size: int | None = None,
        expected: Digest | None = None,
        labels: Mapping[str, str] | None = None,
    ) -> Digest:
        """Verify and store the blob; return its digest. The writer is closed afterwards.

        ``size`` and ``expected`` default to the ``total`` and ``expected`` the ingest was
        started with. A mismatch raises DataCorrupt and discards the ingest. A blob that is
        already stored is success: the ingest is discarded and the existing blob kept.
        """
        file = self._open_file()
        validate_labels(labels or {})
        size = self._meta.total if size is None else size
        expected = self._meta.expected if expected is None else expected
        try:
            with os_errors("flush", self._ingest.data):
                file.flush()
            self._verify_size(size)
            actual = self._verify_digest(expected)
            with os_errors("fsync", self._ingest.data):
                os.fchmod(file.fileno(), 0o444)
                os.fsync(file.fileno())
            self._publish(self._ingest, actual, labels)
        except DataCorrupt:
            self._release(discard=True)
            raise
        except BaseException:
            self._release(discard=False)
            raise
        self._release(discard=True)
        log.debug("committed ref %r as %s (%d bytes)", self.ref, actual, self._offset)
        return actual

    def close(self) -> None:
        """Release the ingest without committing; a later writer of the ref resumes it."""
        if self._file is not None:
            self._release(discard=False)

    def __del__(self) -> None:
        # A writer dropped unclosed would hold its ref's lock for the life of the process.
        if getattr(self, "_file", None) is not None:
            log.warning("writer for ref %r was never closed; closing it", self._ingest.ref)
            self.close()

    def __enter__(self) -> ContentWriter:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def _open_file(self) -> io.BufferedWriter:
        if self._file is None:
            raise Conflict(f"writer for ref {self.ref} is closed")
        return self._file

    def _verify_size(self, size: int | None) -> None:
        if size is not None and size != self._offset:
            raise DataCorrupt(
                f"commit of ref {self.ref}: size mismatch: expected {size} bytes, "
                f"got {self._offset} (digest {self.digest()})"
            )

    def _verify_digest(self, expected: Digest | None) -> Digest:
        actual = self.digest()
        if expected is not None and expected.algorithm != actual.algorithm:
            # Rare: the expected digest arrived after the ingest started with another algorithm.
            with os_errors("read", self._ingest.data), open(self._ingest.data, "rb") as data:
                actual = Digest.from_hasher(hashlib.file_digest(data, expected.algorithm))
        if expected is not None and expected != actual:
            raise DataCorrupt(
                f"commit of ref {self.ref}: digest mismatch: expected {expected}, "
                f"got {actual} ({self._offset} bytes)"
            )
        return actual

    def _release(self, discard: bool) -> None:
        file, self._file = self._file, None
        lock_fd, self._lock_fd = self._lock_fd, None
        try:
            if file is not None:
                try:
                    file.close()
                except OSError as exc:
                    log.warning("closing ingest data %s: %s", self._ingest.data, exc)
            if discard:
                self._ingest.discard()
        finally:
            if lock_fd is not None:
                os.close(lock_fd)
