"""The benchmark harness: `bash bench/run [ROW...] [--runs N]` (see bench/README.md).

For each chosen row it times every available engine N times, interleaving the engines
iteration by iteration (the order rotates so none is always first), prints a table of medians
with min-max and the ratio to dockyard (a row timed in parts has a line per part), and writes
bench/results/<UTC timestamp>.json and appends to bench/results/summary.tsv. Setup and
teardown of each iteration are not timed; a `sync` runs after setup so that writeback of the
setup's files does not land in the timed part.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import shlex
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path

from bench import engines, rows, stats
from bench.rows import Command, Context, Parts, Row, RowFailed, SelfTimed, Timed

REPO = Path(__file__).resolve().parent.parent
STATE = Path("/tmp/dockyard-bench")  # written by bench/setup.sh
WORK = Path("/var/tmp/dockyard-bench")
CACHE = Path("/var/cache/dockyard-bench")
TIMED_TIMEOUT_S = 1800.0


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="bench/run", description=__doc__.split("\n\n")[0])
    parser.add_argument("rows", nargs="*", metavar="ROW", help="rows to run (default: all)")
    parser.add_argument("--runs", type=int, help="samples per engine (default: each row's own)")
    parser.add_argument(
        "--engines",
        default=",".join(rows.ENGINES),
        help="comma-separated engines (default: %(default)s)",
    )
    parser.add_argument(
        "--timed-sync",
        action="store_true",
        help="include a sync(2) in the timed part, so writeback counts for all",
    )
    parser.add_argument(
        "--results",
        type=Path,
        default=REPO / "bench" / "results",
        help="directory for <timestamp>.json and summary.tsv",
    )
    parser.add_argument("--list", action="store_true", help="list the rows and exit")
    args = parser.parse_args(argv)
    if args.runs is not None and args.runs < 1:
        parser.error("--runs must be at least 1")
    unknown = sorted(set(args.rows) - set(rows.names()))
    if unknown:
        parser.error(f"unknown row(s) {', '.join(unknown)}; rows: {', '.join(rows.names())}")
    args.engines = [e.strip() for e in args.engines.split(",") if e.strip()]
    bad = sorted(set(args.engines) - set(rows.ENGINES))
    if bad or not args.engines:
        parser.error(f"unknown engine(s) {', '.join(bad)}; engines: {', '.join(rows.ENGINES)}")
    return args


def make_context(run: str) -> Context:
    env = dict(os.environ)
    conf = STATE / "containers.conf"
    if "CONTAINERS_CONF" not in env and conf.exists():
        env["CONTAINERS_CONF"] = str(conf)  # podman's lowered ulimits, see bench/setup.sh
    default_docker = "/usr/local/bin/docker" if Path("/usr/local/bin/docker").exists() else "docker"
    return Context(
        repo=REPO,
        python=Path(env.get("BENCH_PYTHON", REPO / ".venv" / "bin" / "python")),
        work=WORK / f"run-{run}",
        cache=CACHE,
        docker=env.get("BENCH_DOCKER", default_docker),
        podman=env.get("BENCH_PODMAN", "podman"),
        env=env,
    )


def _shown(argv: Sequence[str]) -> str:
    return shlex.join(argv[:4]) + (" ..." if len(argv) > 4 else "")


def _failure(argv: Sequence[str], proc: subprocess.CompletedProcess[bytes]) -> RowFailed:
    lines = [ln for ln in proc.stderr.decode(errors="replace").splitlines() if ln.strip()]
    tail = " | ".join(lines[-3:])[-400:] or "no output on stderr"
    return RowFailed(f"`{_shown(argv)}` exited {proc.returncode}: {tail}")


def measure(timed: Timed, env: dict[str, str], *, timed_sync: bool) -> dict[str, list[float]]:
    """Samples (seconds) of the timed part, by part. Under the one part "": perf_counter around
    the subprocess or the callable, or the samples a SelfTimed part took itself (there is no sync
    then). For Parts, the samples it took itself of each of its parts (no sync either)."""
    if isinstance(timed, Parts):
        parts = {part: list(samples) for part, samples in timed.run().items()}
        if not parts or not all(parts.values()):
            raise RowFailed(f"the self-timed parts returned no samples: {sorted(parts)}")
        return parts
    return {"": _measure_one(timed, env, timed_sync=timed_sync)}


def _measure_one(
    timed: Command | SelfTimed | Callable[[], None], env: dict[str, str], *, timed_sync: bool
) -> list[float]:
    if isinstance(timed, SelfTimed):
        samples = list(timed.run())
        if not samples:
            raise RowFailed("the self-timed part returned no samples")
        return samples
    if isinstance(timed, Command):
        start = time.perf_counter()
        try:
            proc = subprocess.run(
                timed.argv,
                capture_output=True,
                env={**env, **timed.env},
                check=False,
                timeout=TIMED_TIMEOUT_S,
            )
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise RowFailed(f"`{_shown(timed.argv)}`: {exc}") from exc
        if timed_sync:
            os.sync()
        elapsed = time.perf_counter() - start
        if proc.returncode != 0:
            raise _failure(timed.argv, proc)
        return [elapsed]
    call: Callable[[], None] = timed
    start = time.perf_counter()
    call()
    if timed_sync:
        os.sync()
    return [time.perf_counter() - start]


def iteration(
    row: Row, engine: str, i: int, env: dict[str, str], *, timed_sync: bool
) -> dict[str, list[float]]:
    timed = row.setup(engine, i)
    try:
        os.sync()
        samples = measure(timed, env, timed_sync=timed_sync)
    except BaseException:
        with contextlib.suppress(RowFailed):
            row.teardown(engine, i)
        raise
    row.teardown(engine, i)
    return samples


def shown_samples(samples: Sequence[float]) -> str:
    """One sample as a duration; several as their median, count and range."""
    if len(samples) == 1:
        return stats.format_duration(samples[0])
    s = stats.summarize(samples)
    low_high = stats.format_range(s.min, s.max, s.median)
    return f"{stats.format_duration(s.median)} (median of {s.n}, {low_high})"


def shown_parts(parts: dict[str, list[float]]) -> str:
    """The samples of one iteration: those of the one part "", or each part's after its name."""
    if list(parts) == [""]:
        return shown_samples(parts[""])
    return "; ".join(f"{part} {shown_samples(samples)}" for part, samples in parts.items())


