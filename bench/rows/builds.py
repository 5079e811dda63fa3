"""build_<context>_<kind>: `docker build` of bench/contexts/<context> through the classic
builder (DOCKER_BUILDKIT=0, POST /build; the CLI 28 prints that this builder is deprecated).

The client is the docker CLI 28 for both engines (DOCKER_HOST set), so the daemon is what
differs: the row's own dockyardd, and dockerd. Contexts: nginx-site (Debian slim + nginx-light,
a config and a site COPY) and hello-multistage (gcc in a Debian stage, the static binary copied
onto busybox). Kinds:

    cold    --no-cache: every step runs, apt downloads over the host network
    cached  the same build again, nothing changed
    edit    a file that a late COPY reads changes before every build (site/index.html; hello.c,
            which runs gcc again)

Untimed, once per engine (check): the row's dockyardd starts; debian:bookworm-slim (the cached
slim tar) and busybox:latest (a busybox-static rootfs tar) are imported with `docker import`;
cached and edit build once to fill the cache.
Timed:    DOCKER_BUILDKIT=0 docker build --network=host [--no-cache] -t dockyard-bench/<ctx> CTX
Untimed teardown: a cold build's image (and dockerd's intermediate images) is removed. At the
end, what the builds made and the bases are removed from dockerd by name (the intermediate
images by ID), and dockyardd is stopped.
"""

from __future__ import annotations

import shutil
from contextlib import ExitStack
from pathlib import Path

from bench import builds, daemons, engine_api
from bench.rows import Command, Context, RowFailed, Timed

KINDS = {"cold": 3, "cached": 10, "edit": 10}  # kind: default runs
ROWS = tuple(f"build_{context}_{kind}" for context in builds.NAMES for kind in KINDS)
SUMMARIES = {
    "cold": "--no-cache, every step runs",
    "cached": "again with nothing changed",
    "edit": "after a change to a late-copied file",
}


class Build:
    engines = ("dockyard", "docker")

    def __init__(self, ctx: Context, name: str) -> None:
        _, self._context, self._kind = name.split("_")
        self.name = name
        self.summary = f"docker build {self._context} (classic builder), {SUMMARIES[self._kind]}"
        self.default_runs = KINDS[self._kind]
        self._ctx = ctx
        self._work = ctx.work / name
        # a shorter directory than <row>-dockyardd: the socket's path must fit in sun_path
        self._daemons = daemons.Endpoints(ctx, name, f"{self._context}-{self._kind}-dockyardd")
        self._stack = ExitStack()
        self._base_images: tuple[builds.Base, ...] = ()
        self._bases: dict[str, frozenset[str]] = {}  # engine: IDs of its base images
        self._last: dict[str, str] = {}  # engine: ID of the image its last build made
        self._tag = builds.image_name(self._context)

    def prepare(self) -> None:
        self._work.mkdir(parents=True, exist_ok=True)
        self._base_images = builds.bases(self._ctx, self._work)
        builds.copy_context(self._context, self._context_dir)

    def check(self, engine: str) -> None:
        endpoint = self._daemons.open(engine)
        daemons.remove_image(endpoint, self._tag)  # left over from an interrupted run
        imported = builds.imported(self._ctx, endpoint, self._base_images)
        self._bases[engine] = self._stack.enter_context(imported)
        if self._kind != "cold":
            builds.build(self._ctx, endpoint, self._context_dir, self._tag)
            self._last[engine] = daemons.image_id(endpoint, self._tag) or ""

    def setup(self, engine: str, i: int) -> Timed:
        if self._kind == "edit":
            builds.edit(self._context_dir, self._context)
        argv = builds.build_argv(
            self._ctx, self._context_dir, self._tag, no_cache=self._kind == "cold"
        )
        return Command(argv, env={**builds.BUILD_ENV, **self._daemons[engine].env()})

    def teardown(self, engine: str, i: int) -> None:
        """Check what the build made: an image (cold), the same image again (cached), a new
        one each time (edit); remove a cold build's image, and dockerd's intermediate ones."""
        endpoint = self._daemons[engine]
        conn = engine_api.UnixConnection(endpoint.socket)
        try:
            image = engine_api.image_id(conn, self._tag)
            if image is None:
                raise RowFailed(f"`docker build` did not tag {self._tag} in {engine}")
            if self._kind == "cached" and image != self._last[engine]:
                raise RowFailed(f"the cached build made a new image {image} in {engine}")
            if self._kind == "edit" and image == self._last[engine]:
                raise RowFailed(f"the edit build made no new image in {engine}")
            self._last[engine] = image
            if self._kind == "cold":
                builds.remove_built(conn, self._bases[engine])
                engine_api.remove_image(conn, self._tag)
        finally:
            conn.close()

    def finish(self) -> None:
        try:
            for engine in self._bases:
                daemons.remove_image(self._daemons[engine], self._tag)
            self._stack.close()  # what else the builds made, then the bases
        finally:
            self._bases.clear()
            self._daemons.close()
            shutil.rmtree(self._work, ignore_errors=True)

    @property
    def _context_dir(self) -> Path:
        return self._work / "context"


def make(ctx: Context, name: str) -> Build:
    if name not in ROWS:
        raise KeyError(name)
    return Build(ctx, name)
