"""The snapshot record store: the model's rules, transactions and persistence."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from dockyard.errors import AlreadyExists, Conflict, InvalidArgument, NotFound
from dockyard.snapshots import Info, Kind, Usage
from dockyard.snapshots.metadata import MAX_LABEL_BYTES, MetaStore, Record

from ...fakeclock import Clock


@pytest.fixture
def clock() -> Clock:
    return Clock(1000.0)


@pytest.fixture
def store(tmp_path: Path, clock: Clock) -> Iterator[MetaStore]:
    meta = MetaStore(tmp_path / "metadata.db", clock)
    try:
        yield meta
    finally:
        meta.close()


def _chain(store: MetaStore) -> None:
    """base <- mid (committed), top active on mid."""
    with store.write() as txn:
        txn.create(Kind.ACTIVE, "base-a")
        txn.commit("base-a", "base", Usage(10, 2))
        txn.create(Kind.ACTIVE, "mid-a", "base")
        txn.commit("mid-a", "mid", Usage(20, 3), {"l": "1"})
        txn.create(Kind.ACTIVE, "top", "mid", {"x": "y"})


def test_create_and_get(store: MetaStore) -> None:
    with store.write() as txn:
        record = txn.create(Kind.ACTIVE, "a", labels={"k": "v"})
    with store.read() as txn:
        assert txn.get("a") == record
    assert record == Record(
        id=1, info=Info("a", Kind.ACTIVE, "", {"k": "v"}, 1000.0, 1000.0), parent_ids=(), usage=None
    )


def test_chain_parent_ids_nearest_first(store: MetaStore) -> None:
    _chain(store)
    with store.read() as txn:
        top = txn.get("top")
        mid = txn.get("mid")
        base = txn.get("base")
    assert top.parent_ids == (mid.id, base.id)
    assert mid.parent_ids == (base.id,)
    assert top.info == Info("top", Kind.ACTIVE, "mid", {"x": "y"}, 1000.0, 1000.0)
    assert mid.usage == Usage(20, 3)


def test_commit_keeps_the_id_and_retires_the_key(store: MetaStore, clock: Clock) -> None:
    with store.write() as txn:
        active = txn.create(Kind.ACTIVE, "a", labels={"old": "1"})
    clock.now = 2000.0
    with store.write() as txn:
        committed = txn.commit("a", "c", Usage(4096, 1), {"new": "2"})
    assert committed == Record(
        id=active.id,
        info=Info("c", Kind.COMMITTED, "", {"new": "2"}, 2000.0, 2000.0),
        usage=Usage(4096, 1),
    )
    with store.read() as txn, pytest.raises(NotFound, match="'a'"):
        txn.get("a")


@pytest.mark.parametrize("kind", [Kind.ACTIVE, Kind.VIEW])
def test_existing_key_is_refused(store: MetaStore, kind: Kind) -> None:
    with store.write() as txn:
        txn.create(Kind.ACTIVE, "a")
    with store.write() as txn, pytest.raises(AlreadyExists, match="'a'"):
        txn.create(kind, "a")


def test_committed_name_shares_the_key_namespace(store: MetaStore) -> None:
    _chain(store)
    with store.write() as txn, pytest.raises(AlreadyExists, match="'mid'"):
        txn.create(Kind.ACTIVE, "mid")
    with store.write() as txn, pytest.raises(AlreadyExists, match="'mid'"):
        txn.commit("top", "mid", Usage())
    with store.write() as txn, pytest.raises(AlreadyExists, match="'top'"):
        txn.create(Kind.ACTIVE, "x")
        txn.commit("x", "top", Usage())


def test_parent_must_exist_and_be_committed(store: MetaStore) -> None:
    _chain(store)
    with store.write() as txn:
        txn.create(Kind.VIEW, "v", "mid")
    with store.write() as txn, pytest.raises(NotFound, match="'nope'"):
        txn.create(Kind.ACTIVE, "x", "nope")
    for parent in ("top", "v"):
        with store.write() as txn, pytest.raises(InvalidArgument, match="not committed"):
            txn.create(Kind.ACTIVE, "x", parent)


def test_only_active_commits(store: MetaStore) -> None:
    _chain(store)
    with store.write() as txn:
        txn.create(Kind.VIEW, "v", "mid")
    for key in ("v", "mid"):
        with store.write() as txn, pytest.raises(Conflict, match=f"'{key}'"):
            txn.commit(key, "new", Usage())
    with store.write() as txn, pytest.raises(NotFound, match="'nope'"):
        txn.commit("nope", "new", Usage())


def test_remove_with_children_is_refused(store: MetaStore) -> None:
    _chain(store)
    with store.write() as txn, pytest.raises(Conflict, match=r"'mid'.*top"):
        txn.remove("mid")
    with store.write() as txn:
        txn.remove("top")
        txn.remove("mid")
        txn.remove("base")
    with store.read() as txn:
        assert txn.walk() == []


def test_ids_are_never_reused(store: MetaStore) -> None:
    with store.write() as txn:
        first = txn.create(Kind.ACTIVE, "a").id
        txn.remove("a")
    with store.write() as txn:
        assert txn.create(Kind.ACTIVE, "a").id == first + 1


def test_a_failed_write_rolls_back(store: MetaStore) -> None:
    with pytest.raises(AlreadyExists), store.write() as txn:
        txn.create(Kind.ACTIVE, "a")
        txn.create(Kind.ACTIVE, "a")
    with store.read() as txn:
        assert txn.walk() == []


def test_update_labels_merges_and_removes(store: MetaStore, clock: Clock) -> None:
    with store.write() as txn:
        txn.create(Kind.ACTIVE, "a", labels={"keep": "1", "drop": "2", "change": "3"})
    clock.now = 1500.0
    with store.write() as txn:
        record = txn.update_labels("a", {"drop": None, "change": "x", "add": "y"})
    assert record.info == Info(
        "a", Kind.ACTIVE, "", {"keep": "1", "change": "x", "add": "y"}, 1000.0, 1500.0
    )
    with store.write() as txn, pytest.raises(NotFound, match="'b'"):
        txn.update_labels("b", {})


@pytest.mark.parametrize(
    "labels", [{"": "v"}, {"k": "v" * MAX_LABEL_BYTES}], ids=["empty", "long"]
)
def test_bad_labels_are_refused(store: MetaStore, labels: dict[str, str]) -> None:
    with store.write() as txn, pytest.raises(InvalidArgument):
        txn.create(Kind.ACTIVE, "a", labels=labels)


@pytest.mark.parametrize("key", ["", "a\0b"])
def test_bad_keys_are_refused(store: MetaStore, key: str) -> None:
    with store.write() as txn, pytest.raises(InvalidArgument):
        txn.create(Kind.ACTIVE, key)


def test_walk_is_sorted_and_children_listed(store: MetaStore) -> None:
    _chain(store)
    with store.read() as txn:
        assert [info.name for info in txn.walk()] == ["base", "mid", "top"]
        assert txn.children(txn.get("mid").id) == ["top"]
        assert txn.ids() == {1, 2, 3}


def test_reopen_sees_the_same_records(tmp_path: Path, clock: Clock) -> None:
    first = MetaStore(tmp_path / "metadata.db", clock)
    try:
        _chain(first)
        with first.read() as txn:
            before = txn.walk()
    finally:
        first.close()
    second = MetaStore(tmp_path / "metadata.db", clock)
    try:
        with second.read() as txn:
            assert txn.walk() == before
    finally:
        second.close()
