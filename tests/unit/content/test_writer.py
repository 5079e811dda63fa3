"""ContentWriter: resume, locking (within and across processes), truncation, tee and pruning."""

from __future__ import annotations

import gzip
import io
import itertools
import os
import subprocess
import sys
import tarfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dockyard.content.ingest import Status
from dockyard.content.store import ContentStore, TeeReader
from dockyard.errors import Conflict, DataCorrupt, InvalidArgument, NotFound
from dockyard.oci.digest import Digest

HOLD_LOCK = """
import sys
from pathlib import Path
from dockyard.content.store import ContentStore
store = ContentStore(Path(sys.argv[1]))
writer = store.writer(sys.argv[2])
writer.write(b"from child")
writer.flush()
print("locked", flush=True)
sys.stdin.readline()
"""


@pytest.fixture
def store(tmp_path: Path) -> ContentStore:
    return ContentStore(tmp_path / "content", clock=lambda: 1000.0)


@pytest.fixture
def child_holding(store: ContentStore) -> Iterator[subprocess.Popen[str]]:
    child = subprocess.Popen(
        [sys.executable, "-c", HOLD_LOCK, str(store.root), "shared-ref"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert child.stdout is not None
        assert child.stdout.readline() == "locked\n"
        yield child
    finally:
        child.kill()
        child.wait()
        for pipe in (child.stdin, child.stdout):
            if pipe is not None:
                pipe.close()


def test_close_without_commit_keeps_the_ingest_and_resume_continues(
    store: ContentStore,
) -> None:
    data = b"0123456789" * 500
    with store.writer("resume-me", expected=Digest.of(data), total=len(data)) as writer:
        writer.write(data[:1234])
    assert store.ingests() == [
        Status(
            "resume-me",
            1234,
            len(data),
            Digest.of(data),
            1000.0,
            store.status("resume-me").updated_at,
        )
    ]
    with store.writer("resume-me") as writer:
        assert writer.offset == 1234
        assert writer.total == len(data)
        assert writer.expected == Digest.of(data)
        assert writer.digest() == Digest.of(data[:1234])
        writer.write(data[1234:])
        assert writer.commit() == Digest.of(data)
    assert store.read_bytes(Digest.of(data)) == data
    assert store.ingests() == []


def test_resume_with_different_expectations_conflicts(store: ContentStore) -> None:
    with store.writer("r", expected=Digest.of(b"a"), total=1):
        pass
    with pytest.raises(Conflict, match="total 1, not 2"):
        store.writer("r", total=2)
    with pytest.raises(Conflict, match="abort it first"):
        store.writer("r", expected=Digest.of(b"b"))


def test_resume_records_expectations_learnt_later(store: ContentStore) -> None:
    with store.writer("r") as writer:
        writer.write(b"ab")
    with store.writer("r", expected=Digest.of(b"abc"), total=3) as writer:
        writer.write(b"c")
    assert store.status("r") == Status(
        "r", 3, 3, Digest.of(b"abc"), 1000.0, store.status("r").updated_at
    )
    with store.writer("r") as writer:
        assert writer.commit() == Digest.of(b"abc")


def test_same_ref_is_locked_within_a_process(store: ContentStore) -> None:
    with store.writer("busy"), pytest.raises(Conflict, match="ref busy locked"):
        store.writer("busy")
    with store.writer("busy") as writer:
        assert writer.offset == 0


def test_same_ref_is_locked_across_processes_until_the_holder_dies(
    store: ContentStore, child_holding: subprocess.Popen[str]
) -> None:
    with pytest.raises(Conflict, match="ref shared-ref locked"):
        store.writer("shared-ref")
    with pytest.raises(Conflict):
        store.abort("shared-ref")
    assert store.prune_ingests(older_than=time.time() + 60) == []
    child_holding.kill()
    child_holding.wait()
    with store.writer("shared-ref") as writer:
        assert writer.offset == len(b"from child")
        writer.write(b", resumed")
        assert writer.commit() == Digest.of(b"from child, resumed")


def test_abort_removes_the_ingest(store: ContentStore) -> None:
    with store.writer("doomed") as writer:
        writer.write(b"x")
    store.abort("doomed")
    assert store.ingests() == []
    with pytest.raises(NotFound, match="doomed"):
        store.abort("doomed")
    with pytest.raises(NotFound):
        store.status("doomed")


def test_closed_writer_refuses_writes(store: ContentStore) -> None:
    writer = store.writer("w")
    writer.close()
    writer.close()
    with pytest.raises(Conflict, match="closed"):
        writer.write(b"late")


def test_truncate_rehashes_the_prefix(store: ContentStore) -> None:
    with store.writer("t") as writer:
        writer.write(b"abcdef")
        writer.truncate(3)
        assert writer.offset == 3
        assert writer.digest() == Digest.of(b"abc")
        writer.write(b"XYZ")
        assert writer.commit() == Digest.of(b"abcXYZ")
    with store.writer("t2") as writer, pytest.raises(InvalidArgument):
        writer.truncate(1)


def test_ingest_resumes_a_seekable_stream_and_restarts_an_unseekable_one(
    store: ContentStore,
) -> None:
    data = os.urandom(100_000)
    with store.writer("s") as writer:
        writer.write(data[:40_000])
    assert store.ingest(io.BytesIO(data), "s", expected=Digest.of(data)) == Digest.of(data)

    class Unseekable(io.BytesIO):
        def seekable(self) -> bool:
            return False

    with store.writer("u") as writer:
        writer.write(b"stale prefix that is not part of the data")
    assert store.ingest(Unseekable(data), "u") == Digest.of(data)


def test_failed_digest_in_ingest_leaves_nothing(store: ContentStore) -> None:
    with pytest.raises(DataCorrupt):
        store.ingest(io.BytesIO(b"abc"), "bad", expected=Digest.of(b"abd"))
    assert store.ingests() == []
    assert list(store.walk()) == []


def test_prune_ingests_honours_age_and_kept_refs(store: ContentStore) -> None:
    for ref in ("old", "leased"):
        with store.writer(ref) as writer:
            writer.write(b"x")
    with store.writer("active") as active:
        assert store.prune_ingests(older_than=0.0) == []
        assert store.prune_ingests(time.time() + 60, keep_refs={"leased"}) == ["old"]
        active.write(b"still mine")
    assert [s.ref for s in store.ingests()] == ["active", "leased"]


def test_tee_stores_exactly_what_the_consumer_reads(store: ContentStore) -> None:
    archive = io.BytesIO()
    with tarfile.open(fileobj=archive, mode="w:gz") as tar:
        info = tarfile.TarInfo("hello.txt")
        info.size = 5
        tar.addfile(info, io.BytesIO(b"hello"))
    compressed = archive.getvalue()
    with store.writer("layer") as writer:
        writer.write(b"stale bytes from an earlier attempt")
    with store.writer("layer") as writer:
        tee = TeeReader(io.BytesIO(compressed), writer)
        with tarfile.open(fileobj=tee, mode="r|gz") as tar:
            names = [member.name for member in tar]
        tee.drain()
        assert writer.commit(expected=Digest.of(compressed)) == Digest.of(compressed)
    assert names == ["hello.txt"]
    assert store.read_bytes(Digest.of(compressed)) == compressed


def test_tee_supports_readinto_for_buffered_consumers(store: ContentStore) -> None:
    data = gzip.compress(os.urandom(300_000))
    with store.writer("g") as writer:
        with io.BufferedReader(TeeReader(io.BytesIO(data), writer), 4096) as reader:
            assert gzip.GzipFile(fileobj=reader).read() == gzip.decompress(data)
        assert writer.commit(expected=Digest.of(data)) == Digest.of(data)


@settings(max_examples=60, deadline=None)
@given(
    data=st.binary(max_size=5000),
    cuts=st.lists(st.integers(min_value=0, max_value=5000), max_size=8),
    resume_at=st.integers(min_value=0, max_value=5000),
)
def test_any_chunking_and_resume_point_gives_the_same_digest(
    tmp_path_factory: pytest.TempPathFactory, data: bytes, cuts: list[int], resume_at: int
) -> None:
    store = ContentStore(tmp_path_factory.mktemp("content"))
    resume_at = min(resume_at, len(data))
    bounds = sorted({0, len(data), *(min(c, len(data)) for c in cuts)})
    chunks = [data[a:b] for a, b in itertools.pairwise(bounds)]
    writer = store.writer("h", total=len(data))
    written = 0
    for chunk in chunks:
        if written <= resume_at < written + len(chunk):
            head = resume_at - written
            writer.write(chunk[:head])
            writer.close()
            writer = store.writer("h")
            assert writer.offset == resume_at
            writer.write(chunk[head:])
        else:
            writer.write(chunk)
        written += len(chunk)
    assert writer.digest() == Digest.of(data)
    assert writer.commit(expected=Digest.of(data)) == Digest.of(data)
    assert store.read_bytes(Digest.of(data)) == data


def test_ingest_without_a_digest_rewrites_a_stale_prefix(store: ContentStore) -> None:
    with store.writer("stale") as writer:
        writer.write(b"old content of another attempt")
    assert store.ingest(io.BytesIO(b"new"), "stale") == Digest.of(b"new")


def test_invalid_commit_labels_keep_the_ingest_resumable(store: ContentStore) -> None:
    with store.writer("labelled") as writer:
        writer.write(b"data")
        with pytest.raises(InvalidArgument):
            writer.commit(labels={"": "empty key"})
    with store.writer("labelled") as writer:
        assert writer.offset == 4
        assert writer.commit(labels={"ok": "yes"}) == Digest.of(b"data")
    assert store.info(Digest.of(b"data")).labels == {"ok": "yes"}


def test_a_dropped_writer_releases_its_lock(
    store: ContentStore, caplog: pytest.LogCaptureFixture
) -> None:
    import gc

    writer = store.writer("dropped")
    writer.write(b"abc")
    del writer
    gc.collect()
    assert "never closed" in caplog.text
    with store.writer("dropped") as writer:
        assert writer.offset == 3
