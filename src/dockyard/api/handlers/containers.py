"""The container endpoints the docker CLI's run, ps, logs, stop, kill, rm, wait and inspect use
(engine-api.md sections 3 to 5): create, list, inspect, start, stop, restart, kill, wait,
attach, logs, resize, delete.

``/wait`` answers with its headers at once and the status when the condition is met (the CLI
sends ``/start`` only after those headers). Attach takes over the connection (101); the checks
that can fail are made before, so a failure is still an HTTP error.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any, Protocol

from dockyard.api.http import (
    Hijack,
    Request,
    Response,
    Upgraded,
    empty,
    encode_json,
    json_response,
    run_blocking,
)
from dockyard.api.router import Route
from dockyard.errors import Conflict, InvalidArgument, NotModified
from dockyard.services import container_filters as selection
from dockyard.services import container_views as views
from dockyard.services.container_exec import ExecService
from dockyard.services.container_io import ContainerIO, parse_detach_keys
from dockyard.services.container_waits import WaitResult
from dockyard.services.containers import ContainerService


class HasContainers(Protocol):
    @property
    def containers(self) -> ContainerService: ...

    @property
    def container_io(self) -> ContainerIO: ...

    @property
    def execs(self) -> ExecService: ...


def routes(services: HasContainers) -> list[Route]:
    return _lifecycle(services) + _streams(services)


def _lifecycle(services: HasContainers) -> list[Route]:
    containers, execs = services.containers, services.execs

    async def create(request: Request) -> Response:
        body = await request.body.json()
        created = await containers.create(body, request.arg("name") or None)
        return json_response(created, 201)

    async def list_containers(request: Request) -> Response:
        return json_response(await run_blocking(
            selection.list_containers, containers, all_containers=request.flag("all"),
            limit=request.integer("limit", -1), filters=request.filters(),
            size=request.flag("size")))

    async def inspect(request: Request) -> Response:
        container = containers.get(request.params["name"])
        exec_ids = [e for e, r in execs._execs.items() if r.container_id == container.id]
        return json_response(views.inspect(containers, container, exec_ids))

    async def start(request: Request) -> Response:
        await containers.start(request.params["name"])
        return empty(204)

    async def stop(request: Request) -> Response:
        await containers.stop(request.params["name"], _timeout(request))
        return empty(204)

    async def restart(request: Request) -> Response:
        with contextlib.suppress(NotModified):
            await containers.stop(request.params["name"], _timeout(request))
        await containers.start(request.params["name"])
        containers._emit("restart", containers.get(request.params["name"]))
        return empty(204)

    async def kill(request: Request) -> Response:
        await containers.kill(request.params["name"], request.arg("signal") or None)
        return empty(204)

    async def delete(request: Request) -> Response:
        if request.flag("link"):
            raise Conflict("Conflict, cannot remove the default link name of the container")
        await containers.remove(request.params["name"], force=request.flag("force"),
                                volumes=request.flag("v"))
        return empty(204)

    return [
        Route("POST", "/containers/create", create),
        Route("GET", "/containers/json", list_containers),
        Route("GET", "/containers/{name}/json", inspect),
        Route("POST", "/containers/{name}/start", start),
        Route("POST", "/containers/{name}/stop", stop),
        Route("POST", "/containers/{name}/restart", restart),
        Route("POST", "/containers/{name}/kill", kill),
        Route("DELETE", "/containers/{name}", delete),
    ]


def _streams(services: HasContainers) -> list[Route]:
    containers, io = services.containers, services.container_io

    async def wait(request: Request) -> Response:
        future = containers.wait(request.params["name"],
                                 request.arg("condition") or "not-running")
        return Response(200, {"Content-Type": "application/json"}, _wait_body(request, future))

    async def attach(request: Request) -> Response:
        name = request.params["name"]
        containers.get(name)  # a missing container is a 404, before the upgrade
        parse_detach_keys(request.arg("detachKeys"))  # and a bad key is a 400

        async def run(upgraded: Upgraded) -> None:
            if not request.flag("stream"):
                async for chunk in io.logs(name, stdout=request.flag("stdout"),
                                           stderr=request.flag("stderr")):
                    await upgraded.write(chunk)
                return
            await io.attach(name, upgraded, stdin=request.flag("stdin"),
                            stdout=request.flag("stdout"), stderr=request.flag("stderr"),
                            logs=request.flag("logs"), detach_keys=request.arg("detachKeys"))

        return Hijack(on_upgrade=run)

    async def logs(request: Request) -> Response:
        name = request.params["name"]
        stdout, stderr = request.flag("stdout"), request.flag("stderr")
        if not (stdout or stderr):
            raise InvalidArgument("Bad parameters: you must choose at least one stream")
        tail_text = request.arg("tail", "all") or "all"
        try:
            tail = -1 if tail_text == "all" else int(tail_text)
        except ValueError:
            tail = -1  # dockerd: an unparsable tail means all
        stream = io.logs(name, stdout=stdout, stderr=stderr, follow=request.flag("follow"),
                         since_ns=_unix_ns(request, "since"), until_ns=_unix_ns(request, "until"),
                         tail=tail, timestamps=request.flag("timestamps"))
        first = await _first(stream)  # errors before the stream starts are HTTP errors
        return Response(200, {}, _until_gone(request, first, stream))

    async def resize(request: Request) -> Response:
        await io.resize(request.params["name"], request.integer("h", 0),
                        request.integer("w", 0))
        return Response(200)

    return [
        Route("POST", "/containers/{name}/wait", wait),
        Route("POST", "/containers/{name}/attach", attach),
        Route("GET", "/containers/{name}/logs", logs),
        Route("POST", "/containers/{name}/resize", resize),
    ]


def _timeout(request: Request) -> int | None:
    if request.arg("t") in (None, ""):
        return None
    return request.integer("t", 10)


def _unix_ns(request: Request, name: str) -> int:
    """``since``/``until``: unix seconds, maybe fractional (``1795811163.123456789``)."""
    text = request.arg(name, "") or ""
    if not text or text == "0":
        return 0
    seconds, _, fraction = text.partition(".")
    try:
        return int(seconds) * 10**9 + int((fraction + "000000000")[:9] or 0)
    except ValueError as exc:
        raise InvalidArgument(f"invalid value for {name}: {text!r}") from exc


async def _wait_body(request: Request, future: asyncio.Future[WaitResult]) -> \
        AsyncIterator[bytes]:
    gone = asyncio.ensure_future(request.disconnected.wait())
    waitables: list[asyncio.Future[Any]] = [future, gone]
    try:
        done, _ = await asyncio.wait(waitables, return_when=asyncio.FIRST_COMPLETED)
        if future in done:
            result = future.result()
            error = {"Message": result.error} if result.error else None
            yield encode_json({"Error": error, "StatusCode": result.status})
        else:
            yield encode_json({"Error": {"Message": "context canceled"}, "StatusCode": -1})
    finally:
        gone.cancel()
        if not future.done():
            future.cancel()


async def _first(stream: AsyncIterator[bytes]) -> bytes | None:
    try:
        return await anext(stream)
    except StopAsyncIteration:
        return None


async def _until_gone(request: Request, first: bytes | None,
                      stream: AsyncIterator[bytes]) -> AsyncIterator[bytes]:
    """The stream, ended early when the client goes away (``logs -f`` and Ctrl-C)."""
    if first is None:
        return
    yield first
    gone = asyncio.ensure_future(request.disconnected.wait())
    try:
        while True:
            step = asyncio.ensure_future(anext(stream))
            done, _ = await asyncio.wait({step, gone}, return_when=asyncio.FIRST_COMPLETED)
            if step not in done:
                step.cancel()
                return
            try:
                yield step.result()
            except StopAsyncIteration:
                return
    finally:
        gone.cancel()
        close = getattr(stream, "aclose", None)
        if close is not None:
            with contextlib.suppress(Exception):
                await close()
