"""Pull (``POST /images/create?fromImage=``), push (``POST /images/{name}/push``) and
``POST /auth``, as dockerd 20.10 answers them.

Pull and push run in a worker thread and stream dockerd's JSON messages. The response starts
with the first message: an error before it is a plain HTTP error (a missing manifest is 404, an
unreachable registry 500), one after it ends the stream with ``errorDetail``. If the client
goes away the operation is cancelled; what it downloaded stays for the next pull.

Credentials come in ``X-Registry-Auth`` (base64url JSON; absent or ``e30=`` is anonymous).
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any, Protocol

from dockyard.api.http import Request, Response, json_response, json_stream
from dockyard.api.router import Route
from dockyard.registry.auth import credentials_from_json, decode_registry_auth
from dockyard.services.image_distribution import DistributionService, Emit

log = logging.getLogger(__name__)

Handler = Callable[[Request], Awaitable[Response]]
#: A blocking operation that reports through ``emit`` and stops when ``cancel`` is set.
Job = Callable[[Emit, threading.Event], None]


class HasDistribution(Protocol):
    @property
    def distribution(self) -> DistributionService: ...


def routes(services: HasDistribution) -> list[Route]:
    distribution = services.distribution

    async def push(request: Request) -> Response:
        credentials = decode_registry_auth(request.headers.get("x-registry-auth"))
        name, tag = request.params["name"], request.arg("tag", "") or ""

        def job(emit: Emit, cancel: threading.Event) -> None:
            distribution.push(name, tag, credentials, emit, cancel=cancel)

        return await stream_job(job, request)

    async def auth(request: Request) -> Response:
        body = await request.body.json()
        credentials = credentials_from_json(body if isinstance(body, dict) else {})
        token = await asyncio.to_thread(distribution.login, credentials)
        return json_response({"IdentityToken": token, "Status": "Login Succeeded"})

    return [
        Route("POST", "/images/{name:path}/push", push),
        Route("POST", "/auth", auth),
    ]


def pull_handler(services: HasDistribution) -> Handler:
    """The fromImage branch of ``POST /images/create`` (the images handler dispatches to it)."""
    distribution = services.distribution

    async def pull(request: Request) -> Response:
        credentials = decode_registry_auth(request.headers.get("x-registry-auth"))
        from_image = request.arg("fromImage", "") or ""
        tag = request.arg("tag", "") or ""
        platform = "" if request.version_before("1.32") else request.arg("platform", "") or ""

        def job(emit: Emit, cancel: threading.Event) -> None:
            distribution.pull(from_image, tag, credentials, emit, platform=platform,
                              cancel=cancel)

        return await stream_job(job, request)

    return pull


async def stream_job(job: Job, request: Request) -> Response:
    """Run ``job`` in a worker thread; answer with its messages once the first one is out, or
    raise its error if it fails before that."""
    run = _Run(job, request)
    kind, value = await run.queue.get()
    if kind == "error":
        await run.worker
        raise value
    return json_stream(run.messages(kind, value))


class _Run:
    """One job in a worker thread, its messages handed to the event loop through a queue."""

    def __init__(self, job: Job, request: Request) -> None:
        self.loop = asyncio.get_running_loop()
        self.queue: asyncio.Queue[tuple[str, Any]] = asyncio.Queue()
        self.cancel = threading.Event()
        self.request = request
        self.job = job
        self.worker = asyncio.ensure_future(asyncio.to_thread(self._run))

    def _emit(self, message: dict[str, Any]) -> None:
        if self.cancel.is_set():
            raise BrokenPipeError("the client went away")
        self.loop.call_soon_threadsafe(self.queue.put_nowait, ("message", message))

    def _run(self) -> None:
        try:
            self.job(self._emit, self.cancel)
        except BaseException as exc:  # handed to the event loop, raised there
            self.loop.call_soon_threadsafe(self.queue.put_nowait, ("error", exc))
        else:
            self.loop.call_soon_threadsafe(self.queue.put_nowait, ("end", None))

    async def messages(self, kind: str, value: Any) -> AsyncIterator[object]:
        try:
            while kind == "message":
                yield value
                kind, value = await self._next()
            if kind == "error":
                raise value
        finally:
            if not self.worker.done():
                self.cancel.set()
                log.info("client went away: cancelling the operation")

    async def _next(self) -> tuple[str, Any]:
        """The next item; ConnectionResetError when the client ends its side first."""
        getter = asyncio.ensure_future(self.queue.get())
        gone = asyncio.ensure_future(self.request.disconnected.wait())
        done, _ = await asyncio.wait({getter, gone}, return_when=asyncio.FIRST_COMPLETED)
        if getter in done:
            gone.cancel()
            return getter.result()
        getter.cancel()
        raise ConnectionResetError("the client went away")
