"""network_attach: what networking adds to a container start, timed in-process (issue #9's goal:
"network set-up, published port included, adds at most 3 ms to a start").

dockyard only: bench/network_driver.py, started by `check` with dockyard's python, holds
dockyard.network.manager.Networks as the daemon does and times each step around the library
call. The peers have no in-process equivalent (dockerd's libnetwork and podman's netavark run
inside a container start, behind an API call or a process; run_bridge compares whole starts on
the bridge against dockerd), so the table has no ratio for this row; the row prints each part's
median against the goal when it ends. Per iteration, BATCH fresh namespaces (made and deleted
untimed), all attached before the first is released, one sample per namespace and part:

    network_attach/attach          attach to the default bridge: veth made in the namespace,
                                   address, link up, loopback up, default route, records
    network_attach/publish         publish one port (-p 80)
    network_attach/attach+publish  the two: the figure the 3 ms goal is about
    network_attach/second-network  attach to a user network with a DNS name
    network_attach/release         release, after the namespace was deleted

Names and subnets are the driver's own (table and bridges named after a random dyb... tag,
10.202.0.0/24 and 10.203.0.0/16; see bench/network_driver.py), so a dockyardd, dockerd, podman
or the network tests may run beside it. The driver removes everything when its stdin ends or
it fails; `finish` then sweeps whatever still names the tag (a killed driver's namespaces,
bridges, ports, nft table and accept rules in dockerd's chain).
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import statistics
import subprocess
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from bench.rows import Context, Parts, RowFailed, Timed

BATCH = 20
GOAL_MS = 3.0
GOAL_PART = "attach+publish"
PARTS = ("attach", "publish", "attach+publish", "second-network", "release")
DRIVER_TIMEOUT_S = 120.0
COMPAT_CHAINS = ("DOCKER-USER", "FORWARD")  # where the firewall adds dockerd-compatible accepts

Runner = Callable[[Sequence[str]], str]  # runs a command, returns its stdout ("" on failure)


def parse_answer(line: str) -> dict[str, list[float]]:
    """The driver's answer to one batch: samples in seconds per part, every part present."""
    if not line:
        raise RowFailed("network_driver.py: exited")
    try:
        answer = json.loads(line)
    except json.JSONDecodeError:
        raise RowFailed(f"network_driver.py: unexpected output: {line.strip()[:200]}") from None
    if not isinstance(answer, dict):
        raise RowFailed(f"network_driver.py: unexpected output: {line.strip()[:200]}")
    if "error" in answer:
        raise RowFailed(f"network_driver.py: {answer['error']}")
    parts = {}
    for part in PARTS:
        samples = answer.get(part)
        if not isinstance(samples, list) or not all(
                isinstance(s, int | float) and not isinstance(s, bool) for s in samples):
            raise RowFailed(f"network_driver.py: no samples for {part}: {line.strip()[:200]}")
        parts[part] = samples
    return parts


def goal_report(samples: Mapping[str, Sequence[float]]) -> list[str]:
    """What the row prints at its end: the goal's part against the goal, then every median."""
    if not samples.get(GOAL_PART):
        return []
    median = statistics.median(samples[GOAL_PART]) * 1e3
    verdict = "met" if median <= GOAL_MS else "NOT met"
    medians = ", ".join(f"{part} {statistics.median(s) * 1e3:.2f} ms"
                        for part, s in samples.items() if s)  # fmt: skip
    return [f"  dockyard {GOAL_PART}: median {median:.2f} ms, goal at most {GOAL_MS:g} ms "
            f"(issue #9): {verdict}; no peer has an in-process equivalent",
            f"  dockyard medians of {len(samples[GOAL_PART])}: {medians}"]  # fmt: skip


def leftover_commands(tag: str, netns: Iterable[str], links: Sequence[Mapping[str, Any]],
                      tables: Sequence[Mapping[str, Any]],
                      chains: Mapping[str, Sequence[Mapping[str, Any]]]) -> list[list[str]]:
    """Commands that remove what names `tag`: namespaces, host ends on its bridges, the bridges,
    its nft table and the accept rules commented "<tag> <bridge>" in dockerd's chains.

    `links` is `ip -j link`, `tables` and each of `chains` (by chain name) `nft -j list ...`'s
    "nftables" list."""
    commands = [["ip", "netns", "del", name] for name in sorted(netns) if name.startswith(tag)]
    bridges = sorted(link["ifname"] for link in links if link.get("ifname", "").startswith(tag))
    commands += [["ip", "link", "del", link["ifname"]] for link in links
                 if link.get("master") in bridges]  # fmt: skip
    commands += [["ip", "link", "del", bridge] for bridge in bridges]
    for chain, items in chains.items():
        for item in items:
            rule = item.get("rule", {})
            if str(rule.get("comment", "")).startswith(f"{tag} "):
                commands.append(["nft", "delete", "rule", "ip", "filter", chain, "handle",
                                 str(rule["handle"])])  # fmt: skip
    if any(item.get("table", {}).get("name") == tag for item in tables):
        commands.append(["nft", "delete", "table", "ip", tag])
    return commands


