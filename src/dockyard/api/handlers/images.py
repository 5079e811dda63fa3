"""The image endpoints of dockerd 20.10: list, inspect, history, tag, delete, prune and import
(``POST /images/create?fromSrc=-``). Every handler runs the blocking image service in a worker
thread; errors are the service's, worded as dockerd's."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Protocol

from dockyard.api.http import Request, Response, empty, json_response, run_blocking
from dockyard.api.router import Route
from dockyard.errors import InvalidArgument, Unsupported
from dockyard.services.images import ImageService


class HasImages(Protocol):
    """The part of ``dockyard.services.Services`` these routes use."""

    @property
    def images(self) -> ImageService: ...


def routes(services: HasImages,
           pull: Callable[[Request], Awaitable[Response]] | None = None) -> list[Route]:
    """The image routes; ``pull`` answers ``POST /images/create?fromImage=`` (the
    distribution handlers' pull), refused when not given."""
    images = services.images

    async def list_images(request: Request) -> Response:
        filters = request.filters()
        legacy = request.arg("filter")
        if legacy and request.version_before("1.28"):
            filters.setdefault("reference", []).append(legacy)
        found = await run_blocking(
            images.list_images, all_images=request.flag("all"), filters=filters
        )
        return json_response(found)

    async def inspect(request: Request) -> Response:
        return json_response(await run_blocking(images.inspect, request.params["name"]))

    async def history(request: Request) -> Response:
        return json_response(await run_blocking(images.history, request.params["name"]))

    async def tag(request: Request) -> Response:
        await run_blocking(
            images.tag, request.params["name"], request.arg("repo", "") or "",
            request.arg("tag", "") or "",
        )
        return empty(201)

    async def delete(request: Request) -> Response:
        deleted = await run_blocking(
            images.delete, request.params["name"], force=request.flag("force"),
            prune=not request.flag("noprune"),
        )
        return json_response(deleted)

    async def prune(request: Request) -> Response:
        return json_response(await run_blocking(images.prune, request.filters()))

    async def create(request: Request) -> Response:
        if request.arg("fromImage"):
            if pull is None:
                raise Unsupported("pulling images is not supported: no registry client")
            return await pull(request)
        source = request.arg("fromSrc", "") or ""
        if source != "-":
            raise InvalidArgument(
                f"import from {source!r} is not supported: send the tar as the body (fromSrc=-)"
            )
        platform = "" if request.version_before("1.32") else request.arg("platform", "") or ""
        image_id = await run_blocking(
            images.import_image,
            request.body.sync_reader(),
            repo=request.arg("repo", "") or "",
            tag=request.arg("tag", "") or "",
            message=request.arg("message", "") or "",
            changes=request.args("changes"),
            platform=platform,
        )
        return Response(200, {"Content-Type": "application/json"}, _status(str(image_id)))

    return [
        Route("GET", "/images/json", list_images),
        Route("POST", "/images/create", create),
        Route("POST", "/images/prune", prune),
        Route("GET", "/images/{name:path}/json", inspect),
        Route("GET", "/images/{name:path}/history", history),
        Route("POST", "/images/{name:path}/tag", tag),
        Route("DELETE", "/images/{name:path}", delete),
    ]


async def _status(text: str) -> AsyncIterator[bytes]:
    """dockerd's ``streamformatter.FormatStatus``: one JSON message and CRLF."""
    yield json.dumps({"status": text}, separators=(",", ":")).encode() + b"\r\n"
