"""The network_attach row and its driver without root: the driver's timing loop with fake
Networks, namespaces and clock; the row's protocol against a fake driver script; the answer's
parsing, the goal report and the sweep of leftovers from canned `ip`/`nft` listings."""

from __future__ import annotations

import ipaddress
import json
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from types import ModuleType

import pytest

BenchModule = Callable[[str], ModuleType]

PARTS = ("attach", "publish", "attach+publish", "second-network", "release")


class FakeNetworks:
    """Records the calls the driver times; each takes one tick of the fake clock."""

    def __init__(self, clock: FakeClock) -> None:
        self.clock = clock
        self.calls: list[tuple[object, ...]] = []

    def attach(self, container_id: str, netns: str, ref: str = "bridge", *,
               name: str = "") -> None:
        self.calls.append(("attach", container_id, netns, ref, name))

    def publish(self, container_id: str, requests: Sequence[object]) -> None:
        self.calls.append(("publish", container_id, tuple(requests)))
        self.clock.now += 0.5  # publish takes longer than a tick

    def release(self, container_id: str) -> None:
        self.calls.append(("release", container_id))


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        self.now += 1.0
        return self.now


def test_driver_times_each_part_per_namespace(bench_module: BenchModule) -> None:
    driver = bench_module("bench.network_driver")
    ip: list[tuple[str, ...]] = []
    namespaces = driver.Namespaces("dybx1", ip.append)
    clock = FakeClock()
    networks = FakeNetworks(clock)
    parts = driver.measure(networks, namespaces, 2, clock)
    assert parts == {"attach": [1.0, 1.0], "publish": [1.5, 1.5], "attach+publish": [2.5, 2.5],
                     "second-network": [1.0, 1.0], "release": [1.0, 1.0]}
    cids = [call[1] for call in networks.calls[::3][:2]]
    assert [len(c) for c in cids] == [64, 64] and cids[0] != cids[1]
    request = tuple(driver.PUBLISH)
    assert networks.calls == [
        ("attach", cids[0], "/run/netns/dybx1n0", "bridge", ""),
        ("publish", cids[0], request),
        ("attach", cids[0], "/run/netns/dybx1n0", "front", "c0"),
        ("attach", cids[1], "/run/netns/dybx1n1", "bridge", ""),
        ("publish", cids[1], request),
        ("attach", cids[1], "/run/netns/dybx1n1", "front", "c1"),
        ("release", cids[0]),
        ("release", cids[1]),
    ]
    assert ip == [("ip", "netns", "add", "dybx1n0"), ("ip", "netns", "add", "dybx1n1"),
                  ("ip", "netns", "del", "dybx1n0"), ("ip", "netns", "del", "dybx1n1")]
    assert [(r.container_port, r.proto, r.host_port) for r in request] == [(80, "tcp", 0)]


def test_driver_answers_each_line_and_closes_what_is_left(bench_module: BenchModule) -> None:
    driver = bench_module("bench.network_driver")
    ip: list[tuple[str, ...]] = []
    namespaces = driver.Namespaces("dybx1", ip.append)
    clock = FakeClock()
    answers: list[str] = []
    driver.serve(FakeNetworks(clock), namespaces, ["1\n", "\n", "2\n"], answers.append)
    assert [{p: len(s) for p, s in json.loads(a).items()} for a in answers] == [
        dict.fromkeys(PARTS, 1), dict.fromkeys(PARTS, 2)]
    namespaces.add()
    namespaces.add()
    del ip[:]
    namespaces.close()
    assert ip == [("ip", "netns", "del", "dybx1n3"), ("ip", "netns", "del", "dybx1n4")]


def test_driver_names_and_subnets_are_its_own(bench_module: BenchModule) -> None:
    driver = bench_module("bench.network_driver")
    from dockyard.network.manager import Settings

    assert driver.settings("dyb12ab") == Settings(
        table="dyb12ab", default_bridge="dyb12ab0", bridge_prefix="dyb12ab-",
        default_subnets=(ipaddress.IPv4Network("10.202.0.0/24"),),
        user_pool=ipaddress.IPv4Network("10.203.0.0/16"), ip_forward=False)
    assert driver.PARTS == PARTS