def figure(row: str, part: str) -> str:
    """The name of a part's line in the table: the row's own, or `<row>/<part>`."""
    return f"{row}/{part}" if part else row


def run_row(
    row: Row, runs: int, live: list[str], ctx: Context, *, timed_sync: bool
) -> dict[tuple[str, str], stats.Result]:
    """Results of the engines in `live` (the available ones) for one row, by (figure, engine):
    one figure, the row's name, or one per part that the row timed (see `figure`)."""
    samples: dict[str, dict[str, list[float]]] = {e: {} for e in live}  # engine, part
    failed: dict[str, str] = {}
    env = dict(ctx.env)
    try:
        row.prepare()
        for engine in live:
            try:
                row.check(engine)
            except RowFailed as exc:
                failed[engine] = str(exc)
                print(f"  {engine}: FAILED: {exc}", flush=True)
        for i in range(runs):
            going = [e for e in live if e not in failed]
            if not going:
                break
            k = i % len(going)
            for engine in going[k:] + going[:k]:
                try:
                    got = iteration(row, engine, i, env, timed_sync=timed_sync)
                except RowFailed as exc:
                    failed[engine] = str(exc)
                    print(f"  {engine} #{i + 1}: FAILED: {exc}", flush=True)
                    continue
                for part, taken in got.items():
                    samples[engine].setdefault(part, []).extend(taken)
                print(f"  {engine} #{i + 1}: {shown_parts(got)}", flush=True)
    except RowFailed as exc:  # prepare failed: no engine can run the row
        failed.update({e: str(exc) for e in live if e not in failed})
        print(f"  FAILED: {exc}", flush=True)
    finally:
        try:
            row.finish()
        except RowFailed as exc:
            print(f"  cleanup: {exc}", flush=True)
    parts = list(dict.fromkeys(part for e in live for part in samples[e])) or [""]
    return {
        (figure(row.name, part), e): stats.Result(
            figure(row.name, part), e, stats.FAILED, tuple(samples[e].get(part, ())), failed[e]
        )
        if e in failed
        else stats.Result(figure(row.name, part), e, stats.OK, tuple(samples[e].get(part, ())))
        for part in parts
        for e in live
    }


