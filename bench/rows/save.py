"""save: `docker save -o FILE` of the Debian slim image (~127 MB, one layer), from each daemon.

The client is the docker CLI 28 for both engines (DOCKER_HOST set), so the daemon is what
differs: the row's own dockyardd, and dockerd.

Untimed, once per engine (check): the row's dockyardd starts, and the cached slim rootfs tar is
imported into each daemon with `docker import` as dockyard-bench/slim:latest.
Timed:    docker save -o <work>/save/<engine>-<i>.tar dockyard-bench/slim:latest
Untimed teardown: the file is removed. At the end, the image is removed from dockerd by its name
and dockyardd is stopped.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from bench import daemons
from bench.inputs import SLIM_TAR, debian_slim
from bench.rows import Command, Context, Timed

IMAGE = "dockyard-bench/slim:latest"


class Save:
    name = "save"
    summary = "docker save -o FILE of the ~127 MB Debian slim image (docker CLI 28 as client)"
    default_runs = 10
    engines = ("dockyard", "docker")

    def __init__(self, ctx: Context) -> None:
        self._ctx = ctx
        self._work = ctx.work / self.name
        self._daemons = daemons.Endpoints(ctx, self.name)
        self._imported: list[daemons.Endpoint] = []
        self._tar = ctx.cache / SLIM_TAR

    def prepare(self) -> None:
        self._tar = debian_slim(self._ctx)
        self._work.mkdir(parents=True, exist_ok=True)

    def check(self, engine: str) -> None:
        endpoint = self._daemons.open(engine)
        daemons.remove_image(endpoint, IMAGE)  # left over from an interrupted run
        self._imported.append(endpoint)
        daemons.docker(self._ctx, endpoint, "import", str(self._tar), IMAGE)

    def setup(self, engine: str, i: int) -> Timed:
        endpoint = self._daemons[engine]
        argv = (self._ctx.docker, "save", "-o", str(self._file(engine, i)), IMAGE)
        return Command(argv, env=endpoint.env())

    def teardown(self, engine: str, i: int) -> None:
        self._file(engine, i).unlink(missing_ok=True)

    def finish(self) -> None:
        try:
            for endpoint in self._imported:
                if endpoint.engine == "docker":
                    daemons.remove_image(endpoint, IMAGE)
        finally:
            self._imported.clear()
            self._daemons.close()
            shutil.rmtree(self._work, ignore_errors=True)

    def _file(self, engine: str, i: int) -> Path:
        return self._work / f"{engine}-{i}.tar"


def make(ctx: Context) -> Save:
    return Save(ctx)
