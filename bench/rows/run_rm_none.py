"""run_rm_none: one short-lived container, `run --rm --network none busybox true`.

Two figures, both timed per iteration:
    run_rm_none/docker-cli  the docker CLI 28 against each daemon (DOCKER_HOST): the daemon
                            is what differs (goal: dockyardd at least 6x faster than dockerd)
    run_rm_none/own-cli     each engine's own client: `.venv/bin/dockyard run ...` against
                            dockyardd, `docker run ...` against dockerd (goal: at least 4x)
For docker both figures are the same command, so each iteration runs it twice.

Untimed, once per engine (check): the row's dockyardd starts; the busybox rootfs tar (bench/
busybox.py) is imported into each daemon as dockyard-bench/busybox:latest; one warm-up run.
At the end the image is removed from dockerd by name and dockyardd is stopped.
"""

from __future__ import annotations

import subprocess
import time
from collections.abc import Mapping, Sequence

from bench import busybox, daemons
from bench.rows import Context, Parts, RowFailed, Timed

ARGS = ("run", "--rm", "--network", "none", busybox.IMAGE, "true")


class RunRmNone:
    name = "run_rm_none"
    summary = "run --rm --network none busybox true (docker CLI against each daemon; own CLI)"
    default_runs = 20
    engines = ("dockyard", "docker")

    def __init__(self, ctx: Context) -> None:
        self._ctx = ctx
        self._daemons = daemons.Endpoints(ctx, self.name)
        self._dockyard = ctx.python.parent / "dockyard"

    def prepare(self) -> None:
        busybox.rootfs_tar(self._ctx)
        busybox.compile_cli(self._ctx)

    def check(self, engine: str) -> None:
        if engine == "dockyard" and not self._dockyard.exists():
            raise RowFailed(f"no dockyard CLI at {self._dockyard}")
        endpoint = self._daemons.open(engine)
        busybox.import_into(self._ctx, engine, endpoint)
        for argv in self._commands(engine).values():
            self._time(argv, engine)  # warm-up: page cache, the spawner, the CLI's byte-code

    def _commands(self, engine: str) -> dict[str, tuple[str, ...]]:
        docker = (self._ctx.docker, *ARGS)
        own = (str(self._dockyard), *ARGS) if engine == "dockyard" else docker
        return {"docker-cli": docker, "own-cli": own}

    def _time(self, argv: Sequence[str], engine: str) -> float:
        env = {**self._ctx.env, **self._daemons[engine].env()}
        start = time.perf_counter()
        proc = subprocess.run(argv, env=env, capture_output=True, check=False,
                              timeout=daemons.CLI_TIMEOUT_S)
        elapsed = time.perf_counter() - start
        if proc.returncode != 0:
            tail = proc.stderr.decode(errors="replace").strip().splitlines()[-1:] or ["?"]
            raise RowFailed(f"`{' '.join(argv[:2])} ...` against {engine} exited "
                            f"{proc.returncode}: {tail[0]}")
        return elapsed

    def setup(self, engine: str, i: int) -> Timed:
        def run() -> Mapping[str, Sequence[float]]:
            return {part: [self._time(argv, engine)]
                    for part, argv in self._commands(engine).items()}

        return Parts(run)

    def teardown(self, engine: str, i: int) -> None:
        pass

    def finish(self) -> None:
        try:
            for engine in ("docker",):
                try:
                    endpoint = self._daemons[engine]
                except KeyError:
                    continue
                busybox.remove_image(self._ctx, engine, endpoint)
        finally:
            self._daemons.close()


def make(ctx: Context) -> RunRmNone:
    return RunRmNone(ctx)
