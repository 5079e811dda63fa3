"""The extraction with file-creating workers that lag behind on purpose: whatever the order in
which queued files land, the tree is the one a single thread makes, and hostile layers still
never reach outside the target (the waits before replacements, links and parents hold)."""

from __future__ import annotations

import contextlib
import io
import os
import random
import shutil
import tarfile
import tempfile
import time
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dockyard.archive import apply as apply_module
from dockyard.archive.apply import Applier, WhiteoutMode, apply_layer
from dockyard.archive.compression import open_stream
from dockyard.archive.target import Target
from dockyard.archive.tarreader import TarReader
from dockyard.archive.workers import Job, Workers
from dockyard.errors import DockyardError

from .conftest import Member, d, f, hard, make_scene, member, sym, tar_bytes, tree
from .test_fuzz import _members, hostile_layers, layer_trees

pytestmark = [pytest.mark.root, pytest.mark.slow]


class LaggingWorkers(Workers):
    """Each job waits a random while first, so queued files land late and out of order."""

    def __init__(self, seed: int) -> None:
        super().__init__(3, 1 << 20, "lagging")
        self._rng = random.Random(seed)

    def submit(self, cost: int, job: Job) -> None:
        delay = self._rng.choice([0.0, 0.0005, 0.002])

        def late() -> None:
            if delay:
                time.sleep(delay)
            job()

        super().submit(cost, late)


def lagging_apply(data: bytes, target: Path, whiteouts: WhiteoutMode, seed: int = 0) -> None:
    workers = LaggingWorkers(seed)
    applier = Applier(Target(os.fspath(target), "lag"), whiteouts, workers=workers)
    try:
        reader = TarReader(open_stream(io.BytesIO(data), "lag"), "lag")
        while (entry := reader.next()) is not None:
            applier.apply(entry, reader)
        applier.finish()
    finally:
        workers.close()


def test_replacements_wait_for_queued_files(tmp_path: Path) -> None:
    layer: list[Member] = [
        d("a"), f("a/x", b"1" * 5000), f("a/x", b"2"),  # a file twice
        f("b", b"file"), d("b"), f("b/y", b"under"),  # a queued file becomes a directory
        d("c"), f("c/z", b"z"), sym("c", "a"),  # a directory with a queued file becomes a link
        f("e", b"e" * 3000), hard("h", "e"), f("g", b"g"), sym("g", "e"),
        f("w", b"w"), f(".wh.w"),  # a whiteout of what this layer wrote: it stays
    ]
    data = tar_bytes(layer)
    single, lagging = tmp_path / "single", tmp_path / "lagging"
    single.mkdir()
    lagging.mkdir()
    apply_layer(io.BytesIO(data), single, whiteouts="copy", threads=0)
    for seed in range(20):
        shutil.rmtree(lagging)
        lagging.mkdir()
        lagging_apply(data, lagging, "copy", seed)
        assert tree(lagging) == tree(single)


@pytest.mark.parametrize("whiteouts", ["overlay", "copy"])
def test_a_queued_file_cannot_follow_its_parent_turned_symlink(
    tmp_path: Path, whiteouts: WhiteoutMode
) -> None:
    layer = tar_bytes([d("a"), f("a/new", b"evil" * 1000), sym("a", "../outside")])
    for seed in range(10):
        scene = make_scene(tmp_path / str(seed))
        with contextlib.suppress(DockyardError):
            lagging_apply(layer, scene.target, whiteouts, seed)
        scene.assert_outside_unchanged()


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(layer_trees(), st.integers(0, 1000))
def test_random_trees_are_the_same_with_lagging_workers(members: list[Member], seed: int) -> None:
    data = tar_bytes(members)
    base = Path(tempfile.mkdtemp(prefix="dockyard-lag-"))
    try:
        single, lagging = base / "single", base / "lagging"
        single.mkdir()
        lagging.mkdir()
        apply_layer(io.BytesIO(data), single, whiteouts="overlay", threads=0)
        lagging_apply(data, lagging, "overlay", seed)
        assert tree(lagging) == tree(single)
    finally:
        shutil.rmtree(base)


