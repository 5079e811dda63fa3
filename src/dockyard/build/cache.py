"""The build cache: the result of every step, found again by what the step depends on.

A step's key digests its parent image ID, the instruction after expansion, the build args it
can see (RUN) and, for COPY and ADD, the checksums of its sources (content and metadata, as the
context's tarsums give them) or the image they come from. The entry keeps the image config the
step made (its bytes: the step's image ID is their digest) and the layer blobs of that image,
so a hit needs no other lookup. Entries are files, written atomically without a sync (losing
one after a crash costs a rebuild of that step); a lookup reads one file. The blobs and
snapshots they name are garbage-collection roots, so they live until ``POST /build/prune``
drops the entries.

A hit is recorded as one line appended to a journal, not by rewriting its entry: replacing a
file by a rename makes ext4 write the new file's data out at once (``auto_da_alloc``), which
cost more than the rest of a cached step. The journal is folded into the entries when they are
all read (``/system/df``, prune, garbage collection), at start, and once it has grown past
:data:`JOURNAL_LIMIT`; a line no later than its entry's ``last_used`` was folded already, so a
crash while folding counts no use twice::

    <data-root>/build/cache/
      <key>.json        one entry, with its uses up to the last fold
      uses              "<key> <time>\n" per hit since then (appended)
      .tmp-*            only while an entry is written
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from dockyard.errors import DataCorrupt, DockyardError
from dockyard.gc import Roots
from dockyard.images.assemble import LayerBlob
from dockyard.oci.digest import Digest
from dockyard.oci.identity import chain_ids

log = logging.getLogger(__name__)

_VERSION = 1
JOURNAL = "uses"
JOURNAL_LIMIT = 1 << 20  # bytes of journal that trigger a fold


def step_key(parent: str, instruction: str, *, args: Sequence[str] = (),
             sources: str = "", extra: str = "") -> str:
    """The cache key of a step (hex sha256)."""
    text = json.dumps({"v": _VERSION, "parent": parent, "instruction": instruction,
                       "args": sorted(args), "sources": sources, "extra": extra},
                      sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8", "surrogateescape")).hexdigest()


@dataclass(frozen=True, slots=True)
class Entry:
    """One cached step: its key, the key of the step before it ("" for the first), what it
    was, the config bytes it made, the blobs of that image's layers, the bytes of the layer it
    added (0 for a metadata step), and when it was made and last used."""

    key: str
    parent: str
    description: str
    config: bytes
    layers: tuple[LayerBlob, ...]
    size: int = 0
    created: float = 0.0
    last_used: float = 0.0
    usage_count: int = 1

    @property
    def image_id(self) -> Digest:
        return Digest.of(self.config)

    @property
    def chain(self) -> str:
        """The chainID of the image's top layer ("" for no layers)."""
        ids = chain_ids([layer.diff_id for layer in self.layers])
        return str(ids[-1]) if ids else ""

    def to_json(self) -> bytes:
        doc = {
            "version": _VERSION, "key": self.key, "parent": self.parent,
            "description": self.description, "config": self.config.decode("utf-8"),
            "layers": [{"digest": str(b.digest), "size": b.size, "compression": b.compression,
                        "diff_id": str(b.diff_id)} for b in self.layers],
            "size": self.size, "created": self.created, "last_used": self.last_used,
            "usage_count": self.usage_count,
        }
        return json.dumps(doc, separators=(",", ":")).encode()

    @classmethod
    def from_json(cls, data: bytes) -> Entry:
        try:
            doc: dict[str, Any] = json.loads(data)
            if doc.get("version") != _VERSION:
                raise DataCorrupt(f"unknown build cache entry version {doc.get('version')}")
            layers = tuple(
                LayerBlob(Digest.parse(b["digest"]), int(b["size"]), b["compression"],
                          Digest.parse(b["diff_id"])) for b in doc["layers"])
            return cls(str(doc["key"]), str(doc["parent"]), str(doc["description"]),
                       str(doc["config"]).encode("utf-8"), layers, int(doc["size"]),
                       float(doc["created"]), float(doc["last_used"]),
                       int(doc["usage_count"]))
        except (ValueError, KeyError, TypeError) as exc:
            raise DataCorrupt(f"build cache entry is unreadable: {exc}") from exc


