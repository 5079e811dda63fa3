"""version_cli: each engine's own client against its own daemon, `version` round trip.

    dockyard  dockyard version   (.venv/bin/dockyard, DOCKYARD_HOST = the row's dockyardd)
    docker    docker version     (the docker CLI 28, DOCKER_HOST = dockerd)

Unlike `version`, the client differs too: this is what a user of each tool waits for, the
Python CLI's start-up (issue 3: it imports no asyncio or HTTP server code) against the Go CLI's.
Once per engine (check): the row's dockyardd starts (empty data root).
"""

from __future__ import annotations

from pathlib import Path

from bench import daemons
from bench.rows import Command, Context, RowFailed, Timed


class VersionCli:
    name = "version_cli"
    summary = "dockyard version against dockyardd vs docker version against dockerd"
    default_runs = 20
    engines = ("dockyard", "docker")

    def __init__(self, ctx: Context) -> None:
        self._ctx = ctx
        self._daemons = daemons.Endpoints(ctx, self.name)
        self._dockyard = ctx.python.parent / "dockyard"

    def prepare(self) -> None:
        pass

    def check(self, engine: str) -> None:
        if engine == "dockyard" and not self._dockyard.exists():
            raise RowFailed(f"no dockyard CLI at {self._dockyard}")
        self._daemons.open(engine)

    def setup(self, engine: str, i: int) -> Timed:
        client = self._dockyard if engine == "dockyard" else Path(self._ctx.docker)
        return Command((str(client), "version"), env=self._daemons[engine].env())

    def teardown(self, engine: str, i: int) -> None:
        pass

    def finish(self) -> None:
        self._daemons.close()


def make(ctx: Context) -> VersionCli:
    return VersionCli(ctx)
