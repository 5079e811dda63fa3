"""The exec endpoints: create (``POST /containers/{id}/exec``), start (attached: 101 and the
streams; detached: a plain 200), resize, inspect (whose ExitCode the CLI exits with)."""

from __future__ import annotations

from typing import Protocol

from dockyard.api.http import Hijack, Request, Response, Upgraded, json_response
from dockyard.api.router import Route
from dockyard.errors import Conflict, DockyardError
from dockyard.services.container_exec import ExecService
from dockyard.services.container_io import frame


class HasExecs(Protocol):
    @property
    def execs(self) -> ExecService: ...


def routes(services: HasExecs) -> list[Route]:
    execs = services.execs

    async def create(request: Request) -> Response:
        exec_id = execs.create(request.params["name"], await request.body.json())
        return json_response({"Id": exec_id}, 201)

    async def start(request: Request) -> Response:
        exec_id = request.params["id"]
        body = await request.body.json()
        detach = bool(body.get("Detach")) if isinstance(body, dict) else False
        tty = body.get("Tty") if isinstance(body, dict) else None
        record = execs.get(exec_id)
        if record.started:
            raise Conflict(f"Error: Exec command {exec_id} has already run")
        if detach:
            await execs.start(exec_id, None, detach=True)
            return Response(200)

        async def run(upgraded: Upgraded) -> None:
            try:
                await execs.start(exec_id, upgraded, tty=bool(tty) if tty is not None else None)
            except DockyardError as exc:  # dockerd writes it into the stream, as stdout
                text = f"{exc}\r\n".encode()
                await upgraded.write(text if execs.get(exec_id).tty else frame(1, text))

        return Hijack(on_upgrade=run)

    async def resize(request: Request) -> Response:
        await execs.resize(request.params["id"], request.integer("h", 0),
                           request.integer("w", 0))
        return Response(200)

    async def inspect(request: Request) -> Response:
        return json_response(execs.inspect(request.params["id"]))

    return [
        Route("POST", "/containers/{name}/exec", create),
        Route("POST", "/exec/{id}/start", start),
        Route("POST", "/exec/{id}/resize", resize),
        Route("GET", "/exec/{id}/json", inspect),
    ]
