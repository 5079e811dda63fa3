"""runtime_library: dockyard's warm library path against crun one-shot, back to back and
after 100 ms idle.

dockyard: one long-lived spawner (bench/runtime_driver.py, started by `check`) that warmed up
runtime.library.Runtime; each sample is one container's `run` + `wait` + `delete` of the
busybox `true` bundle of runtime_run, timed in that process. crun: `crun run` of the same
bundle, timed around the command. Two figures per engine, each BATCH samples per iteration:
    back-to-back  one untimed container, then BATCH containers one after the other
    idle-100ms    BATCH containers, each after 100 ms of sleep (untimed)
A kernel detail makes the two differ: the first move of a process into a cgroup through
`cgroup.procs` after an idle moment waits for an RCU grace period (5-15 ms here); crun pays
it on every idle start, dockyard starts its process in the cgroup (clone3 CLONE_INTO_CGROUP).
Issue 4's goal: the library no slower than crun.
"""

from __future__ import annotations

import json
import subprocess
import time
from collections.abc import Sequence
from pathlib import Path

from bench import runtimes
from bench.rows import Context, Parts, RowFailed, Timed

BATCH = 5
GAP_S = 0.1
PARTS = (("back-to-back", 0.0), ("idle-100ms", GAP_S))
DRIVER_TIMEOUT_S = 120.0


class RuntimeLibrary:
    name = "runtime_library"
    summary = f"warm library run+wait+delete vs crun one-shot, back to back and {GAP_S:g} s idle"
    default_runs = 20
    engines = ("dockyard", "crun")

    def __init__(self, ctx: Context) -> None:
        self._ctx = ctx
        self._work = ctx.work / self.name
        self._bundle = self._work / "bundle"
        self._driver: subprocess.Popen[str] | None = None
        self._serial = 0

    def prepare(self) -> None:
        runtimes.make_bundle(self._ctx, self._bundle)

    def check(self, engine: str) -> None:
        root = self._work / f"root-{engine}"
        runtimes.check(self._ctx, engine, root, self._bundle)
        if engine == "dockyard":
            self._start_driver(root)

    def _start_driver(self, root: Path) -> None:
        script = self._ctx.repo / "bench" / "runtime_driver.py"
        self._driver = subprocess.Popen(
            [str(self._ctx.python), str(script), str(root), str(self._bundle)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, cwd=self._ctx.repo,
        )  # fmt: skip
        self._read()  # "ready"

    def _read(self) -> str:
        assert self._driver is not None and self._driver.stdout is not None
        line = self._driver.stdout.readline()
        if not line or line.startswith("{"):
            error = json.loads(line).get("error", "") if line else "exited"
            raise RowFailed(f"runtime_driver.py: {error}")
        return line

    def setup(self, engine: str, i: int) -> Timed:
        if engine == "dockyard":
            return Parts(lambda: {part: self._library(gap) for part, gap in PARTS})
        return Parts(lambda: {part: self._crun(gap) for part, gap in PARTS})

    def _library(self, gap: float) -> Sequence[float]:
        assert self._driver is not None and self._driver.stdin is not None
        self._driver.stdin.write(f"{BATCH} {gap}\n")
        self._driver.stdin.flush()
        samples: list[float] = json.loads(self._read())
        return samples

    def _crun(self, gap: float) -> Sequence[float]:
        root = self._work / "root-crun"
        if not gap:
            runtimes.run(self._ctx, runtimes.run_args(self._ctx, "crun", root, self._bundle,
                                                      self._cid()))  # fmt: skip
        samples = []
        for _ in range(BATCH):
            if gap:
                time.sleep(gap)
            argv = runtimes.run_args(self._ctx, "crun", root, self._bundle, self._cid())
            start = time.perf_counter()
            proc = subprocess.run(argv, capture_output=True, check=False,
                                  timeout=runtimes.TIMEOUT_S)  # fmt: skip
            samples.append(time.perf_counter() - start)
            if proc.returncode != 0:
                runtimes.remove(self._ctx, "crun", root, argv[-1])
                tail = proc.stderr.decode(errors="replace").strip()[-300:]
                raise RowFailed(f"`crun run` exited {proc.returncode}: {tail}")
        return samples

    def _cid(self) -> str:
        self._serial += 1
        return f"dockyard-bench-crun-lib-{self._serial}"

    def teardown(self, engine: str, i: int) -> None:
        pass

    def finish(self) -> None:
        driver, self._driver = self._driver, None
        if driver is None:
            return
        assert driver.stdin is not None
        driver.stdin.close()
        try:
            driver.wait(DRIVER_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            driver.kill()
            driver.wait()
            raise RowFailed("runtime_driver.py did not end; killed") from None


def make(ctx: Context) -> RuntimeLibrary:
    return RuntimeLibrary(ctx)
