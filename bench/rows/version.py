"""version: `docker version` round trip, the docker CLI 28 against each daemon.

The client is the same for both engines (DOCKER_HOST set), so the daemon is what differs: the
CLI's start-up, `GET /_ping` (API version negotiation) and `GET /v1.41/version`, printed.
Once per engine (check): the row's dockyardd starts (empty data root).
Timed:    docker version
"""

from __future__ import annotations

from bench import daemons
from bench.rows import Command, Context, Timed


class Version:
    name = "version"
    summary = "docker version round trip (docker CLI 28 against each daemon)"
    default_runs = 20
    engines = ("dockyard", "docker")

    def __init__(self, ctx: Context) -> None:
        self._ctx = ctx
        self._daemons = daemons.Endpoints(ctx, self.name)

    def prepare(self) -> None:
        pass

    def check(self, engine: str) -> None:
        self._daemons.open(engine)

    def setup(self, engine: str, i: int) -> Timed:
        return Command((self._ctx.docker, "version"), env=self._daemons[engine].env())

    def teardown(self, engine: str, i: int) -> None:
        pass

    def finish(self) -> None:
        self._daemons.close()


def make(ctx: Context) -> Version:
    return Version(ctx)
