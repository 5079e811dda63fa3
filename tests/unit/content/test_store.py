"""ContentStore: blobs, labels, deletion, walking and recovery."""

from __future__ import annotations

import io
import os
import stat
from pathlib import Path

import pytest

from dockyard.content.store import ContentStore, Info
from dockyard.errors import DataCorrupt, InvalidArgument, NotFound
from dockyard.oci.digest import Digest


@pytest.fixture
def store(tmp_path: Path) -> ContentStore:
    return ContentStore(tmp_path / "content", clock=lambda: 1000.0)


def blob_files(store: ContentStore) -> list[str]:
    return sorted(os.listdir(store.root / "blobs" / "sha256"))


def test_put_then_read_info_open_and_path(store: ContentStore) -> None:
    digest = store.put_bytes(b"hello")
    assert digest == Digest.of(b"hello")
    assert store.exists(digest)
    assert store.read_bytes(digest) == b"hello"
    with store.open(digest) as blob:
        assert blob.read() == b"hello"
    path = store.path(digest)
    assert path == store.root / "blobs" / "sha256" / digest.encoded
    assert stat.S_IMODE(path.stat().st_mode) == 0o444
    assert store.info(digest) == Info(digest, 5, path.stat().st_mtime, {})
    assert store.verify(digest) == store.info(digest)


def test_missing_blob_is_not_found_naming_the_digest(store: ContentStore) -> None:
    digest = Digest.of(b"absent")
    assert not store.exists(digest)
    for call in (store.info, store.open, store.read_bytes, store.path, store.delete):
        with pytest.raises(NotFound, match=str(digest)):
            call(digest)


def test_put_with_wrong_expected_digest_stores_nothing(store: ContentStore) -> None:
    with pytest.raises(DataCorrupt, match=str(Digest.of(b"other"))):
        store.put_bytes(b"data", expected=Digest.of(b"other"))
    assert blob_files(store) == []


def test_put_is_idempotent(store: ContentStore) -> None:
    assert store.put_bytes(b"x") == store.put_bytes(b"x", expected=Digest.of(b"x"))
    assert blob_files(store) == [Digest.of(b"x").encoded]


def test_writer_commit_stores_a_verified_read_only_blob(store: ContentStore) -> None:
    data = b"layer bytes" * 1000
    with store.writer("layer-1", expected=Digest.of(data), total=len(data)) as writer:
        writer.write(data[:5000])
        writer.write(memoryview(data)[5000:])
        assert writer.offset == len(data)
        assert writer.digest() == Digest.of(data)
        assert writer.commit() == Digest.of(data)
        assert writer.closed
    assert store.read_bytes(Digest.of(data)) == data
    assert store.ingests() == []
    assert os.listdir(store.root / "ingest") == []


def test_ingest_copies_a_stream(store: ContentStore) -> None:
    data = os.urandom(3 * (1 << 20) + 17)
    digest = store.ingest(io.BytesIO(data), "ref", expected=Digest.of(data), total=len(data))
    assert store.read_bytes(digest) == data


def test_digest_mismatch_names_ref_expected_and_actual_and_discards(
    store: ContentStore,
) -> None:
    wrong = Digest.of(b"something else")
    writer = store.writer("bad-ref", expected=wrong)
    writer.write(b"payload")
    with pytest.raises(DataCorrupt) as caught:
        writer.commit()
    message = str(caught.value)
    assert "bad-ref" in message
    assert str(wrong) in message
    assert str(Digest.of(b"payload")) in message
    assert blob_files(store) == []
    assert store.ingests() == []
    assert writer.closed


def test_size_mismatch_names_ref_and_sizes_and_discards(store: ContentStore) -> None:
    with store.writer("short", total=10) as writer:
        writer.write(b"12345")
        with pytest.raises(DataCorrupt, match=r"short.*expected 10 bytes, got 5"):
            writer.commit()
    assert blob_files(store) == []
    assert store.ingests() == []


def test_commit_arguments_override_the_ingest_expectations(store: ContentStore) -> None:
    with store.writer("r") as writer:
        writer.write(b"abc")
        with pytest.raises(DataCorrupt, match="expected 4 bytes, got 3"):
            writer.commit(size=4)
    with store.writer("r") as writer:
        writer.write(b"abc")
        assert writer.commit(size=3, expected=Digest.of(b"abc")) == Digest.of(b"abc")


def test_commit_of_an_existing_blob_succeeds_and_keeps_it(store: ContentStore) -> None:
    digest = store.put_bytes(b"same")
    created = store.info(digest).created_at
    with store.writer("again") as writer:
        writer.write(b"same")
        assert writer.commit(labels={"k": "v"}) == digest
    assert store.info(digest) == Info(digest, 4, created, {"k": "v"})
    assert store.ingests() == []


def test_two_refs_for_the_same_blob_both_commit(store: ContentStore) -> None:
    first = store.writer("a")
    second = store.writer("b")
    first.write(b"shared")
    second.write(b"shared")
    assert first.commit() == second.commit() == Digest.of(b"shared")
    assert blob_files(store) == [Digest.of(b"shared").encoded]
    assert store.ingests() == []