def test_answers_are_parsed_or_fail_the_row(bench_module: BenchModule) -> None:
    row, rows = bench_module("bench.rows.network_attach"), bench_module("bench.rows")
    answer = {part: [0.001, 0.002] for part in PARTS}
    assert row.parse_answer(json.dumps(answer) + "\n") == answer
    for line, message in [
        ("", "network_driver.py: exited"),
        ('{"error": "PermissionError: needs root"}\n', "network_driver.py: PermissionError: "
                                                       "needs root"),
        ("Traceback\n", "network_driver.py: unexpected output: Traceback"),
        ("[1]\n", r"network_driver.py: unexpected output: \[1\]"),
        (json.dumps({**answer, "release": ["x"]}), "no samples for release"),
        (json.dumps({"attach": [0.1]}), "no samples for publish"),
    ]:
        with pytest.raises(rows.RowFailed, match=message):
            row.parse_answer(line)


def test_goal_report(bench_module: BenchModule) -> None:
    row = bench_module("bench.rows.network_attach")
    samples = {"attach": [0.001, 0.002, 0.003], "publish": [0.0005] * 3,
               "attach+publish": [0.0015, 0.0025, 0.0035], "second-network": [0.001] * 3,
               "release": [0.004, 0.004, 0.004]}
    assert row.goal_report(samples) == [
        "  dockyard attach+publish: median 2.50 ms, goal at most 3 ms (issue #9): met; "
        "no peer has an in-process equivalent",
        "  dockyard medians of 3: attach 2.00 ms, publish 0.50 ms, attach+publish 2.50 ms, "
        "second-network 1.00 ms, release 4.00 ms",
    ]
    assert "NOT met" in row.goal_report({"attach+publish": [0.004]})[0]
    assert row.goal_report({part: [] for part in PARTS}) == []


LINKS = [
    {"ifname": "lo"},
    {"ifname": "docker0"},
    {"ifname": "dyb12ab0"},
    {"ifname": "dyb12ab-1f2e3d4"},
    {"ifname": "dyv0123456789ab", "master": "dyb12ab0"},
    {"ifname": "dyvba9876543210", "master": "docker0"},
    {"ifname": "dyb99990"},
]
TABLES = [{"metainfo": {}}, {"table": {"family": "ip", "name": "filter"}},
          {"table": {"family": "ip", "name": "dyb12ab"}}]
CHAINS = {
    "DOCKER-USER": [],
    "FORWARD": [{"metainfo": {}}, {"chain": {"name": "FORWARD"}},
                {"rule": {"handle": 7, "comment": "dyb12ab dyb12ab0"}},
                {"rule": {"handle": 8, "comment": "dyb9999 dyb99990"}},
                {"rule": {"handle": 9}}],
}
EXPECTED = [
    ["ip", "netns", "del", "dyb12abn3"],
    ["ip", "link", "del", "dyv0123456789ab"],
    ["ip", "link", "del", "dyb12ab-1f2e3d4"],
    ["ip", "link", "del", "dyb12ab0"],
    ["nft", "delete", "rule", "ip", "filter", "FORWARD", "handle", "7"],
    ["nft", "delete", "table", "ip", "dyb12ab"],
]


def test_leftovers_are_those_that_name_the_tag(bench_module: BenchModule) -> None:
    row = bench_module("bench.rows.network_attach")
    netns = ["dyt1234n0", "dyb12abn3", "dyb9999n0"]
    assert row.leftover_commands("dyb12ab", netns, LINKS, TABLES, CHAINS) == EXPECTED
    assert row.leftover_commands("dyb12ab", [], LINKS[:2], TABLES[:2], {}) == []


