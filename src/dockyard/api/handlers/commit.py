"""``POST /commit?container=&repo=&tag=&comment=&author=&pause=&changes=``: 201 with the new
image's ``{"Id"}``, as dockerd answers (the body, when there is one, is a container config)."""

from __future__ import annotations

from typing import Protocol

from dockyard.api.http import Request, Response, json_response
from dockyard.api.router import Route
from dockyard.services.container_commit import Committer, parse_request


class HasCommitter(Protocol):
    @property
    def committer(self) -> Committer: ...


def routes(services: HasCommitter) -> list[Route]:
    committer = services.committer

    async def commit(request: Request) -> Response:
        body = await request.body.json()
        image_id = await committer.commit(parse_request(request.query, body))
        return json_response({"Id": image_id}, 201)

    return [Route("POST", "/commit", commit)]
