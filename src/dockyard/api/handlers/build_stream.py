"""The JSON stream of ``POST /build``, handed from the build's worker thread to the event loop
in batches.

A cached build writes a few dozen messages within a few milliseconds. Handing each one to the
event loop on its own (a wake-up of the loop, a queue item, an HTTP chunk and a send per
message) cost the daemon more than the build itself. So the worker encodes each message at
once and queues its bytes; the loop is woken only when the queue was empty, and sends whatever
has gathered by the time it runs as one chunk. The body is still one JSON object per line, as
dockerd writes it; only the HTTP chunks that carry the lines are fewer. No message waits for
a later one: the first message of a batch wakes the loop.

Otherwise it behaves as the pull stream (``image_distribution.stream_job``): the response
starts with the first message; an error raised before it is the request's error (a plain HTTP
error), one raised after it ends the stream with dockerd's ``errorDetail``; a client that goes
away sets ``cancel``, and the next message the job emits raises BrokenPipeError.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import AsyncIterator, Callable
from typing import Any

from dockyard.api.http import Request, Response, encode_json
from dockyard.errors import DockyardError

log = logging.getLogger(__name__)

#: A blocking operation that reports through ``emit`` and stops when ``cancel`` is set.
Job = Callable[[Callable[[dict[str, Any]], None], threading.Event], None]


class _End:
    """How the job ended: ``error`` is None when it returned."""

    __slots__ = ("error",)

    def __init__(self, error: BaseException | None) -> None:
        self.error = error


class _Batches:
    """The bytes of the messages not yet sent, and how the job ended."""

    def __init__(self, loop: asyncio.AbstractEventLoop, request: Request) -> None:
        self.loop = loop
        self.request = request
        self.cancel = threading.Event()
        self._lock = threading.Lock()
        self._pending: list[bytes] = []
        self._end: _End | None = None
        self._ready = asyncio.Event()

    # -- the worker thread ----------------------------------------------------------------

    def run(self, job: Job) -> None:
        try:
            job(self.emit, self.cancel)
        except BaseException as exc:  # handed to the event loop, raised or streamed there
            self._finish(exc)
        else:
            self._finish(None)

    def emit(self, message: dict[str, Any]) -> None:
        if self.cancel.is_set():
            raise BrokenPipeError("the client went away")
        data = encode_json(message)
        with self._lock:
            wake = not self._pending
            self._pending.append(data)
        if wake:
            self.loop.call_soon_threadsafe(self._ready.set)

    def _finish(self, error: BaseException | None) -> None:
        with self._lock:
            self._end = _End(error)
        self.loop.call_soon_threadsafe(self._ready.set)

    # -- the event loop -------------------------------------------------------------------

    @property
    def ended(self) -> bool:
        """Whether the job has returned or raised (its worker may not have told the loop)."""
        with self._lock:
            return self._end is not None

    def gone(self) -> None:
        """The client went away: cancel the job, wake the stream."""
        self.cancel.set()
        self._ready.set()

    async def next(self) -> tuple[bytes, _End | None]:
        """What has gathered since the last call (waiting for something), and the end if the
        job is over; ConnectionResetError once the client has gone."""
        await self._ready.wait()
        self._ready.clear()
        if self.request.disconnected.is_set():
            raise ConnectionResetError("the client went away")
        with self._lock:
            pending, self._pending = self._pending, []
            end = self._end
        return b"".join(pending), end


async def stream_build(job: Job, request: Request) -> Response:
    """Run ``job`` in a worker thread; answer with its messages once the first one is out, or
    raise its error if it fails before that."""
    batches = _Batches(asyncio.get_running_loop(), request)
    worker = asyncio.ensure_future(asyncio.to_thread(batches.run, job))
    watch = asyncio.ensure_future(request.disconnected.wait())
    watch.add_done_callback(lambda done: None if done.cancelled() else batches.gone())
    try:
        data, end = await batches.next()
        while not data and end is None:
            data, end = await batches.next()
    except BaseException:
        watch.cancel()
        raise
    if not data and end is not None and end.error is not None:
        watch.cancel()
        await worker
        raise end.error
    body = _body(batches, data, end, watch)
    return Response(200, {"Content-Type": "application/json"}, body)


async def _body(batches: _Batches, data: bytes, end: _End | None,
                watch: asyncio.Future[Any]) -> AsyncIterator[bytes]:
    try:
        while True:
            if data:
                yield data
            if end is not None:
                break
            data, end = await batches.next()
        if end.error is not None:
            yield _error(end.error)
    finally:
        watch.cancel()
        if not batches.ended:
            batches.cancel.set()
            log.info("client went away: cancelling the build")


def _error(exc: BaseException) -> bytes:
    """dockerd's in-stream error object for an error raised after the first message."""
    if not isinstance(exc, DockyardError):
        log.error("build stream failed", exc_info=exc)
    return encode_json({"errorDetail": {"message": str(exc)}, "error": str(exc)})
