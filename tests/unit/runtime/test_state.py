"""Container state: runc's status rules, the record on disk, runc's state object."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from dockyard.errors import AlreadyExists, InvalidArgument, NotFound
from dockyard.runtime.ops.list import render_json, table
from dockyard.runtime.ops.state import render
from dockyard.runtime.state import (
    CREATED,
    CREATING,
    RUNNING,
    STOPPED,
    TRANSITIONS,
    ContainerState,
    Saved,
    StateRoot,
    check_id,
    derive_status,
    rfc3339_nano,
    start_time,
)

SAVED = Saved(id="c1", pid=42, start_time=1000, bundle="/b", rootfs="/b/rootfs",
              created="2026-11-27T21:59:09.534368328Z",
              cgroup_paths={"memory": "/sys/fs/cgroup/memory/c1"}, annotations={"a": "1"})


def alive_if(pid: int, start: int):
    return lambda p, s: (p, s) == (pid, start)


@pytest.mark.parametrize(("saved", "locked", "fifo", "alive", "status"), [
    (None, True, False, alive_if(0, 0), CREATING),
    (None, False, False, alive_if(0, 0), STOPPED),
    (SAVED, False, True, alive_if(42, 1000), CREATED),
    (SAVED, False, False, alive_if(42, 1000), RUNNING),
    (SAVED, False, True, alive_if(42, 999), STOPPED),  # the pid was reused
    (SAVED, False, False, alive_if(7, 1000), STOPPED),
])  # fmt: skip
def test_status_is_derived_as_runc_derives_it(saved, locked, fifo, alive, status) -> None:
    assert derive_status(saved, locked, fifo, alive) == status


def test_transitions_end_in_stopped() -> None:
    assert {(a, b) for a, b in TRANSITIONS if a == STOPPED} == set()
    assert (CREATED, RUNNING) in TRANSITIONS and (RUNNING, CREATED) not in TRANSITIONS


def test_saved_round_trips() -> None:
    assert Saved.from_json(SAVED.to_json().encode(), "state.json") == SAVED


def test_state_object_in_runc_field_order() -> None:
    state = ContainerState(id="c3", pid=31393, status="created", bundle="/tmp/rb3",
                           rootfs="/tmp/rb3/rootfs", created="2026-11-27T21:59:09.534368328Z",
                           annotations={"b": "2", "a": "<b>"})
    assert render(state) == (
        '{\n  "ociVersion": "1.0.2-dev",\n  "id": "c3",\n  "pid": 31393,\n'
        '  "status": "created",\n  "bundle": "/tmp/rb3",\n  "rootfs": "/tmp/rb3/rootfs",\n'
        '  "created": "2026-11-27T21:59:09.534368328Z",\n  "annotations": {\n'
        '    "a": "\\u003cb\\u003e",\n    "b": "2"\n  },\n  "owner": ""\n}'
    )
    assert "annotations" not in state.replace(annotations={}).to_object()


def test_list_table_matches_runc() -> None:
    state = ContainerState(id="c3", pid=31393, status="created", bundle="/tmp/rb3",
                           rootfs="/tmp/rb3/rootfs", created="2026-11-27T21:59:09.534368328Z",
                           owner="root")
    assert table([state]) == (
        "ID          PID         STATUS      BUNDLE      CREATED                          OWNER\n"
        "c3          31393       created     /tmp/rb3    2026-11-27T21:59:09.534368328Z   root\n"
    )
    assert table([]) == "ID          PID         STATUS      BUNDLE      CREATED     OWNER\n"
    assert render_json([]) == "null\n"


def test_rfc3339_nano() -> None:
    assert rfc3339_nano(1_764_280_749_534_368_328) == "2025-11-27T21:59:09.534368328Z"
    assert rfc3339_nano(1_764_280_749_500_000_000) == "2025-11-27T21:59:09.5Z"
    assert rfc3339_nano(1_764_280_749_000_000_000) == "2025-11-27T21:59:09Z"


@pytest.mark.parametrize("bad", ["", ".", "..", "a/b", "a b", "é"])
def test_ids_follow_runc(bad: str) -> None:
    with pytest.raises(InvalidArgument):
        check_id(bad)
    check_id("a_b+c-d.e9")


def test_root_lifecycle(tmp_path: Path) -> None:
    root = StateRoot(str(tmp_path / "root"))
    directory = root.create("c1")
    assert os.stat(directory.path).st_mode & 0o777 == 0o711
    with pytest.raises(AlreadyExists):
        root.create("c1")
    assert directory.read() is None
    other = root.open("c1")
    assert other.status(None) == CREATING  # create holds the lock
    directory.unlock()
    assert other.status(None) == STOPPED
    directory.write(SAVED)
    directory.make_fifo()
    assert os.stat(directory.fifo).st_mode & 0o777 == 0o622
    assert other.read() == SAVED
    assert root.ids() == ["c1"]
    directory.remove()
    assert root.ids() == []
    with pytest.raises(NotFound, match="container does not exist"):
        root.open("c1")


def test_start_time_of_this_process_and_of_none() -> None:
    assert start_time(os.getpid()) is not None
    assert start_time(2**22 + 1) is None


def test_a_frozen_cgroup_is_paused_whatever_else_holds(tmp_path: Path) -> None:
    from dockyard.runtime.state import PAUSED, cgroup_frozen

    assert derive_status(SAVED, False, True, alive_if(42, 1000), frozen=True) == PAUSED
    assert derive_status(SAVED, False, False, alive_if(0, 0), frozen=True) == PAUSED
    assert derive_status(None, False, False, alive_if(0, 0), frozen=True) == STOPPED
    assert {(RUNNING, PAUSED), (PAUSED, RUNNING), (CREATED, PAUSED)} <= TRANSITIONS
    freezer, unified = tmp_path / "freezer", tmp_path / "unified"
    freezer.mkdir()
    unified.mkdir()
    (freezer / "freezer.state").write_text("FROZEN\n")
    (unified / "cgroup.freeze").write_text("0\n")
    assert cgroup_frozen({"freezer": str(freezer), "": str(unified)})
    (freezer / "freezer.state").write_text("THAWED\n")
    assert not cgroup_frozen({"freezer": str(freezer), "": str(unified)})
    (unified / "cgroup.freeze").write_text("1\n")
    assert cgroup_frozen({"": str(unified)})  # v2: the one directory
    assert not cgroup_frozen({"": str(tmp_path / "gone")})
    assert not cgroup_frozen({})
