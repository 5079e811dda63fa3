"""``GET /images/get``, ``GET /images/{name}/get`` (save) and ``POST /images/load``.

Save resolves every name and checks every blob before answering, so a missing image is a plain
404; the archive then streams from a worker thread. Load reads the request body in one pass and
answers dockerd's JSON messages (``Loaded image: busybox:latest``).
"""

from __future__ import annotations

from collections.abc import AsyncIterator

from dockyard.api.http import (
    Request,
    Response,
    json_stream,
    run_blocking,
    stream_blocking,
)
from dockyard.api.router import Route
from dockyard.images.load import Loaded
from dockyard.oci.reference import parse_reference
from dockyard.services import Services


def routes(services: Services) -> list[Route]:
    archives = services.image_archives

    async def save_many(request: Request) -> Response:
        return await _save(request.args("names"))

    async def save_one(request: Request) -> Response:
        return await _save([request.params["name"]])

    async def _save(names: list[str]) -> Response:
        plan = await run_blocking(archives.plan_save, names)
        return Response(200, {"Content-Type": "application/x-tar"}, stream_blocking(plan.write))

    async def load(request: Request) -> Response:
        # quiet=1 only silences progress, which this load does not send: the names always go.
        loaded = await run_blocking(archives.load, request.body.sync_reader())
        return json_stream(_messages(loaded))

    return [
        Route("GET", "/images/get", save_many),
        Route("GET", "/images/{name:path}/get", save_one),
        Route("POST", "/images/load", load),
    ]


async def _messages(loaded: list[Loaded]) -> AsyncIterator[object]:
    for item in loaded:
        if item.replaced is not None and item.name is not None:
            familiar = parse_reference(item.name).familiar()
            yield {"stream": f"The image {familiar} already exists, renaming the old one with ID "
                             f"{item.replaced} to empty string\n"}
        yield {"stream": item.message + "\n"}