def _run(argv: Sequence[str]) -> str:
    proc = subprocess.run(list(argv), capture_output=True, text=True, check=False, timeout=30)
    return proc.stdout if proc.returncode == 0 else ""


def _nft_items(run: Runner, *args: str) -> list[dict[str, Any]]:
    out = run(["nft", "-j", *args])
    items: list[dict[str, Any]] = json.loads(out)["nftables"] if out else []
    return items


def sweep(tag: str, run: Runner = _run, netns_dir: Path = Path("/run/netns")) -> list[list[str]]:
    """Remove what still names `tag` (nothing, when the driver cleaned up); the commands run."""
    netns = os.listdir(netns_dir) if netns_dir.is_dir() else []
    links = json.loads(run(["ip", "-j", "link"]) or "[]")
    tables = _nft_items(run, "list", "tables", "ip")
    chains = {chain: _nft_items(run, "list", "chain", "ip", "filter", chain)
              for chain in COMPAT_CHAINS}  # fmt: skip
    commands = leftover_commands(tag, netns, links, tables, chains)
    for argv in commands:
        run(argv)
    return commands


class NetworkAttach:
    name = "network_attach"
    summary = (f"in-process attach, -p 80, second network, release ({BATCH} netns/run; "
               f"no peer; goal {GOAL_PART} <= {GOAL_MS:g} ms)")  # fmt: skip
    default_runs = 10
    engines = ("dockyard",)

    def __init__(self, ctx: Context, cleanup: Callable[[str], object] = sweep) -> None:
        self._ctx = ctx
        self._work = ctx.work / self.name
        self._tag = "dyb" + secrets.token_hex(2)
        self._cleanup = cleanup
        self._driver: subprocess.Popen[str] | None = None
        self._samples: dict[str, list[float]] = {part: [] for part in PARTS}

    def prepare(self) -> None:
        self._work.mkdir(parents=True, exist_ok=True)

    def check(self, engine: str) -> None:
        script = self._ctx.repo / "bench" / "network_driver.py"
        self._driver = subprocess.Popen(
            [str(self._ctx.python), str(script), str(self._work), self._tag],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, cwd=self._ctx.repo,
        )  # fmt: skip
        line = self._readline()
        if line.strip() != "ready":
            parse_answer(line)  # raises with the driver's error
            raise RowFailed(f"network_driver.py: unexpected output: {line.strip()[:200]}")

    def _readline(self) -> str:
        assert self._driver is not None and self._driver.stdout is not None
        return self._driver.stdout.readline()

    def setup(self, engine: str, i: int) -> Timed:
        return Parts(self._batch)

    def _batch(self) -> dict[str, list[float]]:
        assert self._driver is not None and self._driver.stdin is not None
        try:
            self._driver.stdin.write(f"{BATCH}\n")
            self._driver.stdin.flush()
        except BrokenPipeError:
            raise RowFailed("network_driver.py: exited") from None
        parts = parse_answer(self._readline())
        for part, samples in parts.items():
            self._samples[part].extend(samples)
        return parts

    def teardown(self, engine: str, i: int) -> None:
        pass

    def finish(self) -> None:
        try:
            self._stop_driver()
        finally:
            self._cleanup(self._tag)
        for line in goal_report(self._samples):
            print(line, flush=True)

    def _stop_driver(self) -> None:
        driver, self._driver = self._driver, None
        if driver is None:
            return
        assert driver.stdin is not None and driver.stdout is not None
        with contextlib.suppress(BrokenPipeError):
            driver.stdin.close()
        try:
            driver.wait(DRIVER_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            driver.kill()
            driver.wait()
            raise RowFailed("network_driver.py did not end; killed") from None
        finally:
            driver.stdout.close()
        if driver.returncode not in (0, 1):  # 1: its error was read already
            raise RowFailed(f"network_driver.py exited {driver.returncode}")


def make(ctx: Context) -> NetworkAttach:
    return NetworkAttach(ctx)
