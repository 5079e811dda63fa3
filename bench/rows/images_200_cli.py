"""images_200_cli: `docker images` end to end with 200 images present, from each daemon.

The client is the docker CLI 28 for both engines (DOCKER_HOST set), so the figure is the CLI's
start-up, its version negotiation (/_ping), `GET /images/json` and the table it prints. The
images are those of images_200 (bench/image_set.py), imported once per run, untimed.
Timed:    docker images
"""

from __future__ import annotations

from bench import image_set
from bench.rows import Command, Context, Timed


class Images200Cli:
    name = "images_200_cli"
    summary = "docker images with 200 images present (docker CLI 28 as client)"
    default_runs = 10
    engines = ("dockyard", "docker")

    def __init__(self, ctx: Context) -> None:
        self._ctx = ctx

    def prepare(self) -> None:
        pass

    def check(self, engine: str) -> None:
        image_set.shared(self._ctx, engine)

    def setup(self, engine: str, i: int) -> Timed:
        endpoint = image_set.shared(self._ctx, engine)
        return Command((self._ctx.docker, "images"), env=endpoint.env())

    def teardown(self, engine: str, i: int) -> None:
        pass

    def finish(self) -> None:
        pass


def make(ctx: Context) -> Images200Cli:
    return Images200Cli(ctx)
