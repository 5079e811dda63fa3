"""A container's files: ``GET /containers/{id}/changes``, ``GET /containers/{id}/export``,
and ``HEAD``/``GET``/``PUT /containers/{id}/archive`` (``docker cp``), as dockerd answers
them: the path's stat in ``X-Docker-Container-Path-Stat`` (HEAD and GET), the tar as
``application/x-tar``, a PUT answered 200 with no body once the tar is in."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import Any, Protocol

from dockyard.api.http import Request, Response, json_response, run_blocking, stream_blocking
from dockyard.api.router import Route
from dockyard.errors import InvalidArgument
from dockyard.services.container_files import ContainerFiles, Copy

STAT_HEADER = "X-Docker-Container-Path-Stat"


class HasFiles(Protocol):
    @property
    def container_files(self) -> ContainerFiles: ...


def routes(services: HasFiles) -> list[Route]:
    files = services.container_files

    async def changes(request: Request) -> Response:
        return json_response(await run_blocking(files.changes, request.params["name"]))

    async def export(request: Request) -> Response:
        copy = await files.export(request.params["name"])
        return Response(200, {"Content-Type": "application/x-tar"}, _Streamed(copy))

    async def stat(request: Request) -> Response:
        found = await files.stat(request.params["name"], _path(request))
        return Response(200, {STAT_HEADER: found.header()})

    async def get(request: Request) -> Response:
        copy = await files.archive(request.params["name"], _path(request))
        return Response(200, {"Content-Type": "application/x-tar", STAT_HEADER: copy.stat.header()},
                        _Streamed(copy))

    async def put(request: Request) -> Response:
        await files.extract(request.params["name"], _path(request), request.body.sync_reader(),
                            no_overwrite_dir_non_dir=request.flag("noOverwriteDirNonDir"),
                            copy_uid_gid=request.flag("copyUIDGID"))
        return Response(200)

    return [
        Route("GET", "/containers/{name}/changes", changes),
        Route("GET", "/containers/{name}/export", export),
        Route("HEAD", "/containers/{name}/archive", stat),
        Route("GET", "/containers/{name}/archive", get),
        Route("PUT", "/containers/{name}/archive", put),
    ]


def _path(request: Request) -> str:
    path = request.arg("path")
    if not path:
        raise InvalidArgument("Path cannot be empty")
    return path


class _Streamed:
    """The tar of a copy, written by a worker thread; the copy is closed however the response
    ends (even if it never starts: the server calls ``aclose``)."""

    def __init__(self, copy: Copy) -> None:
        self.copy = copy
        self._chunks: AsyncIterator[bytes] | None = None
        self._closed = False

    def __aiter__(self) -> _Streamed:
        return self

    async def __anext__(self) -> bytes:
        if self._closed:
            raise StopAsyncIteration
        if self._chunks is None:
            self._chunks = stream_blocking(self.copy.write)
        try:
            return await anext(self._chunks)
        except BaseException:
            await self.aclose()
            raise

    async def aclose(self) -> None:
        if self._closed:
            return
        self._closed = True
        if self._chunks is not None:
            close: Any = getattr(self._chunks, "aclose", None)
            if close is not None:
                with contextlib.suppress(Exception):
                    await close()
        await self.copy.close()