def run_all(args: argparse.Namespace, ctx: Context) -> tuple[list[stats.Result], dict[str, str]]:
    loaded = [rows.instantiate(name, ctx) for name in args.rows or rows.names()]
    needed = {e for row in loaded for e in row.engines} & set(args.engines)
    probes = {e: engines.probe(e, ctx) for e in rows.ENGINES if e in needed}
    versions = {}
    for engine, probe in probes.items():
        versions[engine] = probe.version or f"unavailable: {probe.reason}"
        print(
            f"{engine}: {probe.version}"
            if probe.available
            else f"{engine}: SKIPPED: {probe.reason}"
        )
    results: list[stats.Result] = []
    ctx.work.mkdir(parents=True, exist_ok=True)
    try:
        for row in loaded:
            runs = args.runs or row.default_runs
            print(f"== {row.name}: {row.summary}; {runs} runs", flush=True)
            chosen = [e for e in row.engines if e in probes]
            live = [e for e in chosen if probes[e].available]
            done = run_row(row, runs, live, ctx, timed_sync=args.timed_sync)
            for name in dict.fromkeys(name for name, _ in done) or [row.name]:
                for engine in chosen:
                    results.append(
                        done.get((name, engine))
                        or stats.Result(name, engine, stats.SKIPPED, note=probes[engine].reason)
                    )
    finally:
        try:
            ctx.pool.close()  # shared daemons and images, e.g. those of images_200
        except RowFailed as exc:
            print(f"bench: cleaning up shared resources: {exc}", file=sys.stderr)
        finally:
            shutil.rmtree(ctx.work, ignore_errors=True)
    return results, versions


def write_results(
    args: argparse.Namespace, run: str, meta: dict[str, object], results: list[stats.Result]
) -> Path:
    args.results.mkdir(parents=True, exist_ok=True)
    records = []
    for r in results:
        s = r.summary
        records.append(
            {
                "row": r.row,
                "engine": r.engine,
                "status": r.status,
                "note": r.note,
                "samples_s": list(r.samples),
                "median_s": s and s.median,
                "min_s": s and s.min,
                "max_s": s and s.max,
                "n": s.n if s else 0,
                "ratio": stats.ratio_of(r, results),
            }
        )
    path: Path = args.results / f"{run}.json"
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps({**meta, "results": records}, indent=2) + "\n")
    tmp.rename(path)
    tsv = args.results / "summary.tsv"
    new = not tsv.exists()
    with tsv.open("a") as f:
        if new:
            f.write("\t".join(stats.TSV_HEADER) + "\n")
        flags = "timed-sync" if args.timed_sync else ""
        f.writelines(line + "\n" for line in stats.tsv_lines(run, results, flags))
    return path


def _exit_on_sigterm(signum: int, _frame: object) -> None:
    sys.exit(128 + signum)  # unwinds through every teardown and finish, like Ctrl-C


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    signal.signal(signal.SIGTERM, _exit_on_sigterm)
    if args.list:
        for name in rows.names():
            row = rows.instantiate(name, make_context("list"))
            print(f"{name}: {row.summary} (default {row.default_runs} runs)")
        return 0
    started = datetime.now(UTC)
    run = started.strftime("%Y%m%dT%H%M%SZ")
    ctx = make_context(run)
    load_start = os.getloadavg()
    results, versions = run_all(args, ctx)
    meta: dict[str, object] = {
        "run": run,
        "started_utc": started.isoformat(timespec="seconds"),
        "finished_utc": datetime.now(UTC).isoformat(timespec="seconds"),
        "argv": sys.argv[1:] if argv is None else list(argv),
        "timed_sync": args.timed_sync,
        "host": {
            "kernel": platform.release(),
            "cpus": os.cpu_count(),
            "loadavg_start": [round(x, 2) for x in load_start],
            "loadavg_end": [round(x, 2) for x in os.getloadavg()],
        },
        "engines": versions,
    }
    print()
    print(stats.render_table(results))
    path = write_results(args, run, meta, results)
    print(f"\nresults: {path} (and {path.parent / 'summary.tsv'})")
    return 1 if any(r.status == stats.FAILED for r in results) else 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt:
        print("bench: interrupted; cleaned up, no results written", file=sys.stderr)
        sys.exit(130)
