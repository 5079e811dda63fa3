"""parallel_100: 100 `docker run -d busybox sleep 60` started at the same moment.

Timed: the 100 docker CLI 28 processes (DOCKER_HOST = each daemon) started together, until the
last one exits; every one must exit 0. Untimed teardown: one `rm -f` of the 100 containers, then
the daemon's open fds and threads (/proc/PID) are read until they are back at the baseline read
before the first iteration (at most 20 s), and printed. A dockyardd that does not return to its
baseline fails the row; dockerd's figures are printed for comparison only (Go keeps its threads).

Untimed, once per engine (check): the row's dockyardd starts, the busybox rootfs tar is imported
as dockyard-bench/busybox:latest, one container is run and removed (warm-up), then the baseline
is read. At the end labelled containers and the image are removed from dockerd.
"""

from __future__ import annotations

import subprocess
import time

from bench import busybox, daemons
from bench.rows import Context, RowFailed, Timed

COUNT = 100
LABEL = "dockyard-bench=parallel_100"
SETTLE_S = 20.0


class Parallel100:
    name = "parallel_100"
    summary = f"{COUNT} x docker run -d busybox sleep 60 started together (docker CLI 28)"
    default_runs = 3
    engines = ("dockyard", "docker")

    def __init__(self, ctx: Context) -> None:
        self._ctx = ctx
        self._daemons = daemons.Endpoints(ctx, self.name)
        self._baseline: dict[str, tuple[int, int]] = {}
        self._ids: dict[str, list[str]] = {}
        self._checked: list[str] = []

    def prepare(self) -> None:
        busybox.rootfs_tar(self._ctx)

    def _pid(self, engine: str) -> int:
        pid = busybox.daemon_pid(engine, self._daemons[engine])
        if pid is None:
            raise RowFailed(f"cannot find the {engine} daemon's pid")
        return pid

    def _counts(self, engine: str) -> tuple[int, int]:
        pid = self._pid(engine)
        return busybox.fds(pid), busybox.threads(pid)

    def check(self, engine: str) -> None:
        endpoint = self._daemons.open(engine)
        busybox.import_into(self._ctx, engine, endpoint)
        self._checked.append(engine)
        busybox.remove_labelled(self._ctx, engine, endpoint, LABEL)
        daemons.docker(self._ctx, endpoint, "run", "--rm", busybox.IMAGE, "true")
        self._baseline[engine] = self._settle(engine, None)
        fds, threads = self._baseline[engine]
        print(f"  {engine}: baseline {fds} fds, {threads} threads", flush=True)

    def _settle(self, engine: str, target: tuple[int, int] | None) -> tuple[int, int]:
        """The counts once they stop changing (or reach ``target``), within SETTLE_S."""
        deadline = time.monotonic() + SETTLE_S
        last = self._counts(engine)
        while time.monotonic() < deadline:
            time.sleep(0.5)
            now = self._counts(engine)
            if target is not None and now[0] <= target[0] and now[1] <= target[1]:
                return now
            if target is None and now == last:
                return now
            last = now
        return last

    def setup(self, engine: str, i: int) -> Timed:
        env = {**self._ctx.env, **self._daemons[engine].env()}
        argv = [self._ctx.docker, "run", "-d", "--label", LABEL, busybox.IMAGE, "sleep", "60"]

        def run() -> None:
            procs = [subprocess.Popen(argv, env=env, stdout=subprocess.PIPE,
                                      stderr=subprocess.PIPE) for _ in range(COUNT)]
            failures = []
            ids = self._ids.setdefault(engine, [])
            for proc in procs:
                out, err = proc.communicate(timeout=daemons.CLI_TIMEOUT_S)
                if proc.returncode != 0:
                    failures.append(err.decode(errors="replace").strip()[-200:])
                else:
                    ids.append(out.decode().strip())
            if failures:
                raise RowFailed(f"{len(failures)} of {COUNT} runs failed against {engine}: "
                                f"{failures[0]}")

        return run

    def teardown(self, engine: str, i: int) -> None:
        endpoint = self._daemons[engine]
        ids, self._ids[engine] = self._ids.get(engine, []), []
        if ids:
            daemons.docker(self._ctx, endpoint, "rm", "-f", *ids)
        busybox.remove_labelled(self._ctx, engine, endpoint, LABEL)
        base = self._baseline[engine]
        after = self._settle(engine, base)
        back = after[0] <= base[0] and after[1] <= base[1]
        print(f"  {engine}: after rm -f: {after[0]} fds, {after[1]} threads (baseline "
              f"{base[0]}, {base[1]}){'' if back else ' NOT BACK TO BASELINE'}", flush=True)
        if engine == "dockyard" and not back:
            raise RowFailed(f"dockyardd kept {after[0] - base[0]} fds and "
                            f"{after[1] - base[1]} threads after the containers went")

    def finish(self) -> None:
        try:
            for engine in self._checked:
                endpoint = self._daemons[engine]
                busybox.remove_labelled(self._ctx, engine, endpoint, LABEL)
                busybox.remove_image(self._ctx, engine, endpoint)
        finally:
            self._checked.clear()
            self._daemons.close()


def make(ctx: Context) -> Parallel100:
    return Parallel100(ctx)
