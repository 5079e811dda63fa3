"""density_50: 50 detached sleeping containers, started one after another, then removed at once.

Per iteration (each engine's CLI: the docker CLI 28 against dockyardd and dockerd, podman):
    density_50/start   50 x `run -d --label dockyard-bench=density_50 busybox sleep 3600`,
                       one after another, total (goal: dockyardd at least 8x faster)
    density_50/rm      one `rm -f` of the 50 IDs (goal: under 1 s; dockerd about 4.4 s); podman
                       gets `-t 0`, else it waits 10 s for each `sleep` to ignore SIGTERM
Between the two, untimed, memory per idle container is read from /proc:
    monitor   mean PSS (smaps_rollup) of the per-container processes: dockyard-monitor,
              dockerd's containerd-shim-runc-v2, podman's conmon
    daemon    RSS growth of the daemon per container, from before the first start to after
              the 50th (dockyardd + its spawner; dockerd + containerd; podman has none)
The memory figures are printed after each iteration and summarised when the row ends.

Untimed, once per engine (check): the row's dockyardd starts; the busybox rootfs tar is imported
as dockyard-bench/busybox:latest; containers left with the label are removed. At the end,
labelled containers and the image are removed from dockerd and podman, and dockyardd stops.
"""

from __future__ import annotations

import statistics
import subprocess
import time
from collections.abc import Mapping, Sequence

from bench import busybox, daemons
from bench.rows import Context, Parts, RowFailed, Timed

COUNT = 50
LABEL = "dockyard-bench=density_50"
MIB = 1024.0


class Density50:
    name = "density_50"
    summary = f"{COUNT} x run -d busybox sleep 3600 one after another, then one rm -f of all"
    default_runs = 3
    engines = ("dockyard", "docker", "podman")

    def __init__(self, ctx: Context) -> None:
        self._ctx = ctx
        self._daemons = daemons.Endpoints(ctx, self.name)
        self._checked: list[str] = []
        self._memory: dict[str, list[tuple[float, float]]] = {}

    def prepare(self) -> None:
        busybox.rootfs_tar(self._ctx)

    def _endpoint(self, engine: str) -> daemons.Endpoint | None:
        return None if engine == "podman" else self._daemons[engine]

    def check(self, engine: str) -> None:
        if engine != "podman":
            self._daemons.open(engine)
        busybox.import_into(self._ctx, engine, self._endpoint(engine))
        busybox.remove_labelled(self._ctx, engine, self._endpoint(engine), LABEL)
        self._checked.append(engine)

    def _cli(self, engine: str, *args: str) -> str:
        proc = busybox.run_cli(self._ctx, engine, self._endpoint(engine), *args)
        if proc.returncode != 0:
            tail = proc.stderr.strip().splitlines()[-1:] or [f"exit {proc.returncode}"]
            raise RowFailed(f"`{busybox.client(self._ctx, engine)} {args[0]}` against {engine}: "
                            f"{tail[0]}")
        return proc.stdout

    def setup(self, engine: str, i: int) -> Timed:
        def run() -> Mapping[str, Sequence[float]]:
            before = self._daemon_rss(engine)
            ids: list[str] = []
            try:
                start = time.perf_counter()
                for _ in range(COUNT):
                    ids.append(self._cli(engine, "run", "-d", "--label", LABEL, busybox.IMAGE,
                                         "sleep", "3600").strip())
                started = time.perf_counter() - start
                self._measure(engine, ids, before)
                start = time.perf_counter()
                now = ("-t", "0") if engine == "podman" else ()
                self._cli(engine, "rm", "-f", *now, *ids)
                removed = time.perf_counter() - start
                ids = []
            finally:
                if ids:
                    busybox.run_cli(self._ctx, engine, self._endpoint(engine), "rm", "-f", *ids)
            return {"start": [started], "rm": [removed]}

        return Parts(run)

    def _daemon_rss(self, engine: str) -> int:
        """KiB of the engine's long-lived processes (0 for podman, which has none)."""
        if engine == "podman":
            return 0
        endpoint = self._endpoint(engine)
        pids = [p for p in (busybox.daemon_pid(engine, endpoint),) if p is not None]
        root = str(endpoint.socket.parent) if endpoint is not None else ""
        for pid, argv in busybox.processes():
            spawner = engine == "dockyard" and "dockyard.containers.spawner" in argv and \
                any(root in a for a in argv)
            if spawner or (engine == "docker" and argv[0].endswith("/containerd")):
                pids.append(pid)
        return sum(busybox.rss_kib(p) for p in pids)

    def _measure(self, engine: str, ids: list[str], before: int) -> None:
        time.sleep(1.0)  # let the last container settle into its idle state
        pids = busybox.monitors(engine, ids)
        pss = [busybox.pss_kib(p) for p in pids]
        mean = statistics.mean(pss) / MIB if pss else 0.0
        growth = (self._daemon_rss(engine) - before) / COUNT / MIB
        self._memory.setdefault(engine, []).append((mean, growth))
        print(f"  {engine}: {len(pids)} monitors, mean PSS {mean:.2f} MiB; daemon RSS "
              f"{growth:+.2f} MiB per container", flush=True)

    def teardown(self, engine: str, i: int) -> None:
        pass

    def finish(self) -> None:
        try:
            self._summary()
            for engine in self._checked:
                endpoint = self._endpoint(engine)
                busybox.remove_labelled(self._ctx, engine, endpoint, LABEL)
                busybox.remove_image(self._ctx, engine, endpoint)
        except (OSError, subprocess.SubprocessError) as exc:
            raise RowFailed(f"cleaning up: {exc}") from exc
        finally:
            self._checked.clear()
            self._daemons.close()

    def _summary(self) -> None:
        names = {"dockyard": "dockyard-monitor", "docker": "containerd-shim", "podman": "conmon"}
        print(f"  memory per idle container (median of {len(next(iter(self._memory.values()), []))}"
              " iterations):", flush=True)
        for engine, figures in self._memory.items():
            pss = statistics.median(f[0] for f in figures)
            growth = statistics.median(f[1] for f in figures)
            daemon = "n/a (no daemon)" if engine == "podman" else f"{growth:+.2f} MiB"
            print(f"    {engine:<9} {names[engine]:<17} PSS {pss:.2f} MiB   daemon RSS growth "
                  f"{daemon}", flush=True)


def make(ctx: Context) -> Density50:
    return Density50(ctx)