class BuildCache:
    """Entries under ``root``; safe to use from several threads of one process."""

    def __init__(self, root: Path, clock: Callable[[], float] = time.time, *,
                 journal_limit: int = JOURNAL_LIMIT) -> None:
        self.root = root
        self.clock = clock
        self.journal_limit = journal_limit
        self._lock = threading.Lock()
        self._all: dict[str, Entry] | None = None
        self._journal = root / JOURNAL
        self._journaled = 0  # bytes appended since the last fold (a lower bound after a start)
        root.mkdir(parents=True, exist_ok=True)

    def recover(self) -> None:
        """Remove temp files left by a crash; fold the journal of uses into the entries."""
        for stray in self.root.glob(".tmp-*"):
            stray.unlink(missing_ok=True)
        self.entries()

    def _path(self, key: str) -> Path:
        return self.root / f"{key}.json"

    def get(self, key: str, valid: Callable[[Entry], bool] | None = None) -> Entry | None:
        """The entry of ``key`` with this use counted, or None; an entry ``valid`` rejects
        (its layers are gone) is dropped. The use goes to the journal; the entry's other uses
        since the last fold show in :meth:`entries`, not here."""
        entry = self._read(key)
        if entry is None:
            return None
        if valid is not None and not valid(entry):
            log.info("build cache entry %s lost its layers; dropping it", key[:12])
            self.delete([key])
            return None
        now = self.clock()
        used = replace(entry, last_used=max(now, entry.last_used),
                       usage_count=entry.usage_count + 1)
        line = f"{key} {now!r}\n".encode()
        with self._lock:
            fd = os.open(self._journal, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC,
                         0o600)
            try:
                os.write(fd, line)
            finally:
                os.close(fd)
            self._journaled += len(line)
            full = self._journaled > self.journal_limit
        if full:
            self.entries()
        return used

    def _read(self, key: str) -> Entry | None:
        with self._lock:
            if self._all is not None:
                return self._all.get(key)
        try:
            data = self._path(key).read_bytes()
        except FileNotFoundError:
            return None
        try:
            return Entry.from_json(data)
        except DockyardError as exc:
            log.warning("dropping unreadable build cache entry %s: %s", key[:12], exc)
            self._path(key).unlink(missing_ok=True)
            return None

    def put(self, key: str, parent: str, description: str, config: bytes, *,
            layers: Sequence[LayerBlob], size: int) -> Entry:
        now = self.clock()
        entry = Entry(key, parent, description, config, tuple(layers), size, now, now, 1)
        self._store(entry)
        return entry

    def _store(self, entry: Entry) -> None:
        self._write(entry)
        with self._lock:
            if self._all is not None:
                self._all[entry.key] = entry

    def _write(self, entry: Entry) -> None:
        path = self._path(entry.key)
        tmp = self.root / f".tmp-{os.getpid()}-{threading.get_ident()}-{entry.key[:16]}"
        tmp.write_bytes(entry.to_json())
        os.replace(tmp, path)

    def entries(self) -> list[Entry]:
        """Every entry, oldest first, with every use recorded so far."""
        with self._lock:
            if self._all is None:
                self._all = self._load()
            self._fold(self._all)
            return sorted(self._all.values(), key=lambda e: (e.created, e.key))

    def _load(self) -> dict[str, Entry]:
        found: dict[str, Entry] = {}
        for path in self.root.glob("*.json"):
            try:
                entry = Entry.from_json(path.read_bytes())
            except (DockyardError, OSError) as exc:
                log.warning("dropping unreadable build cache entry %s: %s", path.name, exc)
                path.unlink(missing_ok=True)
                continue
            found[entry.key] = entry
        return found

    def _fold(self, entries: dict[str, Entry]) -> None:
        """Count the uses in the journal into ``entries`` and their files, then drop the
        journal (the lock held). A use no later than its entry's ``last_used`` was counted by
        a fold that a crash cut short; a use of an entry that is gone is dropped."""
        try:
            data = self._journal.read_bytes()
        except FileNotFoundError:
            return
        changed: dict[str, Entry] = {}
        for line in data.decode("utf-8", "replace").splitlines():
            key, _, stamp = line.partition(" ")
            entry = entries.get(key)
            try:
                when = float(stamp)
            except ValueError:
                continue  # a line cut short by a crash
            if entry is None or when <= entry.last_used:
                continue
            now = changed.get(key, entry)
            changed[key] = replace(now, last_used=max(when, now.last_used),
                                   usage_count=now.usage_count + 1)
        for entry in changed.values():
            self._write(entry)
            entries[entry.key] = entry
        self._journal.unlink()
        self._journaled = 0

    def delete(self, keys: Iterable[str]) -> None:
        for key in keys:
            self._path(key).unlink(missing_ok=True)
            with self._lock:
                if self._all is not None:
                    self._all.pop(key, None)

    def roots(self) -> Roots:
        """The blobs and snapshots the entries hold (garbage-collection roots)."""
        entries = self.entries()
        content = frozenset(b.digest for e in entries for b in e.layers)
        snapshots = frozenset(e.chain for e in entries if e.layers)
        return Roots(content=content, snapshots=snapshots)
