"""Two hundred distinct small images in each daemon, shared by the rows that list images.

Each image is a tiny rootfs tar (bench.inputs.tiny_rootfs, ~10 KB) imported through the Engine
API as dockyard-bench/images200:NNN, untimed and once per run: the rows get the set from the
run's pool, which removes it at the end of the run (from dockerd by name, one DELETE per tag;
dockyard's set lives in its own dockyardd, which is stopped and its roots removed).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager

from bench import daemons, engine_api
from bench.inputs import tiny_rootfs
from bench.rows import Context

COUNT = 200
REPO = "dockyard-bench/images200"


def names() -> list[str]:
    return [f"{REPO}:{i:03d}" for i in range(COUNT)]


def shared(ctx: Context, engine: str) -> daemons.Endpoint:
    """The engine's daemon holding the 200 images, made on first use in this run."""
    return ctx.pool.get(f"image_set/{engine}", lambda: _image_set(ctx, engine))


@contextmanager
def _image_set(ctx: Context, engine: str) -> Iterator[daemons.Endpoint]:
    if engine == "dockyard":
        with daemons.dockyardd(ctx, ctx.work / "images200-dockyardd") as endpoint:
            _add(endpoint)
            yield endpoint
        return
    endpoint = daemons.dockerd()
    try:
        _remove(endpoint)  # left over from an interrupted run
        _add(endpoint)
        yield endpoint
    finally:
        _remove(endpoint)


def _add(endpoint: daemons.Endpoint) -> None:
    start = time.monotonic()
    conn = engine_api.UnixConnection(endpoint.socket)
    try:
        for i, name in enumerate(names()):
            repo, tag = name.rsplit(":", 1)
            engine_api.import_rootfs(conn, tiny_rootfs(i), repo, tag)
    finally:
        conn.close()
    took = time.monotonic() - start
    print(f"  {endpoint.engine}: imported {COUNT} images in {took:.1f} s (untimed)", flush=True)


def _remove(endpoint: daemons.Endpoint) -> None:
    conn = engine_api.UnixConnection(endpoint.socket)
    try:
        for name in names():
            engine_api.remove_image(conn, name)
    finally:
        conn.close()
