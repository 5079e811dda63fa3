"""push_debian: `docker push` of the Debian slim image (one ~127 MB layer, sent gzip-compressed)
to an empty local docker-registry.

The client is the docker CLI 28 for both engines (DOCKER_HOST set), so the daemon is what
differs: the row's own dockyardd, and dockerd.

Untimed setup, each iteration: a docker-registry starts on empty storage (always the same port
of 127.0.0.1), and a copy of the cached slim tar with a fresh nonce file is imported into the
engine as 127.0.0.1:<port>/dockyard-bench/debian:latest, so neither engine holds a compressed
form of the layer yet: every push compresses it (dockyard keeps the gzip it makes, so without
the nonce only its first push would).
Timed:    docker push 127.0.0.1:<port>/dockyard-bench/debian:latest
Untimed teardown: the image is removed, the registry stopped and its storage deleted.
"""

from __future__ import annotations

import shutil
import uuid

from bench import daemons, registries
from bench.inputs import SLIM_TAR, append_nonce, debian_slim
from bench.rows import Command, Context, Timed


class PushDebian:
    name = "push_debian"
    summary = "docker push of the ~127 MB Debian slim image to an empty local docker-registry"
    default_runs = 5
    engines = ("dockyard", "docker")

    def __init__(self, ctx: Context) -> None:
        self._ctx = ctx
        self._work = ctx.work / self.name
        self._daemons = daemons.Endpoints(ctx, self.name)
        self._base = ctx.cache / SLIM_TAR
        self._port = registries.free_port()
        self._image = f"127.0.0.1:{self._port}/dockyard-bench/debian:latest"
        self._registry: registries.Registry | None = None

    def prepare(self) -> None:
        self._base = debian_slim(self._ctx)
        self._work.mkdir(parents=True, exist_ok=True)

    def check(self, engine: str) -> None:
        daemons.remove_image(self._daemons.open(engine), self._image)

    def setup(self, engine: str, i: int) -> Timed:
        endpoint = self._daemons[engine]
        tar = self._work / "debian.tar"
        shutil.copyfile(self._base, tar)
        append_nonce(tar, f"push-{uuid.uuid4()}")
        try:
            daemons.docker(self._ctx, endpoint, "import", str(tar), self._image)
        finally:
            tar.unlink(missing_ok=True)
        self._registry = registries.start(self._work / "registry", self._port)
        return Command((self._ctx.docker, "push", self._image), env=endpoint.env())

    def teardown(self, engine: str, i: int) -> None:
        try:
            daemons.remove_image(self._daemons[engine], self._image)
        finally:
            self._stop_registry()

    def finish(self) -> None:
        try:
            self._stop_registry()
            self._daemons.close()
        finally:
            shutil.rmtree(self._work, ignore_errors=True)

    def _stop_registry(self) -> None:
        if self._registry is not None:
            registries.stop(self._registry)
            shutil.rmtree(self._registry.root, ignore_errors=True)
            self._registry = None


def make(ctx: Context) -> PushDebian:
    return PushDebian(ctx)
