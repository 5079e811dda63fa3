"""Image records: which names point at which manifest.

An image is a name (a fully qualified reference such as ``docker.io/library/busybox:latest``, or a
digest-only record for an untagged image) pointing at the descriptor of a manifest or index in
the content store. The image ID docker shows is the digest of the config that manifest names.

On disk, one file written atomically (temp file, fsync, rename) per change::

    <root>/
      index.json        {"version": 1, "images": {name: record, ...}}
      index.json.tmp-*  (only during a write; removed by recover())

A crash leaves either the old or the new ``index.json``. The daemon is the only writer; within one
process the store serialises writers with a lock, and between processes with ``flock``.
"""

from __future__ import annotations

import fcntl
import json
import logging
import os
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from dockyard.errors import DataCorrupt, NotFound
from dockyard.oci.digest import Digest

log = logging.getLogger(__name__)

_VERSION = 1


@dataclass(frozen=True, slots=True)
class Target:
    """The descriptor an image record points at (a manifest or an index)."""

    media_type: str
    digest: Digest
    size: int


@dataclass(frozen=True, slots=True)
class ImageRecord:
    name: str
    target: Target
    created: float
    updated: float
    labels: dict[str, str] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "target": {
                "mediaType": self.target.media_type,
                "digest": str(self.target.digest),
                "size": self.target.size,
            },
            "created": self.created,
            "updated": self.updated,
            "labels": dict(self.labels),
        }

    @classmethod
    def from_dict(cls, name: str, data: dict[str, Any]) -> ImageRecord:
        target = data["target"]
        return cls(
            name=name,
            target=Target(target["mediaType"], Digest.parse(target["digest"]), int(target["size"])),
            created=float(data["created"]),
            updated=float(data["updated"]),
            labels={str(k): str(v) for k, v in data.get("labels", {}).items()},
        )


class ImageStore:
    """Names to manifest descriptors, persisted in one atomically replaced JSON file."""

    def __init__(self, root: Path, clock: Any = time.time) -> None:
        self.root = root
        self._clock = clock
        self._lock = threading.Lock()
        root.mkdir(parents=True, exist_ok=True)
        self._path = root / "index.json"
        self._images = self._load()

    def _load(self) -> dict[str, ImageRecord]:
        try:
            raw = self._path.read_bytes()
        except FileNotFoundError:
            return {}
        try:
            doc = json.loads(raw)
            if doc.get("version") != _VERSION:
                raise DataCorrupt(f"image index {self._path}: unknown version {doc.get('version')}")
            return {n: ImageRecord.from_dict(n, r) for n, r in doc["images"].items()}
        except (ValueError, KeyError, TypeError) as exc:
            raise DataCorrupt(f"image index {self._path} is unreadable: {exc}") from exc

    def recover(self) -> None:
        """Remove temp files a crash left behind; the index itself is always whole."""
        for stray in self.root.glob("index.json.tmp-*"):
            log.info("removing stray %s", stray)
            stray.unlink(missing_ok=True)

    @contextmanager
    def _writing(self) -> Iterator[dict[str, ImageRecord]]:
        """Hold both locks, re-read the file, yield a copy to change, then write it atomically."""
        with self._lock, open(self.root / ".lock", "a") as lockfile:
            fcntl.flock(lockfile, fcntl.LOCK_EX)
            images = self._load()
            yield images
            self._write(images)
            self._images = images

    def _write(self, images: dict[str, ImageRecord]) -> None:
        doc = {"version": _VERSION, "images": {n: r.to_dict() for n, r in sorted(images.items())}}
        tmp = self.root / f"index.json.tmp-{os.getpid()}-{threading.get_ident()}"
        with open(tmp, "w") as out:
            json.dump(doc, out, separators=(",", ":"))
            out.flush()
            os.fsync(out.fileno())
        os.replace(tmp, self._path)

    def get(self, name: str) -> ImageRecord:
        record = self._images.get(name)
        if record is None:
            raise NotFound(f"no such image: {name}")
        return record

    def records(self) -> list[ImageRecord]:
        return sorted(self._images.values(), key=lambda r: r.name)

    def set(self, name: str, target: Target, labels: dict[str, str] | None = None) -> ImageRecord:
        """Point ``name`` at ``target``, creating or moving the record."""
        now = self._clock()
        with self._writing() as images:
            old = images.get(name)
            if old is None:
                record = ImageRecord(name, target, now, now, dict(labels or {}))
            else:
                new_labels = old.labels if labels is None else dict(labels)
                record = replace(old, target=target, updated=now, labels=new_labels)
            images[name] = record
        log.debug("image %s -> %s", name, target.digest)
        return record

    def delete(self, name: str) -> ImageRecord:
        with self._writing() as images:
            record = images.pop(name, None)
            if record is None:
                raise NotFound(f"no such image: {name}")
        return record

    def by_target(self, digest: Digest) -> list[ImageRecord]:
        return [r for r in self.records() if r.target.digest == digest]
