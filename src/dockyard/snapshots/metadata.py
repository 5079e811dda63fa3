"""Snapshot records, shared by every snapshotter backend: one sqlite database, one transaction per
operation, so a crash leaves either the old or the new record and never half of one.

On disk (sqlite in WAL mode, ``synchronous=FULL``: one fsync per write transaction)::

    <root>/metadata.db        table snapshots: one row per snapshot
    <root>/metadata.db-wal    sqlite's write-ahead log (and -shm, its index)

A row holds the numeric ``id`` naming the snapshot's directory, its ``key`` (the name once
committed; keys and names share one namespace, as in containerd), ``kind``, the ``parent`` row's
id, JSON ``labels``, ``created``/``updated`` times and, once committed, the cached ``size`` and
``inodes``. Ids come from AUTOINCREMENT, so a committed id is never handed out twice, even after
its row is deleted. A commit keeps the row (and so the directory) and renames the key.

The store enforces the model's rules: a key in use is AlreadyExists, an unknown key NotFound, a
parent that is not committed InvalidArgument, removing a snapshot with children and committing
something that is not active Conflict.
"""

from __future__ import annotations

import json
import logging
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from dockyard.errors import (
    AlreadyExists,
    Conflict,
    DataCorrupt,
    DockyardError,
    Internal,
    InvalidArgument,
    NotFound,
    Unavailable,
)
from dockyard.snapshots import Info, Kind, Usage

log = logging.getLogger(__name__)

SCHEMA_VERSION = 1
MAX_LABEL_BYTES = 4096  # key + value, the limit containerd puts on a label

_SCHEMA = """
CREATE TABLE IF NOT EXISTS snapshots (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    key TEXT NOT NULL UNIQUE,
    kind TEXT NOT NULL,
    parent INTEGER REFERENCES snapshots(id),
    labels TEXT NOT NULL,
    created REAL NOT NULL,
    updated REAL NOT NULL,
    size INTEGER,
    inodes INTEGER
);
CREATE INDEX IF NOT EXISTS snapshots_parent ON snapshots(parent);
"""

_SELECT = """
SELECT s.id, s.key, s.kind, p.key, s.labels, s.created, s.updated, s.size, s.inodes
FROM snapshots s LEFT JOIN snapshots p ON p.id = s.parent
"""

_CHAIN = """
WITH RECURSIVE chain(id, parent, depth) AS (
    SELECT id, parent, 0 FROM snapshots WHERE id = ?
    UNION ALL
    SELECT s.id, s.parent, c.depth + 1 FROM snapshots s JOIN chain c ON s.id = c.parent
)
SELECT id FROM chain WHERE depth > 0 ORDER BY depth
"""

Row = tuple[int, str, str, str | None, str, float, float, int | None, int | None]


@dataclass(frozen=True, slots=True)
class Record:
    """A snapshot's row: its directory id, public info, parent ids (nearest first), cached usage."""

    id: int
    info: Info
    parent_ids: tuple[int, ...] = ()
    usage: Usage | None = None


def check_key(key: str, what: str = "snapshot key") -> None:
    if not key or "\0" in key:
        raise InvalidArgument(f"{what} {key!r} is empty or holds a NUL byte")


def check_labels(labels: Mapping[str, str | None]) -> None:
    for name, value in labels.items():
        size = len(name.encode()) + len((value or "").encode())
        if not name or size > MAX_LABEL_BYTES:
            raise InvalidArgument(
                f"snapshot label {name[:64]!r} is empty or longer than {MAX_LABEL_BYTES} bytes"
            )


