"""load: `docker load -i FILE` of a Debian slim image saved from dockerd, into each daemon.

The client is the docker CLI 28 for both engines (DOCKER_HOST set), so the daemon is what
differs: the row's own dockyardd, and dockerd.

Untimed, once (prepare): a copy of the cached slim rootfs tar gets a file with a fresh nonce (so
no daemon holds its layer already), is imported into dockerd as dockyard-bench/load:latest,
saved with `docker save -o <work>/load/archive.tar` (docker-archive format, ~127 MB), and
removed from dockerd again. Once per engine (check): the row's dockyardd starts.
Timed:    docker load -i <work>/load/archive.tar        (the image is absent before)
Untimed teardown: the loaded image is removed by its name (and its layer with it).
"""

from __future__ import annotations

import shutil
import uuid

from bench import daemons
from bench.inputs import append_nonce, debian_slim
from bench.rows import Command, Context, RowFailed, Timed

IMAGE = "dockyard-bench/load:latest"


class Load:
    name = "load"
    summary = "docker load -i FILE of a ~127 MB Debian slim archive saved from dockerd"
    default_runs = 10
    engines = ("dockyard", "docker")

    def __init__(self, ctx: Context) -> None:
        self._ctx = ctx
        self._work = ctx.work / self.name
        self._archive = self._work / "archive.tar"
        self._daemons = daemons.Endpoints(ctx, self.name)

    def prepare(self) -> None:
        base = debian_slim(self._ctx)
        self._work.mkdir(parents=True, exist_ok=True)
        source = self._work / "source.tar"
        shutil.copyfile(base, source)
        append_nonce(source, f"load-{uuid.uuid4()}")
        dockerd = daemons.dockerd()
        daemons.remove_image(dockerd, IMAGE)  # left over from an interrupted run
        try:
            daemons.docker(self._ctx, dockerd, "import", str(source), IMAGE)
            daemons.docker(self._ctx, dockerd, "save", "-o", str(self._archive), IMAGE)
        finally:
            daemons.remove_image(dockerd, IMAGE)
            source.unlink(missing_ok=True)

    def check(self, engine: str) -> None:
        endpoint = self._daemons.open(engine)
        daemons.remove_image(endpoint, IMAGE)

    def setup(self, engine: str, i: int) -> Timed:
        argv = (self._ctx.docker, "load", "-i", str(self._archive))
        return Command(argv, env=self._daemons[engine].env())

    def teardown(self, engine: str, i: int) -> None:
        if not daemons.remove_image(self._daemons[engine], IMAGE):
            raise RowFailed(f"`docker load` did not create {IMAGE} in {engine}")

    def finish(self) -> None:
        try:
            self._daemons.close()
        finally:
            shutil.rmtree(self._work, ignore_errors=True)


def make(ctx: Context) -> Load:
    return Load(ctx)
