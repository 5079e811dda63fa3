"""A writer SIGKILLed in the middle of a large ingest leaves a consistent, resumable store."""

from __future__ import annotations

import hashlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from dockyard.content.store import ContentStore
from dockyard.errors import NotFound
from dockyard.oci.digest import Digest

MIB = 1 << 20
BLOCKS = 192

WRITER = """
import sys
from pathlib import Path
from dockyard.content.store import ContentStore

MIB = 1 << 20

def block(i):
    return i.to_bytes(8, "little") * (MIB // 8)

store = ContentStore(Path(sys.argv[1]))
blocks = int(sys.argv[2])
with store.writer("big-layer", total=blocks * MIB) as writer:
    for i in range(blocks - 1):
        writer.write(block(i))
        if i == blocks // 3:
            print("writing", flush=True)
    # Never finish: the parent kills us before or while we get here.
    sys.stdin.readline()
"""


def block(i: int) -> bytes:
    return i.to_bytes(8, "little") * (MIB // 8)


def expected_digest() -> Digest:
    hasher = hashlib.sha256()
    for i in range(BLOCKS):
        hasher.update(block(i))
    return Digest.from_hasher(hasher)


def kill_mid_ingest(root: Path) -> None:
    child = subprocess.Popen(
        [sys.executable, "-c", WRITER, str(root), str(BLOCKS)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert child.stdout is not None
        assert child.stdout.readline() == "writing\n"
        child.send_signal(signal.SIGKILL)
        assert child.wait() == -signal.SIGKILL
    finally:
        child.kill()
        child.wait()
        for pipe in (child.stdin, child.stdout):
            if pipe is not None:
                pipe.close()


def test_sigkill_mid_ingest_leaves_only_a_resumable_ingest(tmp_path: Path) -> None:
    root = tmp_path / "content"
    ContentStore(root)
    kill_mid_ingest(root)

    store = ContentStore(root)
    assert store.recover() == []
    assert list(store.walk()) == []
    assert os.listdir(root / "blobs" / "sha256") == []
    digest = expected_digest()
    with pytest.raises(NotFound):
        store.info(digest)
    (status,) = store.ingests()
    assert status.ref == "big-layer"
    assert status.total == BLOCKS * MIB
    assert (BLOCKS // 3) * MIB <= status.offset < (BLOCKS - 1) * MIB

    with store.writer("big-layer", expected=digest) as writer:
        offset = writer.offset
        assert offset == status.offset
        first, skip = divmod(offset, MIB)
        writer.write(block(first)[skip:])
        for i in range(first + 1, BLOCKS):
            writer.write(block(i))
        assert writer.commit() == digest

    assert store.ingests() == []
    assert [info.digest for info in store.walk()] == [digest]
    assert store.verify(digest).size == BLOCKS * MIB
    assert os.listdir(root / "ingest") == []


CHURN = """
import sys
from pathlib import Path
from dockyard.content.store import ContentStore

store = ContentStore(Path(sys.argv[1]))
print("started", flush=True)
n = int(sys.argv[2])
while True:
    data = n.to_bytes(8, "little") * (512 * 1024 // 8)
    with store.writer(f"blob-{n}", total=len(data)) as writer:
        for start in range(0, len(data), 64 * 1024):
            writer.write(data[start : start + 64 * 1024])
        writer.commit(labels={"n": str(n)})
    n += 1
"""


@pytest.mark.slow
@pytest.mark.parametrize("delay", [0.05, 0.13, 0.21, 0.34, 0.55])
def test_sigkill_at_any_instant_keeps_every_blob_whole(tmp_path: Path, delay: float) -> None:
    root = tmp_path / "content"
    ContentStore(root)
    child = subprocess.Popen(
        [sys.executable, "-c", CHURN, str(root), "0"], stdout=subprocess.PIPE, text=True
    )
    try:
        assert child.stdout is not None
        assert child.stdout.readline() == "started\n"
        time.sleep(delay)
    finally:
        child.kill()
        child.wait()
        if child.stdout is not None:
            child.stdout.close()

    store = ContentStore(root)
    store.recover()
    blobs = list(store.walk())
    for info in blobs:
        assert store.verify(info.digest) == info
        n = int(info.labels["n"])
        assert info.digest == Digest.of(n.to_bytes(8, "little") * (512 * 1024 // 8))
    for status in store.ingests():
        with store.writer(status.ref) as writer:
            assert writer.offset == status.offset <= (status.total or 0)
        store.abort(status.ref)
    leftovers = [
        name
        for sub in ("blobs/sha256", "ingest", "labels/sha256")
        for name in os.listdir(root / sub)
        if name.startswith((".tmp-", ".discard-"))
    ]
    assert leftovers == []
    assert store.recover() == []
