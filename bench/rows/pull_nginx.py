"""pull_nginx: `docker pull` of an nginx image (Debian slim + nginx-light, two layers of about
80 MB compressed) from a local docker-registry into an empty store.

The client is the docker CLI 28 for both engines (DOCKER_HOST set), so the daemon is what
differs: the row's own dockyardd, and dockerd.

Untimed, once (prepare): the image is built in dockerd and pushed into a registry storage kept
under the cache (bench/registries.py; only the first run builds it, with network), and a
docker-registry starts on 127.0.0.1 over that storage. Once per engine (check): the row's
dockyardd starts.
Timed:    docker pull 127.0.0.1:<port>/dockyard-bench/nginx:latest
Untimed teardown: the image is removed by its name (with its layers), so every pull starts from
a store without it; the row fails if the pull did not make the image.
"""

from __future__ import annotations

from contextlib import ExitStack

from bench import daemons, registries
from bench.rows import Command, Context, RowFailed, Timed


class PullNginx:
    name = "pull_nginx"
    summary = "docker pull of a ~80 MB nginx image from a local docker-registry, empty store"
    default_runs = 5
    engines = ("dockyard", "docker")

    def __init__(self, ctx: Context) -> None:
        self._ctx = ctx
        self._daemons = daemons.Endpoints(ctx, self.name)
        self._stack = ExitStack()
        self._image = ""

    def prepare(self) -> None:
        storage = registries.nginx_storage(self._ctx)
        registry = self._stack.enter_context(registries.running(storage))
        self._image = f"{registry.address}/{registries.NGINX_REPOSITORY}:latest"

    def check(self, engine: str) -> None:
        endpoint = self._daemons.open(engine)
        daemons.remove_image(endpoint, self._image)

    def setup(self, engine: str, i: int) -> Timed:
        return Command((self._ctx.docker, "pull", self._image),
                       env=self._daemons[engine].env())

    def teardown(self, engine: str, i: int) -> None:
        if not daemons.remove_image(self._daemons[engine], self._image):
            raise RowFailed(f"`docker pull` did not create {self._image} in {engine}")

    def finish(self) -> None:
        try:
            self._daemons.close()
        finally:
            self._stack.close()


def make(ctx: Context) -> PullNginx:
    return PullNginx(ctx)