@settings(max_examples=500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(hostile_layers(), st.sampled_from(["overlay", "copy"]), st.integers(0, 1000))
def test_hostile_layers_never_leave_the_target_with_lagging_workers(
    layers: list[list[tuple[str, str, str]]], whiteouts: WhiteoutMode, seed: int
) -> None:
    guard = Path(tempfile.mkdtemp(prefix="dockyard-hostile-lag-"))
    try:
        scene = make_scene(guard)
        for layer in layers:
            with contextlib.suppress(DockyardError):  # refusing is fine; escaping is not
                lagging_apply(tar_bytes(_members(layer, guard)), scene.target, whiteouts, seed)
            scene.assert_outside_unchanged()
    finally:
        shutil.rmtree(guard)


class CountingWorkers(Workers):
    def __init__(self) -> None:
        super().__init__(2, 1 << 20, "counting")
        self.jobs = 0

    def submit(self, cost: int, job: Job) -> None:
        self.jobs += 1
        super().submit(cost, job)


@pytest.mark.parametrize(("slow_ns", "queued"), [(0, 300 - 64), (10**12, 0)])
def test_workers_are_called_in_once_creating_files_proves_slow(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, slow_ns: int, queued: int
) -> None:
    monkeypatch.setattr(apply_module, "_SLOW_CREATE_NS", slow_ns)
    data = tar_bytes([d("a"), *(f(f"a/{i}", b"x" * 100) for i in range(300))])
    workers = CountingWorkers()
    applier = Applier(Target(os.fspath(tmp_path), "probe"), "overlay", workers=workers,
                      on_demand=True)
    try:
        reader = TarReader(open_stream(io.BytesIO(data), "probe"), "probe")
        while (entry := reader.next()) is not None:
            applier.apply(entry, reader)
        applier.finish()
    finally:
        workers.close()
    assert (workers.jobs, len(os.listdir(tmp_path / "a"))) == (queued, 300)


class _NothingFresh(set[str]):
    """A ``Target.fresh`` that stays empty: every file creation looks first, as it once did."""

    def add(self, element: str) -> None:
        pass


def _outcome(data: bytes, target: Path, whiteouts: WhiteoutMode, *, reference: bool,
             seed: int) -> tuple[str, list[object]]:
    workers = None if reference else LaggingWorkers(seed)
    t = Target(os.fspath(target), "diff")
    if reference:
        t.fresh = _NothingFresh()
    applier = Applier(t, whiteouts, workers=workers)
    error = ""
    try:
        reader = TarReader(open_stream(io.BytesIO(data), "diff"), "diff")
        while (entry := reader.next()) is not None:
            applier.apply(entry, reader)
        applier.finish()
    except DockyardError as exc:
        error = type(exc).__name__
    finally:
        if workers is not None:
            workers.close()
    return error, ([] if error else list(tree(target, dir_mtimes=False)))


NAMES = ["a", "b", "a/b", "a/c", "b/a"]
KINDS = ["file", "file", "dir", "sym", "hard", "fifo", "whiteout", "opaque"]


def _layer(entries: list[tuple[str, str]]) -> list[Member]:
    out: list[Member] = []
    for kind, name in entries:
        if kind == "file":
            out.append(f(name, name.encode() * 100))
        elif kind == "dir":
            out.append(d(name))
        elif kind == "sym":
            out.append(sym(name, "b"))
        elif kind == "hard":
            out.append(hard(name, "a"))
        elif kind == "fifo":
            out.append((member(name, tarfile.FIFOTYPE), None))
        elif kind == "whiteout":
            parent, _, base = name.rpartition("/")
            out.append(f(f"{parent}/.wh.{base}" if parent else f".wh.{base}"))
        else:
            out.append(f(f"{name}/.wh..wh..opq"))
    return out


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.lists(st.tuples(st.sampled_from(KINDS), st.sampled_from(NAMES)),
                         min_size=1, max_size=8), min_size=1, max_size=2),
       st.sampled_from(["overlay", "copy"]), st.integers(0, 1000))
def test_shortcuts_and_workers_change_nothing(layers: list[list[tuple[str, str]]],
                                             whiteouts: WhiteoutMode, seed: int) -> None:
    """Against a reference that looks before every file creation and uses no workers: the same
    tree, or the same error, layer after layer."""
    base = Path(tempfile.mkdtemp(prefix="dockyard-diff-"))
    try:
        ours, reference = base / "ours", base / "reference"
        ours.mkdir()
        reference.mkdir()
        for entries in layers:
            data = tar_bytes(_layer(entries))
            expected = _outcome(data, reference, whiteouts, reference=True, seed=seed)
            assert _outcome(data, ours, whiteouts, reference=False, seed=seed) == expected
            if expected[0]:
                break
    finally:
        shutil.rmtree(base)
