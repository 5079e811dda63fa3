"""The handler interface of the Engine API: requests, bodies, responses.

A handler is ``async def handler(request: Request) -> Response``. It raises ``dockyard.errors``
exceptions for failures; the router turns them into ``{"message": ...}`` with the error's status.
Blocking store or service code runs in a worker thread through :func:`run_blocking`, so one slow
import never stalls the other connections.

Query conventions follow dockerd (engine-api.md 1 and 11): a boolean is false for "", 0, false,
no, none in any case and true otherwise; ``filters`` is JSON in the map form
``{"k":{"v":true}}`` (docker CLI) or the list form ``{"k":["v"]}`` (docker-py).
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import json
import logging
import threading
from collections.abc import AsyncIterator, Awaitable, Callable, Collection, Iterable
from dataclasses import dataclass, field
from typing import Any, BinaryIO, Protocol, TypeVar

from dockyard.errors import DockyardError, Internal, InvalidArgument

log = logging.getLogger(__name__)

API_VERSION = "1.41"
MIN_API_VERSION = "1.24"
CHUNK = 64 * 1024

T = TypeVar("T")

_FALSE = frozenset({"", "0", "false", "no", "none"})


class BodySource(Protocol):
    """Where a body's bytes come from: the connection (with its framing) or memory."""

    async def next(self, limit: int) -> bytes:
        """Up to ``limit`` bytes, at least one; b"" at the end of the body."""
        ...


class _MemorySource:
    def __init__(self, chunks: Iterable[bytes]) -> None:
        self._chunks = [c for c in chunks if c]

    @property
    def empty(self) -> bool:
        return not self._chunks

    async def next(self, limit: int) -> bytes:
        if not self._chunks:
            return b""
        first = self._chunks[0]
        if len(first) <= limit:
            return self._chunks.pop(0)
        self._chunks[0] = first[limit:]
        return first[:limit]


class Body:
    """A request body, read once: whole (``read``, ``json``), as chunks (``async for``), or from a
    worker thread through a blocking file object (``sync_reader``)."""

    def __init__(
        self,
        source: BodySource,
        *,
        on_first_read: Callable[[], Awaitable[None]] | None = None,
        ended: bool = False,
    ) -> None:
        self._source = source
        self._on_first_read = on_first_read
        self.ended = asyncio.Event()
        if ended:
            self.ended.set()

    @classmethod
    def of(cls, data: bytes | Iterable[bytes] = b"") -> Body:
        """A body held in memory (for tests and internal calls)."""
        source = _MemorySource([data] if isinstance(data, bytes) else data)
        return cls(source, ended=source.empty)

    @property
    def finished(self) -> bool:
        return self.ended.is_set()

    async def receive(self, limit: int = CHUNK) -> bytes:
        """The next piece of the body (at most ``limit`` bytes); b"" at its end."""
        if self.ended.is_set():
            return b""
        if self._on_first_read is not None:
            first, self._on_first_read = self._on_first_read, None
            await first()
        data = await self._source.next(limit)
        if not data:
            self.ended.set()
        return data

    async def read(self) -> bytes:
        parts = [piece async for piece in self]
        return b"".join(parts)

    async def json(self) -> Any:
        data = await self.read()
        if not data.strip():
            return {}
        try:
            return json.loads(data)
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise InvalidArgument(f"invalid json in request body: {exc}") from exc

    async def __aiter__(self) -> AsyncIterator[bytes]:
        while data := await self.receive():
            yield data

    async def discard(self, limit: int) -> bool:
        """Skip up to ``limit`` unread bytes; True if the body's end was reached."""
        seen = 0
        while seen <= limit:
            data = await self.receive()
            if not data:
                return True
            seen += len(data)
        return False

    def sync_reader(self) -> BinaryIO:
        """A blocking reader for a worker thread (see run_blocking). Create it on the event loop
        thread; reading it on that thread would deadlock and raises Internal instead."""
        raw = _ThreadReader(self, asyncio.get_running_loop(), threading.get_ident())
        return io.BufferedReader(raw, CHUNK)


