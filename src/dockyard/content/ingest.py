"""Ingests: blobs being written, kept on disk so an interrupted write resumes where it stopped.

An ingest is named by its *ref*, a caller-chosen string (a puller uses one per layer), and
lives in a directory named by the sha256 of that ref, so any ref text is a safe path::

    <root>/ingest/
        <sha256 hex of ref>/
            ref             the ref, utf-8
            startedat       unix seconds, decimal text
            total           the expected size in bytes, decimal (absent when unknown)
            expected        the expected digest, "sha256:<hex>" (absent when unknown)
            data            the bytes written so far
            lock            flock(2)ed LOCK_EX by the one writer of this ref
        .tmp-<random>/      an ingest being created; renamed to <sha256 of ref>/ when complete
        .discard-<random>/  an ingest being removed; renamed away first so removal is atomic

Creation and removal are renames of whole directories, so a crash never leaves an ingest with
half its metadata. The lock is flock(2), held by an open file, so a process that dies (even by
SIGKILL) releases it. The lock file is checked after locking to still be the one at the ingest's
path, so a writer never holds a lock on an ingest another process has just removed.
"""

from __future__ import annotations

import fcntl
import hashlib
import logging
import os
import secrets
import shutil
from dataclasses import dataclass
from pathlib import Path

from dockyard.content.fs import TEMP_PREFIX, os_errors, temp_path, write_atomic
from dockyard.errors import Conflict, DataCorrupt, Internal, InvalidArgument, NotFound
from dockyard.oci.digest import Digest

log = logging.getLogger(__name__)

DISCARD_PREFIX = ".discard-"
_LOCK_TRIES = 16


@dataclass(frozen=True, slots=True)
class Status:
    """The state of one ingest. ``offset`` is the size of its data on disk."""

    ref: str
    offset: int
    total: int | None
    expected: Digest | None
    started_at: float
    updated_at: float


@dataclass(frozen=True, slots=True)
class Meta:
    """What an ingest was started with."""

    ref: str
    total: int | None
    expected: Digest | None
    started_at: float


def ingest_key(ref: str) -> str:
    if not ref:
        raise InvalidArgument("invalid ingest ref '': must not be empty")
    return hashlib.sha256(ref.encode()).hexdigest()


