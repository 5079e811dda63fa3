"""bench/: statistics, number formatting, the table and TSV, and the timing of a callable.

No root and no engines: the rows themselves are exercised by `bash bench/run`.
"""

from __future__ import annotations

import importlib
from pathlib import Path
from types import ModuleType

import pytest

REPO = Path(__file__).resolve().parents[3]


def _import(name: str) -> ModuleType:
    with pytest.MonkeyPatch.context() as mp:
        mp.syspath_prepend(str(REPO))
        return importlib.import_module(name)


@pytest.fixture(scope="module")
def stats() -> ModuleType:
    return _import("bench.stats")


@pytest.fixture(scope="module")
def harness() -> ModuleType:
    return _import("bench.harness")


def test_summarize_gives_median_min_max_n(stats: ModuleType) -> None:
    assert stats.summarize([3.0, 1.0, 2.0, 10.0]) == stats.Summary(2.5, 1.0, 10.0, 4)
    assert stats.summarize([7.3]) == stats.Summary(7.3, 7.3, 7.3, 1)


def test_summarize_refuses_no_samples(stats: ModuleType) -> None:
    with pytest.raises(ValueError, match="at least one sample"):
        stats.summarize([])


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (7.3, "7.30 s"),
        (81.6, "81.6 s"),
        (123.4, "123 s"),
        (0.795, "795 ms"),
        (0.0339, "33.9 ms"),
        (0.0105, "10.5 ms"),
        (9.996, "10.0 s"),
        (0.000412, "412 us"),
    ],
)
def test_format_duration_keeps_three_significant_digits(
    stats: ModuleType, seconds: float, text: str
) -> None:
    assert stats.format_duration(seconds) == text


def test_format_range_uses_the_median_unit(stats: ModuleType) -> None:
    assert stats.format_range(5.78, 7.75, 7.30) == "5.78-7.75 s"
    assert stats.format_range(0.607, 1.29, 0.683) == "607-1290 ms"


def test_ratio_is_peer_over_dockyard(stats: ModuleType) -> None:
    dockyard = stats.Summary(2.0, 1.0, 3.0, 5)
    docker = stats.Summary(7.0, 6.0, 8.0, 5)
    assert stats.ratio(docker, dockyard) == 3.5
    assert stats.ratio(docker, None) is None
    assert stats.format_ratio(3.5) == "3.50x"
    assert stats.format_ratio(None) == "-"


def _results(stats: ModuleType) -> list[object]:
    return [
        stats.Result("import_slim", "dockyard", stats.OK, (2.0, 1.9, 2.2)),
        stats.Result("import_slim", "docker", stats.OK, (7.3, 5.78, 7.75)),
        stats.Result("import_slim", "podman", stats.SKIPPED, note="no podman"),
    ]


def test_render_table(stats: ModuleType) -> None:
    assert stats.render_table(_results(stats)).splitlines() == [
        "row          engine    median      min-max  n  ratio",
        "import_slim  dockyard  2.00 s  1.90-2.20 s  3    ref",
        "import_slim  docker    7.30 s  5.78-7.75 s  3  3.65x",
        "import_slim  podman    SKIPPED: no podman",
    ]


def test_render_table_without_dockyard_has_no_ratio(stats: ModuleType) -> None:
    results = [
        stats.Result("r", "dockyard", stats.FAILED, note="no module dockyard.store"),
        stats.Result("r", "docker", stats.OK, (0.5,)),
    ]
    assert stats.render_table(results).splitlines() == [
        "row  engine    median     min-max  n  ratio",
        "r    dockyard  FAILED: no module dockyard.store",
        "r    docker    500 ms  500-500 ms  1      -",
    ]


def test_tsv_lines(stats: ModuleType) -> None:
    assert stats.tsv_lines("20261127T000000Z", _results(stats)) == [
        "20261127T000000Z\timport_slim\tdockyard\tok\t2.000000\t1.900000\t2.200000\t3\t1.0000\t\t",
        "20261127T000000Z\timport_slim\tdocker\tok\t7.300000\t5.780000\t7.750000\t3\t3.6500\t\t",
        "20261127T000000Z\timport_slim\tpodman\tskipped\t\t\t\t0\t\t\tno podman",
    ]


def test_measure_times_a_callable_and_reports_a_failing_command(harness: ModuleType) -> None:
    rows = _import("bench.rows")
    calls: list[int] = []
    [elapsed] = harness.measure(lambda: calls.append(1), {}, timed_sync=False)[""]
    assert calls == [1]
    assert 0 <= elapsed < 5
    failing = rows.Command(("sh", "-c", "echo boom >&2; exit 3"))
    with pytest.raises(rows.RowFailed) as raised:
        harness.measure(failing, {}, timed_sync=False)
    assert str(raised.value) == "`sh -c 'echo boom >&2; exit 3'` exited 3: boom"