class Transaction:
    """The reads and writes of one transaction. Obtained from :meth:`MetaStore.read`/``write``."""

    def __init__(self, conn: sqlite3.Connection, now: float) -> None:
        self._conn = conn
        self._now = now

    def get(self, key: str) -> Record:
        row = self._conn.execute(_SELECT + "WHERE s.key = ?", (key,)).fetchone()
        if row is None:
            raise NotFound(f"snapshot {key!r} not found")
        return self._record(row)

    def find(self, key: str) -> Record | None:
        row = self._conn.execute(_SELECT + "WHERE s.key = ?", (key,)).fetchone()
        return None if row is None else self._record(row)

    def walk(self) -> list[Info]:
        rows = self._conn.execute(_SELECT + "ORDER BY s.key").fetchall()
        return [_info(row) for row in rows]

    def ids(self) -> set[int]:
        return {row[0] for row in self._conn.execute("SELECT id FROM snapshots")}

    def children(self, snapshot_id: int) -> list[str]:
        rows = self._conn.execute(
            "SELECT key FROM snapshots WHERE parent = ? ORDER BY key", (snapshot_id,)
        )
        return [row[0] for row in rows]

    def create(
        self, kind: Kind, key: str, parent: str = "", labels: Mapping[str, str] | None = None
    ) -> Record:
        """Add an active snapshot or a view on ``parent`` (a committed name, or "")."""
        parent_id = self.check_creatable(kind, key, parent, labels)
        self._conn.execute(
            "INSERT INTO snapshots (key, kind, parent, labels, created, updated)"
            " VALUES (?, ?, ?, ?, ?, ?)",
            (key, kind.value, parent_id, _dump(labels or {}), self._now, self._now),
        )
        return self.get(key)

    def check_creatable(
        self, kind: Kind, key: str, parent: str = "", labels: Mapping[str, str] | None = None
    ) -> int | None:
        """The parent's id (None without a parent) if ``key`` may be created; raises otherwise."""
        check_key(key)
        check_labels(labels or {})
        if kind is Kind.COMMITTED:
            raise InvalidArgument(f"snapshot {key!r}: only active snapshots and views are created")
        if self.find(key) is not None:
            raise AlreadyExists(f"snapshot {key!r} already exists")
        return self._committed_parent(parent, key) if parent else None

    def commit(
        self, key: str, name: str, usage: Usage, labels: Mapping[str, str] | None = None
    ) -> Record:
        """Turn active ``key`` into committed ``name``; its labels become ``labels``."""
        check_key(name, "snapshot name")
        check_labels(labels or {})
        record = self.check_committable(key, name)
        self._conn.execute(
            "UPDATE snapshots SET key = ?, kind = ?, labels = ?, created = ?, updated = ?,"
            " size = ?, inodes = ? WHERE id = ?",
            (name, Kind.COMMITTED.value, _dump(labels or {}), self._now, self._now,
             usage.size, usage.inodes, record.id),
        )
        return self.get(name)

    def check_committable(self, key: str, name: str) -> Record:
        """The record of ``key`` if it may be committed as ``name``; raises otherwise."""
        record = self.get(key)
        if record.info.kind is not Kind.ACTIVE:
            raise Conflict(f"snapshot {key!r} is {record.info.kind.value}, only active commits")
        if self.find(name) is not None:
            raise AlreadyExists(f"snapshot {name!r} already exists")
        return record

    def remove(self, key: str) -> Record:
        """Delete the row of ``key``; refused while other snapshots name it as their parent."""
        record = self.get(key)
        children = self.children(record.id)
        if children:
            raise Conflict(
                f"cannot remove snapshot {key!r}: it is the parent of {', '.join(children)}"
            )
        self._conn.execute("DELETE FROM snapshots WHERE id = ?", (record.id,))
        return record

    def update_labels(self, key: str, labels: Mapping[str, str | None]) -> Record:
        check_labels(labels)
        record = self.get(key)
        merged = dict(record.info.labels)
        for name, value in labels.items():
            if value is None:
                merged.pop(name, None)
            else:
                merged[name] = value
        self._conn.execute(
            "UPDATE snapshots SET labels = ?, updated = ? WHERE id = ?",
            (_dump(merged), self._now, record.id),
        )
        return self.get(key)

    def _committed_parent(self, parent: str, key: str) -> int:
        record = self.find(parent)
        if record is None:
            raise NotFound(f"parent snapshot {parent!r} of {key!r} not found")
        if record.info.kind is not Kind.COMMITTED:
            raise InvalidArgument(
                f"parent snapshot {parent!r} of {key!r} is {record.info.kind.value}, not committed"
            )
        return record.id

    def _record(self, row: Row) -> Record:
        parents = tuple(r[0] for r in self._conn.execute(_CHAIN, (row[0],)))
        usage = None if row[7] is None or row[8] is None else Usage(row[7], row[8])
        return Record(id=row[0], info=_info(row), parent_ids=parents, usage=usage)


class MetaStore:
    """The database at ``path``. Thread-safe: one connection, one transaction at a time."""

    def __init__(self, path: Path, clock: Callable[[], float] = time.time) -> None:
        self._path = path
        self._clock = clock
        self._lock = threading.RLock()
        try:
            self._conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
            self._setup()
        except sqlite3.Error as exc:
            raise DataCorrupt(f"snapshot metadata {path}: {exc}") from exc

    def _setup(self) -> None:
        conn = self._conn
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=FULL")
        conn.execute("PRAGMA foreign_keys=ON")
        version = conn.execute("PRAGMA user_version").fetchone()[0]
        if version not in (0, SCHEMA_VERSION):
            raise DataCorrupt(
                f"snapshot metadata {self._path} has schema {version}, expected {SCHEMA_VERSION}"
            )
        with self.write():
            for statement in _SCHEMA.split(";"):
                if statement.strip():
                    conn.execute(statement)
            conn.execute(f"PRAGMA user_version={SCHEMA_VERSION}")

    @contextmanager
    def read(self) -> Iterator[Transaction]:
        """A consistent read of several rows."""
        with self._transaction("BEGIN DEFERRED") as txn:
            yield txn

    @contextmanager
    def write(self) -> Iterator[Transaction]:
        """A write transaction: committed when the block ends, rolled back if it raises."""
        with self._transaction("BEGIN IMMEDIATE") as txn:
            yield txn

    @contextmanager
    def _transaction(self, begin: str) -> Iterator[Transaction]:
        with self._lock:
            self._execute(begin)
            try:
                yield Transaction(self._conn, self._clock())
            except sqlite3.Error as exc:
                self._execute("ROLLBACK")
                raise self._error(exc) from exc
            except BaseException:
                self._execute("ROLLBACK")
                raise
            self._execute("COMMIT")

    def _execute(self, statement: str) -> None:
        try:
            self._conn.execute(statement)
        except sqlite3.Error as exc:
            raise self._error(exc, statement) from exc

    def _error(self, exc: sqlite3.Error, statement: str = "") -> DockyardError:
        where = f"snapshot metadata {self._path}" + (f" ({statement})" if statement else "")
        if isinstance(exc, sqlite3.OperationalError):
            return Unavailable(f"{where}: {exc}")
        if isinstance(exc, sqlite3.ProgrammingError):
            return Internal(f"{where}: {exc}")
        return DataCorrupt(f"{where}: {exc}")

    def close(self) -> None:
        with self._lock:
            self._conn.close()


def _dump(labels: Mapping[str, str]) -> str:
    return json.dumps(dict(labels), sort_keys=True, separators=(",", ":"))


def _info(row: Row) -> Info:
    labels = json.loads(row[4])
    return Info(
        name=row[1], kind=Kind(row[2]), parent=row[3] or "", labels=labels,
        created=row[5], updated=row[6],
    )