class _ThreadReader(io.RawIOBase):
    def __init__(self, body: Body, loop: asyncio.AbstractEventLoop, loop_thread: int) -> None:
        self._body = body
        self._loop = loop
        self._loop_thread = loop_thread
        self._pending = b""

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        view = memoryview(buffer).cast("B")
        if not self._pending:
            if threading.get_ident() == self._loop_thread:
                raise Internal("request body sync_reader read on the event loop thread")
            future = asyncio.run_coroutine_threadsafe(self._body.receive(len(view)), self._loop)
            self._pending = future.result()
        n = min(len(view), len(self._pending))
        view[:n] = self._pending[:n]
        self._pending = self._pending[n:]
        return n


@dataclass
class Request:
    method: str
    path: str  # without the /v1.xx prefix once routed
    api_version: str = API_VERSION
    query: dict[str, list[str]] = field(default_factory=dict)
    headers: dict[str, str] = field(default_factory=dict)  # lower-case names
    params: dict[str, str] = field(default_factory=dict)
    body: Body = field(default_factory=Body.of)
    disconnected: asyncio.Event = field(default_factory=asyncio.Event)
    """Set when the client ends its side of the connection while a streaming response runs (after
    the body has been read): dockerd cancels the request context then."""

    def arg(self, name: str, default: str | None = None) -> str | None:
        values = self.query.get(name)
        return values[0] if values else default

    def args(self, name: str) -> list[str]:
        return list(self.query.get(name, []))

    def flag(self, name: str, default: bool = False) -> bool:
        value = self.arg(name)
        if value is None:
            return default
        return value.strip().lower() not in _FALSE

    def integer(self, name: str, default: int) -> int:
        value = self.arg(name)
        if value is None or value == "":
            return default
        try:
            return int(value, 10)
        except ValueError as exc:
            raise InvalidArgument(f"invalid value for {name}: {value!r} is not an integer") from exc

    def filters(self, allowed: Collection[str] | None = None) -> dict[str, list[str]]:
        """The ``filters`` parameter as {key: [values]}; with ``allowed``, an unknown key is an
        error worded as dockerd's."""
        result = parse_filters(self.arg("filters", "") or "")
        if allowed is not None:
            for key in result:
                if key not in allowed:
                    raise InvalidArgument(f"Invalid filter '{key}'")
        return result

    def version_before(self, version: str) -> bool:
        """The client speaks an API version older than ``version``."""
        return version_key(self.api_version) < version_key(version)


def version_key(version: str) -> tuple[int, ...]:
    """API versions compare as dotted integers, as Go's versions.compare does."""
    return tuple(int(p) if p.isdigit() else 0 for p in version.split("."))


def parse_filters(text: str) -> dict[str, list[str]]:
    if not text.strip():
        return {}
    try:
        raw = json.loads(text)
    except json.JSONDecodeError as exc:
        raise InvalidArgument(f"invalid filters {text!r}: {exc}") from exc
    if not isinstance(raw, dict):
        raise InvalidArgument(f"invalid filters {text!r}: not a json object")
    result: dict[str, list[str]] = {}
    for key, value in raw.items():
        if isinstance(value, dict):
            result[key] = [str(v) for v, on in value.items() if on is True]
        elif isinstance(value, list) and all(isinstance(v, str) for v in value):
            result[key] = list(value)
        else:
            raise InvalidArgument(f"invalid filters {text!r}: bad value for {key!r}")
    return result


@dataclass
class Response:
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes | AsyncIterator[bytes] = b""  # an async iterator is sent chunked, each flushed


class Upgraded:
    """The raw connection after a hijack: bytes both ways, no HTTP framing. The client may
    half-close its side; the output stays open until the callback returns or calls close_write."""

    def __init__(self, reader: Callable[[int], Awaitable[bytes]], channel: _Output) -> None:
        self._reader = reader
        self._channel = channel

    async def read(self, limit: int = CHUNK) -> bytes:
        """Up to ``limit`` bytes from the client; b"" once it has half-closed or gone."""
        return await self._reader(limit)

    async def write(self, data: bytes) -> None:
        self._channel.write(data)
        await self._channel.drain()

    def close_write(self) -> None:
        self._channel.write_eof()


class _Output(Protocol):
    def write(self, data: bytes) -> None: ...
    async def drain(self) -> None: ...
    def write_eof(self) -> None: ...


