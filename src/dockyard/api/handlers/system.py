"""The engine endpoints: ping, version, info, disk usage, and the plugin lookup docker inspect
falls back to."""

from __future__ import annotations

from typing import Protocol

from dockyard.api.http import Request, Response, json_response, run_blocking
from dockyard.api.router import Route
from dockyard.errors import NotFound
from dockyard.services.system import SystemService

_PING_HEADERS = {
    "Cache-Control": "no-cache, no-store, must-revalidate",
    "Pragma": "no-cache",
    "Content-Type": "text/plain; charset=utf-8",
}


class HasSystem(Protocol):
    """The part of ``dockyard.services.Services`` these routes use."""

    @property
    def system(self) -> SystemService: ...


def routes(services: HasSystem) -> list[Route]:
    system = services.system

    async def ping(request: Request) -> Response:
        return Response(200, dict(_PING_HEADERS), b"" if request.method == "HEAD" else b"OK")

    async def version(request: Request) -> Response:
        return json_response(system.version())

    async def info(request: Request) -> Response:
        return json_response(await run_blocking(system.info))

    async def disk_usage(request: Request) -> Response:
        return json_response(await run_blocking(system.disk_usage))

    async def plugin(request: Request) -> Response:
        raise NotFound(f'plugin "{request.params["name"]}" not found')

    return [
        Route("GET", "/_ping", ping),
        Route("HEAD", "/_ping", ping),
        Route("GET", "/version", version),
        Route("GET", "/info", info),
        Route("GET", "/system/df", disk_usage),
        Route("GET", "/plugins/{name:path}/json", plugin),
    ]
