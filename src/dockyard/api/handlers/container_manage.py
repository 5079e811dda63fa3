"""More container endpoints: ``POST /containers/{id}/rename?name=``, ``GET
/containers/{id}/top?ps_args=``, ``POST /containers/prune?filters=``, ``POST
/containers/{id}/pause`` and ``/unpause``, as dockerd answers them (204 for a rename or a
pause, the process table for top, what was removed for prune)."""

from __future__ import annotations

from typing import Protocol

from dockyard.api.http import Request, Response, empty, json_response
from dockyard.api.router import Route
from dockyard.events import Events
from dockyard.services.container_filters import prune
from dockyard.services.container_pause import Pauser
from dockyard.services.container_rename import rename
from dockyard.services.container_top import top
from dockyard.services.containers import ContainerService


class HasContainers(Protocol):
    @property
    def containers(self) -> ContainerService: ...

    @property
    def events(self) -> Events: ...

    @property
    def pauser(self) -> Pauser: ...


def routes(services: HasContainers) -> list[Route]:
    containers = services.containers

    async def rename_handler(request: Request) -> Response:
        await rename(containers, request.params["name"], request.arg("name") or "")
        return empty(204)

    async def top_handler(request: Request) -> Response:
        return json_response(await top(containers, request.params["name"],
                                       request.arg("ps_args") or ""))

    async def prune_handler(request: Request) -> Response:
        return json_response(await prune(containers, request.filters(), events=services.events))

    async def pause_handler(request: Request) -> Response:
        await services.pauser.pause(request.params["name"])
        return empty(204)

    async def unpause_handler(request: Request) -> Response:
        await services.pauser.unpause(request.params["name"])
        return empty(204)

    return [
        Route("POST", "/containers/prune", prune_handler),
        Route("POST", "/containers/{name}/pause", pause_handler),
        Route("POST", "/containers/{name}/unpause", unpause_handler),
        Route("POST", "/containers/{name}/rename", rename_handler),
        Route("GET", "/containers/{name}/top", top_handler),
    ]
