"""The network endpoints of dockerd 20.10: list, inspect, create, remove, prune, and connect and
disconnect a container (created or running; compose disconnects and reconnects a created one
before it starts). Connect and disconnect hold the container's lock, so they never run beside
its start, exit or removal; the rest run the blocking service in a worker thread."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol

from dockyard.api.http import Request, Response, empty, json_response, run_blocking
from dockyard.api.router import Route
from dockyard.errors import InvalidArgument
from dockyard.services.containers import ContainerService
from dockyard.services.networks import NetworkService


class HasNetworks(Protocol):
    """The part of ``dockyard.services.Services`` these routes use."""

    @property
    def networks(self) -> NetworkService: ...

    @property
    def containers(self) -> ContainerService: ...


def routes(services: HasNetworks) -> list[Route]:
    networks, containers = services.networks, services.containers

    async def list_networks(request: Request) -> Response:
        return json_response(await run_blocking(networks.list_networks, request.filters()))

    async def inspect(request: Request) -> Response:
        return json_response(await run_blocking(networks.inspect, request.params["id"]))

    async def create(request: Request) -> Response:
        body = await request.body.json()
        return json_response(await run_blocking(networks.create, body), 201)

    async def delete(request: Request) -> Response:
        await run_blocking(networks.remove, request.params["id"])
        return empty(204)

    async def prune(request: Request) -> Response:
        return json_response(await run_blocking(networks.prune, request.filters()))

    async def connect(request: Request) -> Response:
        body = _object(await request.body.json())
        network = await run_blocking(networks.network_for_connect, request.params["id"])
        container = containers.get(str(body.get("Container") or ""))
        async with containers.live(container.id).lock:
            container = containers.get(container.id)
            await run_blocking(networks.connect, container, network, body)
        return empty(200)

    async def disconnect(request: Request) -> Response:
        body = _object(await request.body.json())
        ref = request.params["id"]
        await run_blocking(networks.get, ref)  # a missing network first, as dockerd
        container = containers.get(str(body.get("Container") or ""))
        async with containers.live(container.id).lock:
            container = containers.get(container.id)
            await run_blocking(networks.disconnect, container, ref,
                               force=bool(body.get("Force")))
        return empty(200)

    return [
        Route("GET", "/networks", list_networks),
        Route("POST", "/networks/create", create),
        Route("POST", "/networks/prune", prune),
        Route("GET", "/networks/{id}", inspect),
        Route("DELETE", "/networks/{id}", delete),
        Route("POST", "/networks/{id}/connect", connect),
        Route("POST", "/networks/{id}/disconnect", disconnect),
    ]


def _object(body: Any) -> Mapping[str, Any]:
    if not isinstance(body, Mapping):
        raise InvalidArgument("invalid JSON: the body must be an object")
    return body
