"""runtime_run: `run` of a busybox `true` bundle, dockyard-runtime against runc and crun.

The bundle is `runc spec`'s config.json with terminal false and args ["true"], its rootfs
busybox-static with the links sh and true (bench/runtimes.py), made once per run. Each
runtime has its own --root; `check` runs the bundle once, untimed.
Setup:    100 ms of sleep. A move of a process into a cgroup through `cgroup.procs` (runc's and
          crun's way) is cheaper within ~10 ms of another one (the kernel's lock is still
          warm), so without the pause a runtime would gain from the one timed before it.
Timed:    <runtime> --root ROOT run --bundle BUNDLE dockyard-bench-<engine>-<i>
          in the foreground: create, start, wait for `true`, delete (cgroup included)
Issue 4's goal: dockyard-runtime no slower than runc.
"""

from __future__ import annotations

import time

from bench import runtimes
from bench.rows import Command, Context, Timed

SETTLE_S = 0.1


class RuntimeRun:
    name = "runtime_run"
    summary = "OCI runtime `run` of a busybox `true` bundle (runc spec), one-shot"
    default_runs = 20
    engines = ("dockyard", "runc", "crun")

    def __init__(self, ctx: Context) -> None:
        self._ctx = ctx
        self._work = ctx.work / self.name
        self._bundle = self._work / "bundle"

    def prepare(self) -> None:
        runtimes.make_bundle(self._ctx, self._bundle)

    def check(self, engine: str) -> None:
        runtimes.check(self._ctx, engine, self._work / f"root-{engine}", self._bundle)

    def setup(self, engine: str, i: int) -> Timed:
        root = self._work / f"root-{engine}"
        time.sleep(SETTLE_S)
        return Command(runtimes.run_args(self._ctx, engine, root, self._bundle, _cid(engine, i)))

    def teardown(self, engine: str, i: int) -> None:
        runtimes.remove(self._ctx, engine, self._work / f"root-{engine}", _cid(engine, i))

    def finish(self) -> None:
        pass


def _cid(engine: str, i: int) -> str:
    return f"dockyard-bench-{engine}-{i}"


def make(ctx: Context) -> RuntimeRun:
    return RuntimeRun(ctx)
