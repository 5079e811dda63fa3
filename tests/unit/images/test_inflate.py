"""images.inflate.measure: a stored blob's tar digest, size and compression."""

from __future__ import annotations

import gzip
from pathlib import Path

import pytest

from dockyard.content.store import ContentStore
from dockyard.images.inflate import measure
from dockyard.oci.digest import Digest

TAR = b"a tar, as far as hashing goes\n" * 1000


@pytest.mark.parametrize(("data", "compression"), [
    (TAR, "none"), (gzip.compress(TAR, mtime=0), "gzip"),
])
def test_measure(tmp_path: Path, data: bytes, compression: str) -> None:
    content = ContentStore(tmp_path / "content")
    blob = Digest.of(data)
    content.put_bytes(data, blob)
    assert measure(content, blob) == (Digest.of(TAR), len(TAR), compression)
