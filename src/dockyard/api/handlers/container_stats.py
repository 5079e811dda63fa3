"""``GET /containers/{id}/stats?stream=&one-shot=``: one JSON object (stream=0) or one a second
until the client goes (stream=1, the default), as dockerd sends them; the figures come from
:class:`dockyard.services.container_stats.ContainerStats`."""

from __future__ import annotations

from typing import Protocol

from dockyard.api.http import Request, Response, json_response, json_stream
from dockyard.api.router import Route
from dockyard.services.container_stats import ContainerStats
from dockyard.services.containers import ContainerService


class HasContainers(Protocol):
    @property
    def containers(self) -> ContainerService: ...


def routes(services: HasContainers) -> list[Route]:
    stats = ContainerStats(services.containers)

    async def stats_handler(request: Request) -> Response:
        name = request.params["name"]
        stream = request.flag("stream", True)
        one_shot = request.flag("one-shot")
        samples = stats.samples(name, stream=stream, one_shot=one_shot)
        if stream:
            services.containers.get(name)  # a 404 before the status line goes out
            return json_stream(samples)
        try:
            return json_response(await anext(samples))
        finally:
            await samples.aclose()

    return [Route("GET", "/containers/{name}/stats", stats_handler)]