class IngestDir:
    """One ingest directory: creation, locking, metadata and removal."""

    def __init__(self, ingest_root: Path, ref: str) -> None:
        self.ref = ref
        self.root = ingest_root
        self.path = ingest_root / ingest_key(ref)

    @property
    def data(self) -> Path:
        return self.path / "data"

    def open_locked(self, total: int | None, expected: Digest | None, now: float) -> int:
        """Create the ingest if missing and lock it; returns the lock fd. Conflict if locked."""
        for _ in range(_LOCK_TRIES):
            if not self.path.is_dir():
                self._create(Meta(self.ref, total, expected, now))
            fd = self.try_lock()
            if fd is not None:
                return fd
        raise Internal(f"ingest {self.path} for ref {self.ref!r} keeps vanishing while locked")

    def lock_existing(self) -> int:
        """Lock an existing ingest; NotFound if there is none, Conflict if a writer holds it."""
        for _ in range(_LOCK_TRIES):
            if not self.path.is_dir():
                raise NotFound(f"ingest for ref {self.ref!r} not found at {self.path}")
            fd = self.try_lock()
            if fd is not None:
                return fd
        raise Internal(f"ingest {self.path} for ref {self.ref!r} keeps vanishing while locked")

    def try_lock(self) -> int | None:
        """The lock fd, or None when the directory vanished under us (retry). Conflict if held."""
        return lock_dir(self.path, self.ref)

    def _create(self, meta: Meta) -> None:
        tmp = temp_path(self.root)
        with os_errors("create ingest", tmp):
            tmp.mkdir(mode=0o700)
            try:
                (tmp / "ref").write_text(meta.ref)
                (tmp / "startedat").write_text(repr(meta.started_at))
                if meta.total is not None:
                    (tmp / "total").write_text(str(meta.total))
                if meta.expected is not None:
                    (tmp / "expected").write_text(str(meta.expected))
                (tmp / "data").touch(mode=0o600)
                (tmp / "lock").touch(mode=0o600)
                os.rename(tmp, self.path)
            except OSError as exc:
                shutil.rmtree(tmp, ignore_errors=True)
                # Another process created the same ingest first: use theirs.
                if not self.path.is_dir():
                    raise
                log.debug("ingest %s for ref %r created concurrently: %s", self.path, self.ref, exc)

    def read_meta(self) -> Meta:
        try:
            ref = (self.path / "ref").read_text()
            started_at = float((self.path / "startedat").read_text())
            total_text = _read_optional(self.path / "total")
            expected_text = _read_optional(self.path / "expected")
            total = int(total_text) if total_text is not None else None
            expected = Digest.parse(expected_text) if expected_text is not None else None
        except FileNotFoundError as exc:
            raise NotFound(f"ingest for ref {self.ref!r} not found at {self.path}") from exc
        except (OSError, ValueError, InvalidArgument) as exc:
            raise DataCorrupt(f"ingest {self.path} for ref {self.ref!r} is damaged: {exc}") from exc
        if ref != self.ref:
            raise DataCorrupt(f"ingest {self.path} holds ref {ref!r}, not {self.ref!r}")
        return Meta(ref, total, expected, started_at)

    def reconcile(self, meta: Meta, total: int | None, expected: Digest | None) -> Meta:
        """Check a resume's ``total`` and ``expected`` against the ingest's; record new ones."""
        if total is not None and meta.total is not None and total != meta.total:
            raise Conflict(
                f"ref {self.ref} was started with total {meta.total}, not {total}; abort it first"
            )
        if expected is not None and meta.expected is not None and expected != meta.expected:
            raise Conflict(
                f"ref {self.ref} was started expecting {meta.expected}, not {expected}; "
                "abort it first"
            )
        if total is not None and meta.total is None:
            write_atomic(self.path / "total", str(total).encode(), mode=0o600)
            meta = Meta(meta.ref, total, meta.expected, meta.started_at)
        if expected is not None and meta.expected is None:
            write_atomic(self.path / "expected", str(expected).encode(), mode=0o600)
            meta = Meta(meta.ref, meta.total, expected, meta.started_at)
        return meta

    def status(self) -> Status:
        meta = self.read_meta()
        try:
            st = os.stat(self.data)
            offset, updated_at = st.st_size, max(st.st_mtime, meta.started_at)
        except FileNotFoundError:
            offset, updated_at = 0, meta.started_at
        return Status(meta.ref, offset, meta.total, meta.expected, meta.started_at, updated_at)

    def discard(self) -> None:
        """Remove the ingest. The caller holds its lock (or knows no one can)."""
        discard_dir(self.path)


def discard_dir(path: Path) -> None:
    """Rename an ingest directory out of the way, then delete it; a crash leaves .discard-*."""
    gone = path.parent / f"{DISCARD_PREFIX}{secrets.token_hex(8)}"
    try:
        os.rename(path, gone)
    except FileNotFoundError:
        return
    shutil.rmtree(gone, ignore_errors=True)


def lock_dir(path: Path, ref: str) -> int | None:
    """flock(2) ``path/lock``: the fd, None if ``path`` vanished meanwhile, Conflict if held."""
    lock = path / "lock"
    try:
        fd = os.open(lock, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
    except FileNotFoundError:
        return None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError as exc:
        os.close(fd)
        raise Conflict(f"ref {ref} locked: another writer holds {lock}") from exc
    held = os.fstat(fd)
    try:
        current = os.stat(lock)
    except FileNotFoundError:
        current = None
    if current is None or (current.st_dev, current.st_ino) != (held.st_dev, held.st_ino):
        os.close(fd)
        return None
    return fd


def is_scratch(name: str) -> bool:
    """Whether an entry of ingest/ is a leftover of an interrupted create or discard."""
    return name.startswith((TEMP_PREFIX, DISCARD_PREFIX))


def _read_optional(path: Path) -> str | None:
    try:
        return path.read_text()
    except FileNotFoundError:
        return None
