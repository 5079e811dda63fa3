"""LeaseStore: create, resources, expiry, the context manager, and file hygiene."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from dockyard.content.leases import Lease, LeaseStore, Resource
from dockyard.errors import AlreadyExists, DataCorrupt, InvalidArgument, NotFound

from ...fakeclock import Clock


@pytest.fixture
def clock() -> Clock:
    return Clock(100.0)


@pytest.fixture
def leases(tmp_path: Path, clock: Clock) -> LeaseStore:
    return LeaseStore(tmp_path, clock=clock)


def test_create_get_and_list(leases: LeaseStore, clock: Clock) -> None:
    first = leases.create("pull-1", labels={"purpose": "pull"}, expires_at=500.0)
    clock.now = 101.0
    second = leases.create()
    assert first == Lease("pull-1", 100.0, 500.0, {"purpose": "pull"}, frozenset())
    assert second.id.startswith("lease-")
    assert leases.get("pull-1") == first
    assert leases.leases() == [first, second]
    assert sorted(os.listdir(leases.root)) == [".lock", f"{second.id}.json", "pull-1.json"]


def test_duplicate_and_invalid_ids_are_refused(leases: LeaseStore) -> None:
    leases.create("dup")
    with pytest.raises(AlreadyExists, match="dup"):
        leases.create("dup")
    for bad in ("", "../escape", "a/b", ".hidden", "x" * 77):
        with pytest.raises(InvalidArgument):
            leases.create(bad)


def test_add_and_remove_resources(leases: LeaseStore) -> None:
    leases.create("build")
    blob = Resource("content", "sha256:" + "a" * 64)
    snap = Resource("snapshots/overlayfs", "extract-1")
    leases.add_resource("build", blob)
    leases.add_resource("build", blob)
    assert leases.add_resource("build", snap).resources == frozenset({blob, snap})
    assert leases.remove_resource("build", snap).resources == frozenset({blob})
    assert leases.remove_resource("build", snap).resources == frozenset({blob})
    assert leases.get("build").resources == frozenset({blob})
    with pytest.raises(NotFound, match="absent"):
        leases.add_resource("absent", blob)
    with pytest.raises(InvalidArgument):
        leases.add_resource("build", Resource("", "x"))


def test_resources_are_those_of_live_leases(leases: LeaseStore, clock: Clock) -> None:
    leases.create("forever")
    leases.create("short", expires_at=150.0)
    leases.add_resource("forever", Resource("content", "a"))
    leases.add_resource("short", Resource("ingest", "b"))
    assert leases.resources() == {Resource("content", "a"), Resource("ingest", "b")}
    clock.now = 150.0
    assert leases.resources() == {Resource("content", "a")}
    assert [lease.id for lease in leases.leases()] == ["forever", "short"]
    assert leases.delete_expired() == ["short"]
    assert [lease.id for lease in leases.leases()] == ["forever"]


def test_delete(leases: LeaseStore) -> None:
    leases.create("temp")
    leases.delete("temp")
    assert leases.leases() == []
    with pytest.raises(NotFound, match="temp"):
        leases.delete("temp")


def test_context_manager_deletes_the_lease_on_exit(leases: LeaseStore) -> None:
    with leases.lease(labels={"k": "v"}) as lease:
        leases.add_resource(lease.id, Resource("content", "x"))
        assert leases.resources() == {Resource("content", "x")}
    assert leases.leases() == []
    with pytest.raises(RuntimeError), leases.lease("boom"):
        raise RuntimeError("import failed")
    assert leases.leases() == []
    with leases.lease("early") as lease:
        leases.delete(lease.id)
    assert leases.leases() == []


def test_damaged_lease_file_is_data_corrupt(leases: LeaseStore) -> None:
    (leases.root / "broken.json").write_text('{"id": "broken"}')
    with pytest.raises(DataCorrupt, match=r"broken\.json"):
        leases.get("broken")


def test_recover_removes_temp_files(leases: LeaseStore) -> None:
    leases.create("kept")
    (leases.root / ".tmp-1234").write_text("{")
    assert [p.name for p in leases.recover()] == [".tmp-1234"]
    assert sorted(os.listdir(leases.root)) == [".lock", "kept.json"]