def test_sha512_expected_digest_is_verified_and_stored_under_sha512(
    store: ContentStore,
) -> None:
    import hashlib

    expected = Digest("sha512", hashlib.sha512(b"data").hexdigest())
    assert store.put_bytes(b"data", expected=expected) == expected
    with store.writer("late") as writer:
        writer.write(b"data")
        assert writer.commit(expected=expected) == expected
    assert store.read_bytes(expected) == b"data"


def test_labels_merge_replace_and_remove(store: ContentStore) -> None:
    digest = store.put_bytes(b"blob", labels={"a": "1"})
    assert store.info(digest).labels == {"a": "1"}
    assert store.update_labels(digest, {"b": "2"}).labels == {"a": "1", "b": "2"}
    assert store.update_labels(digest, {"a": None}).labels == {"b": "2"}
    assert store.update_labels(digest, {"c": "3"}, replace=True).labels == {"c": "3"}
    assert store.info(digest).labels == {"c": "3"}
    assert store.update_labels(digest, {"c": None}).labels == {}
    assert os.listdir(store.root / "labels" / "sha256") == []


def test_labels_are_validated(store: ContentStore) -> None:
    digest = store.put_bytes(b"blob")
    with pytest.raises(InvalidArgument):
        store.update_labels(digest, {"": "x"})
    with pytest.raises(InvalidArgument):
        store.update_labels(digest, {"k": "v" * 5000})
    with pytest.raises(NotFound):
        store.update_labels(Digest.of(b"absent"), {"k": "v"})


def test_delete_removes_blob_and_labels(store: ContentStore) -> None:
    digest = store.put_bytes(b"gone soon", labels={"x": "y"})
    store.delete(digest)
    assert not store.exists(digest)
    assert blob_files(store) == []
    assert os.listdir(store.root / "labels" / "sha256") == []
    assert store.put_bytes(b"gone soon") == digest
    assert store.info(digest).labels == {}


def test_walk_yields_every_blob_in_digest_order(store: ContentStore) -> None:
    digests = [store.put_bytes(bytes([n]) * n, labels={"n": str(n)}) for n in range(1, 6)]
    (store.root / "blobs" / "sha256" / ".tmp-leftover").write_bytes(b"partial")
    (store.root / "blobs" / "sha256" / "not-a-digest").write_bytes(b"junk")
    walked = list(store.walk())
    assert walked == sorted((store.info(d) for d in digests), key=lambda info: info.digest)
    assert [info.labels["n"] for info in walked] == [
        str(len(store.read_bytes(info.digest))) for info in walked
    ]


def test_verify_detects_bit_rot(store: ContentStore) -> None:
    digest = store.put_bytes(b"pristine")
    path = store.path(digest)
    path.chmod(0o644)
    path.write_bytes(b"rotten!!")
    with pytest.raises(DataCorrupt, match="hashes to"):
        store.verify(digest)


def test_recover_removes_temp_files_and_orphan_labels_and_keeps_ingests(
    store: ContentStore,
) -> None:
    kept = store.put_bytes(b"kept", labels={"k": "v"})
    with store.writer("resumable") as writer:
        writer.write(b"partial")
    blobs = store.root / "blobs" / "sha256"
    (blobs / ".tmp-0123").write_bytes(b"half a blob")
    orphan = Digest.of(b"never committed")
    (store.root / "labels" / "sha256" / f"{orphan.encoded}.json").write_text('{"a":"b"}')
    (store.root / "labels" / "sha256" / ".tmp-77").write_text("{")
    (store.root / "ingest" / ".tmp-abc").mkdir()
    (store.root / "ingest" / ".discard-def").mkdir()
    (store.root / "ingest" / ".discard-def" / "data").write_bytes(b"x")

    removed = store.recover()

    assert sorted(p.name for p in removed) == sorted(
        [".tmp-0123", f"{orphan.encoded}.json", ".tmp-77", ".tmp-abc", ".discard-def"]
    )
    assert blob_files(store) == [kept.encoded]
    assert store.info(kept).labels == {"k": "v"}
    assert [s.ref for s in store.ingests()] == ["resumable"]
    assert store.recover() == []


def test_recover_removes_damaged_ingests(store: ContentStore) -> None:
    with store.writer("damaged") as writer:
        writer.write(b"x")
    ingest = store.root / "ingest"
    (damaged,) = ingest.iterdir()
    (damaged / "startedat").write_text("not a number")
    (ingest / ("f" * 64)).mkdir()
    assert sorted(p.name for p in store.recover()) == sorted([damaged.name, "f" * 64])
    assert os.listdir(ingest) == []


def test_info_equality_is_whole_value(store: ContentStore) -> None:
    digest = store.put_bytes(b"v", labels={"l": "1"})
    info = store.info(digest)
    assert info == Info(digest, 1, info.created_at, {"l": "1"})