def test_sweep_lists_then_removes(bench_module: BenchModule, tmp_path: Path) -> None:
    row = bench_module("bench.rows.network_attach")
    (tmp_path / "dyb12abn3").touch()
    (tmp_path / "dyt1234n0").touch()
    listings = {
        ("ip", "-j", "link"): json.dumps(LINKS),
        ("nft", "-j", "list", "tables", "ip"): json.dumps({"nftables": TABLES}),
        ("nft", "-j", "list", "chain", "ip", "filter", "FORWARD"):
            json.dumps({"nftables": CHAINS["FORWARD"]}),
    }  # DOCKER-USER is missing: nft fails, the runner gives ""
    ran: list[tuple[str, ...]] = []

    def run(argv: Sequence[str]) -> str:
        ran.append(tuple(argv))
        return listings.get(tuple(argv), "")

    assert row.sweep("dyb12ab", run, tmp_path) == EXPECTED
    assert ran == [("ip", "-j", "link"), ("nft", "-j", "list", "tables", "ip"),
                   ("nft", "-j", "list", "chain", "ip", "filter", "DOCKER-USER"),
                   ("nft", "-j", "list", "chain", "ip", "filter", "FORWARD"),
                   *map(tuple, EXPECTED)]  # fmt: skip


FAKE_DRIVER = '''
import json, sys
work, tag = sys.argv[1], sys.argv[2]
mode = open(work + "/mode").read() if __import__("os").path.exists(work + "/mode") else ""
if mode == "error":
    print(json.dumps({"error": "PermissionError: the network_attach driver needs root"}))
    sys.exit(1)
print("ready", flush=True)
for n, line in enumerate(sys.stdin):
    if mode == "crash":
        sys.exit(3)
    count = int(line)
    parts = ["attach", "publish", "attach+publish", "second-network", "release"]
    print(json.dumps({p: [0.001 * (n + 1)] * count for p in parts}), flush=True)
open(work + "/ended", "w").write(tag)
'''


def _row(bench_module: BenchModule, tmp_path: Path, swept: list[str],
         mode: str = "") -> tuple[object, object]:
    rows, module = bench_module("bench.rows"), bench_module("bench.rows.network_attach")
    (tmp_path / "bench").mkdir(exist_ok=True)
    (tmp_path / "bench" / "network_driver.py").write_text(FAKE_DRIVER)
    ctx = rows.Context(tmp_path, Path(sys.executable), tmp_path / "work", tmp_path, "docker", "p")
    row = module.NetworkAttach(ctx, swept.append)
    if mode:
        (tmp_path / "work" / "network_attach").mkdir(parents=True)
        (tmp_path / "work" / "network_attach" / "mode").write_text(mode)
    return ctx, row


def test_row_runs_batches_in_the_driver_and_reports_the_goal(
    bench_module: BenchModule, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    harness, stats = bench_module("bench.harness"), bench_module("bench.stats")
    swept: list[str] = []
    ctx, row = _row(bench_module, tmp_path, swept)
    results = harness.run_row(row, 2, ["dockyard"], ctx, timed_sync=False)
    batch = bench_module("bench.rows.network_attach").BATCH
    assert results == {
        (f"network_attach/{part}", "dockyard"): stats.Result(
            f"network_attach/{part}", "dockyard", stats.OK, (0.001,) * batch + (0.002,) * batch)
        for part in PARTS
    }
    tag = row._tag
    assert swept == [tag] and tag.startswith("dyb") and len(tag) == 7
    assert (tmp_path / "work" / "network_attach" / "ended").read_text() == tag
    out = capsys.readouterr().out
    assert "  dockyard attach+publish: median 1.50 ms, goal at most 3 ms (issue #9): met" in out


@pytest.mark.parametrize(("mode", "message"), [
    ("error", "network_driver.py: PermissionError: the network_attach driver needs root"),
    ("crash", "network_driver.py: exited"),
])
def test_a_failing_driver_fails_the_row_and_is_swept(
    bench_module: BenchModule, tmp_path: Path, mode: str, message: str,
    capsys: pytest.CaptureFixture[str],
) -> None:
    harness, stats = bench_module("bench.harness"), bench_module("bench.stats")
    swept: list[str] = []
    ctx, row = _row(bench_module, tmp_path, swept, mode)
    results = harness.run_row(row, 2, ["dockyard"], ctx, timed_sync=False)
    assert results == {("network_attach", "dockyard"): stats.Result(
        "network_attach", "dockyard", stats.FAILED, (), message)}
    assert swept == [row._tag]
    out = capsys.readouterr().out
    assert "goal" not in out
    if mode == "crash":
        assert "cleanup: network_driver.py exited 3" in out