@dataclass
class Hijack(Response):
    """Take over the connection (attach, exec start): the server answers ``101 UPGRADED`` (or
    200 when the client sent no ``Upgrade`` header, as dockerd does), then runs ``on_upgrade``
    with the raw stream and closes the connection when it returns."""

    on_upgrade: Callable[[Upgraded], Awaitable[None]] | None = None
    content_type: str = "application/vnd.docker.raw-stream"


def encode_json(value: object) -> bytes:
    """Compact JSON plus a newline, as Go's json.Encoder writes it."""
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode() + b"\n"


def json_response(value: object, status: int = 200) -> Response:
    return Response(status, {"Content-Type": "application/json"}, encode_json(value))


def json_stream(messages: AsyncIterator[object]) -> Response:
    """One JSON object per line, chunked. An error raised by ``messages`` ends the stream with
    dockerd's in-stream error object (the status line has gone out already)."""
    return Response(200, {"Content-Type": "application/json"}, _encode_stream(messages))


async def _encode_stream(messages: AsyncIterator[object]) -> AsyncIterator[bytes]:
    try:
        async for message in messages:
            yield encode_json(message)
    except DockyardError as exc:
        yield encode_json({"errorDetail": {"message": str(exc)}, "error": str(exc)})
    except Exception as exc:
        log.exception("error in a json stream")
        yield encode_json({"errorDetail": {"message": str(exc)}, "error": str(exc)})


def empty(status: int = 204) -> Response:
    return Response(status)


def message_response(status: int, message: str) -> Response:
    """dockerd's error body: ``{"message": ...}``."""
    return Response(status, {"Content-Type": "application/json"}, encode_json({"message": message}))


def error_response(exc: DockyardError) -> Response:
    if exc.http_status == 304:
        return empty(304)
    return message_response(exc.http_status, str(exc))


async def run_blocking(fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """Run blocking code in a worker thread (with the caller's contextvars)."""
    return await asyncio.to_thread(fn, *args, **kwargs)


class _QueueWriter(io.RawIOBase):
    """A blocking file object for a worker thread whose writes become an async stream's chunks.

    Writes are gathered into chunks of at least ``CHUNK`` bytes; each chunk waits for room in a
    small queue, so a slow client slows the writer (backpressure) instead of filling memory.
    """

    def __init__(self, loop: asyncio.AbstractEventLoop, queue: asyncio.Queue[bytes | None]) -> None:
        self._loop = loop
        self._queue = queue
        self._pending = bytearray()
        self.cancelled = threading.Event()

    def writable(self) -> bool:
        return True

    def write(self, data: Any) -> int:
        if self.cancelled.is_set():
            raise BrokenPipeError("the client went away")
        view = memoryview(data)
        self._pending += view
        if len(self._pending) >= CHUNK:
            self._push(bytes(self._pending))
            self._pending.clear()
        return len(view)

    def finish(self) -> None:
        if self._pending:
            self._push(bytes(self._pending))
            self._pending.clear()

    def _push(self, chunk: bytes | None) -> None:
        future = asyncio.run_coroutine_threadsafe(self._queue.put(chunk), self._loop)
        while True:
            try:
                future.result(timeout=0.5)
                return
            except TimeoutError:
                if self.cancelled.is_set():
                    future.cancel()
                    raise BrokenPipeError("the client went away") from None


async def stream_blocking(write: Callable[[BinaryIO], None]) -> AsyncIterator[bytes]:
    """Run ``write(out)`` in a worker thread and yield what it writes, chunk by chunk.

    An error in ``write`` is raised from the iterator (after the chunks before it); closing the
    iterator early (the client went away) makes the writer's next write fail.
    """
    loop = asyncio.get_running_loop()
    queue: asyncio.Queue[bytes | None] = asyncio.Queue(maxsize=4)
    writer = _QueueWriter(loop, queue)

    def produce() -> None:
        try:
            write(writer)  # type: ignore[arg-type]  # a RawIOBase is the BinaryIO it needs
            writer.finish()
        finally:
            if not writer.cancelled.is_set():
                asyncio.run_coroutine_threadsafe(queue.put(None), loop)

    task = asyncio.ensure_future(asyncio.to_thread(produce))
    try:
        while (chunk := await queue.get()) is not None:
            yield chunk
        await task
    finally:
        writer.cancelled.set()
        if not task.done():
            with contextlib.suppress(BaseException):
                await task
