"""Labels of blobs: small string maps kept in one JSON sidecar per labelled blob.

    <root>/labels/
        .lock                   flock(2)ed around every read-modify-write
        <algorithm>/
            <encoded>.json      {"key": "value", ...}; absent when the blob has no labels
            .tmp-<random>       a sidecar being replaced

Sidecars are replaced atomically. A sidecar is written before its blob is renamed into place, so
a crash can leave a sidecar without a blob (``ContentStore.recover`` removes it) but never a
committed blob missing the labels its commit asked for.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator, Mapping
from contextlib import AbstractContextManager
from pathlib import Path

from dockyard.content.fs import TEMP_PREFIX, locked, os_errors, write_atomic
from dockyard.errors import DataCorrupt, InvalidArgument
from dockyard.oci.digest import Digest

#: containerd's limit on one label (key plus value), so labels stay small metadata.
MAX_LABEL_BYTES = 4096


def validate_labels(labels: Mapping[str, str | None]) -> None:
    for key, value in labels.items():
        if not isinstance(key, str) or not key:
            raise InvalidArgument(f"invalid label key {key!r}: want a non-empty string")
        if value is not None and not isinstance(value, str):
            raise InvalidArgument(f"invalid value of label {key!r}: want a string")
        if len(key.encode()) + len((value or "").encode()) > MAX_LABEL_BYTES:
            raise InvalidArgument(f"label {key!r} is longer than {MAX_LABEL_BYTES} bytes")


class LabelStore:
    def __init__(self, root: Path) -> None:
        self.root = root

    def path(self, digest: Digest) -> Path:
        return self.root / digest.algorithm / f"{digest.encoded}.json"

    def get(self, digest: Digest) -> dict[str, str]:
        path = self.path(digest)
        try:
            text = path.read_bytes()
        except FileNotFoundError:
            return {}
        except OSError as exc:
            raise DataCorrupt(f"cannot read labels of {digest} at {path}: {exc}") from exc
        try:
            data = json.loads(text)
        except ValueError as exc:
            raise DataCorrupt(f"labels of {digest} at {path} are not JSON: {exc}") from exc
        if not isinstance(data, dict) or not all(isinstance(v, str) for v in data.values()):
            raise DataCorrupt(f"labels of {digest} at {path} are not a string map")
        return {str(k): v for k, v in data.items()}

    def update(
        self, digest: Digest, changes: Mapping[str, str | None], replace: bool = False
    ) -> dict[str, str]:
        """Merge ``changes`` (None deletes a key) or, with ``replace``, set exactly them."""
        validate_labels(changes)
        with self._locked():
            labels = {} if replace else self.get(digest)
            for key, value in changes.items():
                if value is None:
                    labels.pop(key, None)
                else:
                    labels[key] = value
            path = self.path(digest)
            if labels:
                with os_errors("mkdir", path.parent):
                    path.parent.mkdir(parents=True, exist_ok=True)
                data = json.dumps(labels, sort_keys=True, separators=(",", ":")).encode()
                write_atomic(path, data)
            else:
                path.unlink(missing_ok=True)
        return labels

    def remove(self, digest: Digest) -> None:
        with os_errors("unlink", self.path(digest)):
            self.path(digest).unlink(missing_ok=True)

    def labelled(self, algorithm: str) -> set[str]:
        """The encoded digests of ``algorithm`` that have a sidecar."""
        try:
            names = os.listdir(self.root / algorithm)
        except FileNotFoundError:
            return set()
        return {n.removesuffix(".json") for n in names if n.endswith(".json")}

    def scratch(self) -> Iterator[Path]:
        """Leftover temp files of interrupted replacements."""
        for directory in self.root.iterdir():
            if directory.is_dir():
                yield from (p for p in directory.iterdir() if p.name.startswith(TEMP_PREFIX))

    def _locked(self) -> AbstractContextManager[None]:
        return locked(self.root)
