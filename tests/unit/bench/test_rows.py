"""bench/rows and the harness's iteration: the kinds of timed part, the run's pool, row names,
and one row run end to end with fake engines (no daemon, no root)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from types import ModuleType

import pytest

BenchModule = Callable[[str], ModuleType]


def test_pool_opens_once_and_closes_last_opened_first(bench_module: BenchModule) -> None:
    rows = bench_module("bench.rows")
    events: list[str] = []

    def opener(name: str) -> Callable[[], object]:
        @contextmanager
        def resource() -> Iterator[str]:
            events.append(f"open {name}")
            yield name.upper()
            events.append(f"close {name}")

        return resource

    pool = rows.Pool()
    assert pool.get("a", opener("a")) == "A"
    assert pool.get("b", opener("b")) == "B"
    assert pool.get("a", opener("other")) == "A"
    pool.close()
    assert events == ["open a", "open b", "close b", "close a"]
    assert pool.get("a", opener("a")) == "A"  # usable again after close
    pool.close()


def test_command_env_is_set_over_the_run_environment(bench_module: BenchModule) -> None:
    rows, harness = bench_module("bench.rows"), bench_module("bench.harness")
    command = rows.Command(
        ("sh", "-c", 'test "$A$B" = runrow || { echo "A=$A B=$B" >&2; exit 1; }'),
        env={"B": "row"},
    )
    samples = harness.measure(command, {"A": "run", "B": "run"}, timed_sync=False)
    assert (list(samples), len(samples[""])) == ([""], 1)


def test_self_timed_part_gives_its_own_samples(bench_module: BenchModule) -> None:
    rows, harness = bench_module("bench.rows"), bench_module("bench.harness")
    timed = rows.SelfTimed(lambda: [0.001, 0.002, 0.003])
    assert harness.measure(timed, {}, timed_sync=False) == {"": [0.001, 0.002, 0.003]}
    with pytest.raises(rows.RowFailed, match="no samples"):
        harness.measure(rows.SelfTimed(list), {}, timed_sync=False)


def test_parts_give_their_own_samples_each(bench_module: BenchModule) -> None:
    rows, harness = bench_module("bench.rows"), bench_module("bench.harness")
    timed = rows.Parts(lambda: {"up": (0.5,), "down": [0.25, 0.125]})
    assert harness.measure(timed, {}, timed_sync=False) == {"up": [0.5], "down": [0.25, 0.125]}
    for empty in ({}, {"up": [0.5], "down": []}):
        with pytest.raises(rows.RowFailed, match="no samples"):
            harness.measure(rows.Parts(lambda e=empty: e), {}, timed_sync=False)


def test_shown_samples(bench_module: BenchModule) -> None:
    harness = bench_module("bench.harness")
    assert harness.shown_samples([0.5]) == "500 ms"
    assert harness.shown_samples([0.001, 0.003, 0.002]) == "2.00 ms (median of 3, 1.00-3.00 ms)"
    assert harness.shown_parts({"": [0.5]}) == "500 ms"
    assert harness.shown_parts({"up": [0.5], "down": [0.25]}) == "up 500 ms; down 250 ms"


def test_row_modules_do_not_shadow_the_package(bench_module: BenchModule) -> None:
    rows = bench_module("bench.rows")
    modules = rows.modules()
    rows.names()  # imports every row module, which sets the package's attribute of that name
    defined = {n for n in vars(rows) if not n.startswith("_")} - set(modules)
    assert defined.isdisjoint(modules)


def test_every_row_is_well_formed(bench_module: BenchModule, tmp_path: Path) -> None:
    rows = bench_module("bench.rows")
    ctx = rows.Context(tmp_path, tmp_path / "python", tmp_path / "work", tmp_path, "docker", "p")
    for name in rows.names():
        row = rows.instantiate(name, ctx)
        assert row.name == name
        assert row.summary and "\n" not in row.summary
        assert row.default_runs >= 1
        assert set(row.engines) <= set(rows.ENGINES)
        assert "dockyard" in row.engines


class FakeRow:
    """Times a SelfTimed part for dockyard and a command for docker; docker fails at run 2."""

    name = "fake"
    summary = "a fake row"
    default_runs = 3
    engines = ("dockyard", "docker")

    def __init__(self, rows: ModuleType) -> None:
        self.rows = rows
        self.log: list[str] = []

    def prepare(self) -> None:
        self.log.append("prepare")

    def check(self, engine: str) -> None:
        self.log.append(f"check {engine}")

    def setup(self, engine: str, i: int) -> object:
        self.log.append(f"setup {engine} {i}")
        if engine == "dockyard":
            return self.rows.SelfTimed(lambda: [0.25, 0.5])
        return self.rows.Command(("sh", "-c", f"test {i} -ne 1 || {{ echo no >&2; exit 2; }}"))

    def teardown(self, engine: str, i: int) -> None:
        self.log.append(f"teardown {engine} {i}")

    def finish(self) -> None:
        self.log.append("finish")
        raise self.rows.RowFailed("could not remove something")


def test_run_row_interleaves_engines_and_survives_a_failing_finish(
    bench_module: BenchModule, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rows, harness, stats = (bench_module(f"bench.{m}") for m in ("rows", "harness", "stats"))
    ctx = rows.Context(tmp_path, tmp_path / "python", tmp_path / "work", tmp_path, "docker", "p")
    row = FakeRow(rows)
    results = harness.run_row(row, 3, ["dockyard", "docker"], ctx, timed_sync=False)
    assert list(results) == [("fake", "dockyard"), ("fake", "docker")]
    dockyard = stats.Result("fake", "dockyard", stats.OK, (0.25, 0.5) * 3)
    assert results["fake", "dockyard"] == dockyard
    docker = results["fake", "docker"]
    assert (docker.status, len(docker.samples)) == (stats.FAILED, 1)
    assert docker.note == "`sh -c 'test 1 -ne 1 || { echo no >&2; exit 2; }'` exited 2: no"
    assert row.log == [
        "prepare", "check dockyard", "check docker",
        "setup dockyard 0", "teardown dockyard 0", "setup docker 0", "teardown docker 0",
        "setup docker 1", "teardown docker 1", "setup dockyard 1", "teardown dockyard 1",
        "setup dockyard 2", "teardown dockyard 2",
        "finish",
    ]  # fmt: skip
    assert "cleanup: could not remove something" in capsys.readouterr().out


class PartsRow(FakeRow):
    """Times two parts for dockyard; docker fails its check, so it has no samples at all."""

    def check(self, engine: str) -> None:
        if engine == "docker":
            raise self.rows.RowFailed("no registry")

    def setup(self, engine: str, i: int) -> object:
        return self.rows.Parts(lambda: {"up": [0.5 + i], "down": [0.25]})

    def finish(self) -> None:
        pass


def test_run_row_gives_a_figure_per_part(
    bench_module: BenchModule, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rows, harness, stats = (bench_module(f"bench.{m}") for m in ("rows", "harness", "stats"))
    ctx = rows.Context(tmp_path, tmp_path / "python", tmp_path / "work", tmp_path, "docker", "p")
    results = harness.run_row(PartsRow(rows), 2, ["dockyard", "docker"], ctx, timed_sync=False)
    assert results == {
        ("fake/up", "dockyard"): stats.Result("fake/up", "dockyard", stats.OK, (0.5, 1.5)),
        ("fake/up", "docker"): stats.Result("fake/up", "docker", stats.FAILED, (), "no registry"),
        ("fake/down", "dockyard"): stats.Result("fake/down", "dockyard", stats.OK, (0.25, 0.25)),
        ("fake/down", "docker"): stats.Result("fake/down", "docker", stats.FAILED, (),
                                              "no registry"),
    }
    assert [name for name, _ in results] == ["fake/up", "fake/up", "fake/down", "fake/down"]
    assert "  dockyard #2: up 1.50 s; down 250 ms" in capsys.readouterr().out
