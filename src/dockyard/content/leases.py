"""Leases: named sets of resources that garbage collection must keep while work is unfinished.

An import, pull or build takes a lease, adds each blob, ingest and snapshot it creates, and
deletes the lease when the image record that references them is written. GC keeps everything
named by a live lease (one with no expiry, or an expiry still in the future). On disk::

    <root>/leases/
        .lock               flock(2)ed around every read-modify-write
        <lease id>.json     {"id", "created_at", "expires_at", "labels", "resources"}
        .tmp-<random>       a lease file being replaced

Each lease file is replaced atomically (temp file, rename) and not fsynced: a lease only matters
while the process holding it runs, and an interrupted pull re-leases what it resumes.
"""

from __future__ import annotations

import json
import logging
import os
import re
import secrets
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import AbstractContextManager, contextmanager, suppress
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from dockyard.content.fs import TEMP_PREFIX, locked, os_errors, write_atomic
from dockyard.errors import AlreadyExists, DataCorrupt, InvalidArgument, NotFound

log = logging.getLogger(__name__)

# containerd's identifier grammar (identifiers.Validate): alphanumerics joined by . _ -
_LEASE_ID = re.compile(r"[A-Za-z0-9]+(?:[._-][A-Za-z0-9]+)*")
_MAX_ID = 76


@dataclass(frozen=True, slots=True, order=True)
class Resource:
    """Something a lease keeps: ``kind`` is e.g. "content", "ingest", "snapshots/overlayfs"."""

    kind: str
    id: str


@dataclass(frozen=True, slots=True)
class Lease:
    id: str
    created_at: float
    expires_at: float | None = None
    labels: dict[str, str] = field(default_factory=dict)
    resources: frozenset[Resource] = frozenset()

    def expired(self, now: float) -> bool:
        return self.expires_at is not None and self.expires_at <= now

    def to_json(self) -> bytes:
        data = {
            "id": self.id,
            "created_at": self.created_at,
            "expires_at": self.expires_at,
            "labels": self.labels,
            "resources": [{"kind": r.kind, "id": r.id} for r in sorted(self.resources)],
        }
        return json.dumps(data, sort_keys=True, indent=1).encode()

    @classmethod
    def from_json(cls, data: Any) -> Lease:
        expires_at = data["expires_at"]
        return cls(
            id=str(data["id"]),
            created_at=float(data["created_at"]),
            expires_at=None if expires_at is None else float(expires_at),
            labels={str(k): str(v) for k, v in data["labels"].items()},
            resources=frozenset(Resource(str(r["kind"]), str(r["id"])) for r in data["resources"]),
        )


class LeaseStore:
    """Leases under ``root/leases``. Safe to share between threads and processes."""

    def __init__(self, root: Path, clock: Callable[[], float] = time.time) -> None:
        self.root = root / "leases"
        self._clock = clock
        with os_errors("mkdir", self.root):
            self.root.mkdir(parents=True, exist_ok=True)

    def create(
        self,
        lease_id: str | None = None,
        labels: Mapping[str, str] | None = None,
        expires_at: float | None = None,
    ) -> Lease:
        """A new lease; a random id when none is given. AlreadyExists if the id is taken."""
        lease_id = f"lease-{secrets.token_hex(8)}" if lease_id is None else lease_id
        path = self._path(lease_id)
        lease = Lease(lease_id, self._clock(), expires_at, dict(labels or {}))
        with self._locked():
            if path.exists():
                raise AlreadyExists(f"lease {lease_id} already exists at {path}")
            write_atomic(path, lease.to_json())
        log.debug("created lease %s", lease_id)
        return lease

    def get(self, lease_id: str) -> Lease:
        return self._read(self._path(lease_id))

    def add_resource(self, lease_id: str, resource: Resource) -> Lease:
        _check_resource(resource)
        with self._locked():
            lease = self.get(lease_id)
            lease = replace(lease, resources=lease.resources | {resource})
            write_atomic(self._path(lease_id), lease.to_json())
        return lease

    def remove_resource(self, lease_id: str, resource: Resource) -> Lease:
        """Drop ``resource`` from the lease; a resource it does not hold is no error."""
        with self._locked():
            lease = self.get(lease_id)
            lease = replace(lease, resources=lease.resources - {resource})
            write_atomic(self._path(lease_id), lease.to_json())
        return lease

    def delete(self, lease_id: str) -> None:
        path = self._path(lease_id)
        with self._locked(), os_errors("delete lease", path):
            path.unlink()
        log.debug("deleted lease %s", lease_id)

    def leases(self) -> list[Lease]:
        """Every lease, expired or not, ordered by creation time then id."""
        found = []
        for name in os.listdir(self.root):
            if name.endswith(".json") and not name.startswith("."):
                with suppress(NotFound):
                    found.append(self._read(self.root / name))
        return sorted(found, key=lambda lease: (lease.created_at, lease.id))

    def resources(self) -> set[Resource]:
        """What live (unexpired) leases hold: the set GC must keep."""
        now = self._clock()
        return {r for lease in self.leases() if not lease.expired(now) for r in lease.resources}

    def delete_expired(self) -> list[str]:
        """Delete leases whose expiry has passed; returns their ids."""
        now = self._clock()
        gone = []
        for lease in self.leases():
            if lease.expired(now):
                with suppress(NotFound):
                    self.delete(lease.id)
                    gone.append(lease.id)
        return gone

    def recover(self) -> list[Path]:
        """Remove temp files of interrupted lease writes."""
        stray = [self.root / n for n in os.listdir(self.root) if n.startswith(TEMP_PREFIX)]
        for path in stray:
            path.unlink(missing_ok=True)
        return stray

    @contextmanager
    def lease(
        self,
        lease_id: str | None = None,
        labels: Mapping[str, str] | None = None,
        expires_at: float | None = None,
    ) -> Iterator[Lease]:
        """A lease for the duration of a ``with`` block, deleted on exit however it exits."""
        lease = self.create(lease_id, labels, expires_at)
        try:
            yield lease
        finally:
            with suppress(NotFound):
                self.delete(lease.id)

    def _path(self, lease_id: str) -> Path:
        if len(lease_id) > _MAX_ID or not _LEASE_ID.fullmatch(lease_id):
            raise InvalidArgument(
                f"invalid lease id {lease_id!r}: want alphanumerics joined by '.', '_' or '-', "
                f"at most {_MAX_ID} characters"
            )
        return self.root / f"{lease_id}.json"

    def _read(self, path: Path) -> Lease:
        try:
            text = path.read_bytes()
        except FileNotFoundError as exc:
            raise NotFound(f"lease {path.stem} not found at {path}") from exc
        try:
            return Lease.from_json(json.loads(text))
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            raise DataCorrupt(f"lease file {path} is damaged: {exc!r}") from exc

    def _locked(self) -> AbstractContextManager[None]:
        return locked(self.root)


def _check_resource(resource: Resource) -> None:
    if not resource.kind or not resource.id:
        raise InvalidArgument(f"invalid lease resource {resource}: kind and id must not be empty")
