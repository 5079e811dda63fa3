"""The volume endpoints of dockerd 20.10: create, list, inspect, remove and prune. Each runs the
blocking volume service in a worker thread; errors are the service's, worded as dockerd's."""

from __future__ import annotations

import json
from typing import Protocol

from dockyard.api.http import Request, Response, empty, json_response, run_blocking
from dockyard.api.router import Route
from dockyard.errors import InvalidArgument
from dockyard.services.volumes import VolumeService


class HasVolumes(Protocol):
    """The part of ``dockyard.services.Services`` these routes use."""

    @property
    def volumes(self) -> VolumeService: ...


def routes(services: HasVolumes) -> list[Route]:
    volumes = services.volumes

    async def create(request: Request) -> Response:
        body = await _json_body(request)
        return json_response(await run_blocking(volumes.create, body), 201)

    async def list_volumes(request: Request) -> Response:
        return json_response(await run_blocking(volumes.list_volumes, request.filters()))

    async def inspect(request: Request) -> Response:
        return json_response(await run_blocking(volumes.inspect, request.params["name"]))

    async def delete(request: Request) -> Response:
        await run_blocking(volumes.remove, request.params["name"], force=request.flag("force"))
        return empty(204)

    async def prune(request: Request) -> Response:
        return json_response(await run_blocking(volumes.prune, request.filters()))

    return [
        Route("POST", "/volumes/create", create),
        Route("POST", "/volumes/prune", prune),
        Route("GET", "/volumes", list_volumes),
        Route("GET", "/volumes/{name}", inspect),
        Route("DELETE", "/volumes/{name}", delete),
    ]


async def _json_body(request: Request) -> object:
    """dockerd's CheckForJSON and decoding: JSON only, and a body is required."""
    content_type = request.headers.get("content-type", "")
    data = await request.body.read()
    if (content_type or data) and content_type.split(";")[0].strip() != "application/json":
        raise InvalidArgument(
            f"Content-Type specified ({content_type}) must be 'application/json'")
    if not data.strip():
        raise InvalidArgument("got EOF while reading request body")
    try:
        return json.loads(data)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InvalidArgument(f"invalid json in request body: {exc}") from exc
