"""images_200: the daemon's answer to `GET /images/json` with 200 images present.

Measured in-process: the harness opens a keep-alive connection to the daemon's unix socket
(untimed, with one warm-up request), then times each of REQUESTS requests from the first byte
sent to the last byte of the body read, so neither a CLI's start-up nor connection set-up is in
the figure. Every request is a sample: --runs 10 gives 10 x REQUESTS samples per engine. The
path is /v1.41/images/json, as the docker CLI 28 asks both daemons. Issue 3's goal: dockyardd
answers in under 20 ms.

The 200 images (bench/image_set.py) are imported once per run, untimed, into the dockyardd of
the run's image set and into dockerd. dockerd may hold other images besides them; the number
each daemon lists is printed when the row starts.
"""

from __future__ import annotations

from bench import engine_api, image_set
from bench.engine_api import UnixConnection
from bench.rows import Context, RowFailed, SelfTimed, Timed

REQUESTS = 20
PATH = f"{engine_api.API}/images/json"


class Images200:
    name = "images_200"
    summary = f"daemon answer to GET /images/json with 200 images (keep-alive, {REQUESTS}/run)"
    default_runs = 10
    engines = ("dockyard", "docker")

    def __init__(self, ctx: Context) -> None:
        self._ctx = ctx
        self._conns: dict[str, UnixConnection] = {}

    def prepare(self) -> None:
        pass

    def check(self, engine: str) -> None:
        endpoint = image_set.shared(self._ctx, engine)
        conn = UnixConnection(endpoint.socket)
        try:
            count, size = engine_api.image_count(conn)
        finally:
            conn.close()
        if count < image_set.COUNT:
            raise RowFailed(f"{engine} lists {count} images, fewer than {image_set.COUNT}")
        print(f"  {engine}: GET {PATH} lists {count} images ({size} bytes)", flush=True)

    def setup(self, engine: str, i: int) -> Timed:
        conn = UnixConnection(image_set.shared(self._ctx, engine).socket)
        self._conns[engine] = conn
        engine_api.timed_gets(conn, PATH, 1)  # connect and warm up, untimed
        return SelfTimed(lambda: engine_api.timed_gets(conn, PATH, REQUESTS))

    def teardown(self, engine: str, i: int) -> None:
        conn = self._conns.pop(engine, None)
        if conn is not None:
            conn.close()

    def finish(self) -> None:
        for conn in self._conns.values():
            conn.close()
        self._conns.clear()


def make(ctx: Context) -> Images200:
    return Images200(ctx)
