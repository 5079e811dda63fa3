"""Container records on disk: replaced without renaming over a file, and whole after a crash
between the renames (the old record kept as config.v2.json.old is read when the record is
missing; the record wins when both are there)."""

from __future__ import annotations

import json
import os
from dataclasses import replace
from pathlib import Path

from dockyard.containers.config import ContainerConfig, parse_host_config
from dockyard.containers.record import Container, State
from dockyard.containers.store import OLD, RECORD, ContainerStore


def _container(status: str = "created") -> Container:
    return Container(
        id="c" * 64, name="/n", created="2026-11-28T00:00:00Z", image_id="sha256:" + "b" * 64,
        config=ContainerConfig(cmd=("sh",)),
        host=parse_host_config({}, default_runtime="dockyard", runtimes=("dockyard",)),
        state=State(status=status))


def test_saves_replace_the_record(tmp_path: Path) -> None:
    store = ContainerStore(tmp_path)
    container = _container()
    store.create_dir(container.id)
    store.save(container)
    running = replace(container, state=State(status="running", pid=7))
    store.save(running)
    assert sorted(os.listdir(store.dir(container.id))) == [RECORD]
    assert store.load_all() == [running]


def test_a_crash_between_the_renames_keeps_a_record(tmp_path: Path) -> None:
    store = ContainerStore(tmp_path)
    old, new = _container(), _container("running")
    store.create_dir(old.id)
    directory = store.dir(old.id)
    # after the first rename: only the old record, under its .old name
    (directory / OLD).write_text(json.dumps(old.to_json()))
    assert store.load_all() == [old]
    assert store.sweep() == []
    # after the second: both; the new one is the record
    (directory / RECORD).write_text(json.dumps(new.to_json()))
    assert store.load_all() == [new]
    store.save(old)
    assert sorted(os.listdir(directory)) == [RECORD]
    assert store.load_all() == [old]


def test_forget_removes_both_names(tmp_path: Path) -> None:
    store = ContainerStore(tmp_path)
    container = _container()
    store.create_dir(container.id)
    store.save(container)
    (store.dir(container.id) / OLD).write_text("{}")
    store.forget(container.id)
    assert store.load_all() == []
    assert store.sweep() == [container.id]
    assert os.listdir(tmp_path) == []
