"""A lean HTTP/1.1 server for the registry: TCP or TLS, keep-alive, streamed bodies, sendfile.

The registry moves large blobs, so this layer is shaped for throughput: a request body is read
from the connection in pieces of up to 1 MiB (Content-Length or chunked framing) and handed to
the handler as it arrives; a blob goes out with ``loop.sendfile`` (sendfile(2) on plain TCP,
so the bytes never enter Python; TLS falls back to reading the file in large pieces).

One task serves each connection: it reads a request head, calls the application, writes the
response and repeats while the connection is kept alive. Whatever body the handler left unread
is skipped when it is small; otherwise the connection is closed after the response, half-closed
first so the client reads the answer before the socket goes. ``Expect: 100-continue`` is answered
when the handler first reads the body, so a request refused on its head (401, 413) never makes
the client send its body.
"""

from __future__ import annotations

import asyncio
import logging
import ssl
import time
from collections.abc import Awaitable, Callable
from contextlib import suppress
from dataclasses import dataclass, field
from email.utils import formatdate
from http import HTTPStatus
from typing import BinaryIO
from urllib.parse import parse_qs, unquote, urlsplit

from dockyard.errors import InvalidArgument

log = logging.getLogger(__name__)

MAX_HEAD = 64 * 1024
CHUNK = 1 << 20
DRAIN_LIMIT = 4 << 20  # unread body skipped to keep a connection alive
_READER_LIMIT = 1 << 20  # asyncio buffers up to twice this before it stops reading the socket
_TLS_HANDSHAKE = b"\x16"  # the first byte of a TLS record carrying a ClientHello


class ProtocolError(Exception):
    """A request the server cannot read; answered with ``status`` and the connection closed."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason


class Headers:
    """Request header fields by lower-case name; repeated fields joined with ", "."""

    def __init__(self, fields: dict[str, str] | None = None) -> None:
        self._fields = {k.lower(): v for k, v in (fields or {}).items()}

    def add(self, name: str, value: str) -> None:
        key = name.lower()
        self._fields[key] = f"{self._fields[key]}, {value}" if key in self._fields else value

    def get(self, name: str, default: str | None = None) -> str | None:
        return self._fields.get(name.lower(), default)

    def __contains__(self, name: str) -> bool:
        return name.lower() in self._fields

    def pop(self, name: str) -> str | None:
        return self._fields.pop(name.lower(), None)


class Body:
    """A request body, read once in pieces. ``length`` is the Content-Length (None if chunked)."""

    def __init__(
        self,
        reader: asyncio.StreamReader | None,
        length: int | None,
        chunked: bool = False,
        on_first_read: Callable[[], Awaitable[None]] | None = None,
    ) -> None:
        self._reader = reader
        self.length = length
        self._chunked = chunked
        self._left = 0 if chunked else (length or 0)
        self._on_first_read = on_first_read
        self.received = 0
        self.finished = not chunked and not length
        self.started = False

    @classmethod
    def of(cls, data: bytes) -> Body:
        """A body held in memory (tests)."""
        reader = asyncio.StreamReader()
        reader.feed_data(data)
        reader.feed_eof()
        return cls(reader, len(data))

    async def read(self, limit: int = CHUNK) -> bytes:
        """The next piece of at most ``limit`` bytes; b"" at the end. InvalidArgument if the
        client ends or breaks the body early."""
        if self.finished or self._reader is None:
            return b""
        if self._on_first_read is not None:
            first, self._on_first_read = self._on_first_read, None
            await first()
        self.started = True
        try:
            data = await (self._chunk(limit) if self._chunked else self._fixed(limit))
        except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, ValueError) as exc:
            self.finished = True
            raise InvalidArgument(f"request body broken after {self.received} bytes: {exc}") \
                from exc
        self.received += len(data)
        return data

    async def read_all(self, limit: int) -> bytes:
        """The whole body; InvalidArgument if it is longer than ``limit``."""
        parts = []
        while piece := await self.read():
            parts.append(piece)
            if self.received > limit:
                raise InvalidArgument(f"request body longer than {limit} bytes")
        return b"".join(parts)

    async def _fixed(self, limit: int) -> bytes:
        assert self._reader is not None
        data = await self._reader.read(min(limit, self._left))
        if not data:
            self.finished = True
            raise InvalidArgument(
                f"request body ended after {self.received} of {self.length} bytes"
            )
        self._left -= len(data)
        self.finished = self._left == 0
        return data

    async def _chunk(self, limit: int) -> bytes:
        assert self._reader is not None
        if self._left == 0:
            line = await self._reader.readuntil(b"\r\n")
            size_text = line.split(b";", 1)[0].strip()
            if not size_text or len(size_text) > 16:
                raise ValueError(f"bad chunk size line {line[:40]!r}")
            self._left = int(size_text, 16)
            if self._left == 0:
                while await self._reader.readuntil(b"\r\n") != b"\r\n":
                    pass  # trailer fields: read and dropped
                self.finished = True
                return b""
        data = await self._reader.read(min(limit, self._left))
        if not data:
            raise asyncio.IncompleteReadError(b"", self._left)
        self._left -= len(data)
        if self._left == 0 and await self._reader.readexactly(2) != b"\r\n":
            raise ValueError("chunk data not followed by CRLF")
        return data

    async def skip(self, limit: int) -> bool:
        """Read and drop the rest if it is at most ``limit`` bytes; whether the body ended."""
        seen = 0
        with suppress(InvalidArgument):
            while seen <= limit and (piece := await self.read()):
                seen += len(piece)
        return self.finished


@dataclass
class Request:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: Headers
    body: Body
    secure: bool = False
    peer: str = ""
    target: str = ""
    keep_alive: bool = True

    def arg(self, name: str) -> str | None:
        """The first value of a query parameter, or None."""
        values = self.query.get(name)
        return values[0] if values else None


@dataclass
class Response:
    """A response. ``file`` (with ``file_offset`` and ``length``) goes out with sendfile and is
    closed afterwards; otherwise ``body``. ``length`` overrides Content-Length (HEAD)."""

    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""
    file: BinaryIO | None = None
    file_offset: int = 0
    length: int | None = None
    close: bool = False


App = Callable[[Request], Awaitable[Response]]


class HttpServer:
    """Serves ``app`` on one TCP address until :meth:`close`."""

    def __init__(self, app: App, ssl_context: ssl.SSLContext | None = None,
                 server_name: str = "dockyard-registry") -> None:
        self._app = app
        self._ssl = ssl_context
        self._server_name = server_name
        self._server: asyncio.Server | None = None
        self._connections: dict[asyncio.Task[None], bool] = {}  # task -> busy with a request
        self._closing = False
        self._date = ("", 0)

    async def start(self, host: str, port: int) -> tuple[str, int]:
        """Listen; returns the bound address (port 0 picks a free port)."""
        self._server = await asyncio.start_server(
            self._connection, host, port, ssl=self._ssl, limit=_READER_LIMIT,
            reuse_address=True,
        )
        sockname = self._server.sockets[0].getsockname()
        return str(sockname[0]), int(sockname[1])

    async def close(self, grace: float = 5.0) -> None:
        self._closing = True
        if self._server is not None:
            self._server.close()
        for task, busy in list(self._connections.items()):
            if not busy:
                task.cancel()
        if self._connections:
            _, pending = await asyncio.wait(list(self._connections), timeout=grace)
            for task in pending:
                task.cancel()
            if pending:
                await asyncio.wait(pending, timeout=1.0)
        if self._server is not None:
            await self._server.wait_closed()

    async def _connection(self, reader: asyncio.StreamReader,
                          writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._connections[task] = False
        peer = writer.get_extra_info("peername")
        try:
            while not self._closing:
                request = await self._read_request(reader, writer, peer)
                if request is None:
                    break
                self._connections[task] = True
                if not await self._exchange(request, writer):
                    break
                self._connections[task] = False
        except ProtocolError as exc:
            with suppress(ConnectionError, RuntimeError):
                await self._send(writer, "GET", _plain(exc.status, exc.reason), keep=False)
        except (ConnectionError, asyncio.CancelledError, ssl.SSLError, TimeoutError):
            pass
        except Exception:
            log.exception("connection from %s failed", peer)
        finally:
            self._connections.pop(task, None)
            with suppress(Exception):
                writer.close()

    async def _read_request(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
                            peer: object) -> Request | None:
        first = await reader.read(1)
        if not first:
            return None
        if first == _TLS_HANDSHAKE and self._ssl is None:
            # A client trying TLS first (docker does, for insecure registries): close now so it
            # falls back to plain HTTP instead of waiting out its handshake timeout.
            log.debug("closing TLS handshake from %s on a plain HTTP port", peer)
            return None
        try:
            data = first + await reader.readuntil(b"\r\n\r\n")
        except asyncio.IncompleteReadError as exc:
            if (first + exc.partial).strip():
                raise ProtocolError(400, "request head ended early") from exc
            return None
        except asyncio.LimitOverrunError as exc:
            raise ProtocolError(431, "request header fields too large") from exc
        if len(data) > MAX_HEAD:
            raise ProtocolError(431, "request header fields too large")
        method, target, version, headers = _parse_head(data.lstrip(b"\r\n"))
        continue_owed = (headers.get("expect") or "").lower() == "100-continue"

        async def send_continue() -> None:
            if continue_owed and version == "HTTP/1.1":
                writer.write(b"HTTP/1.1 100 Continue\r\n\r\n")
                await writer.drain()

        body = _body(reader, headers, send_continue)
        split = urlsplit(target)
        keep = _keep_alive(version, headers)
        query = parse_qs(split.query, keep_blank_values=True)
        return Request(method, unquote(split.path), query, headers, body,
                       secure=self._ssl is not None, peer=str(peer), target=target,
                       keep_alive=keep)

    async def _exchange(self, request: Request, writer: asyncio.StreamWriter) -> bool:
        started = time.monotonic()
        response = await self._call(request)
        keep = request.keep_alive and not response.close and not self._closing
        body = request.body
        if not body.finished:
            if not body.started and "expect" in request.headers:
                keep = False  # the client waits for 100 Continue; it never sends this body
            elif not await body.skip(DRAIN_LIMIT):
                keep = False
        try:
            await self._send(writer, request.method, response, keep)
        finally:
            if response.file is not None:
                response.file.close()
        log.debug("%s %s -> %d (%.1f ms)", request.method, request.target, response.status,
                  (time.monotonic() - started) * 1000)
        if not keep and not body.finished:
            await _linger(writer, body)
        return keep

    async def _call(self, request: Request) -> Response:
        try:
            return await self._app(request)
        except Exception:
            log.exception("%s %s failed", request.method, request.path)
            return _plain(500, "internal server error")

    async def _send(self, writer: asyncio.StreamWriter, method: str, response: Response,
                    keep: bool) -> None:
        length = response.length if response.length is not None else len(response.body)
        lines = [f"HTTP/1.1 {response.status} {_reason(response.status)}",
                 f"Date: {self._now()}", f"Server: {self._server_name}"]
        lines += [f"{k}: {v}" for k, v in response.headers.items()]
        if response.status not in (204, 304) and response.status >= 200:
            lines.append(f"Content-Length: {length}")
        if not keep:
            lines.append("Connection: close")
        head = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")
        if method == "HEAD" or response.status in (204, 304):
            writer.write(head)
        elif response.file is not None:
            writer.write(head)
            await writer.drain()
            loop = asyncio.get_running_loop()
            await loop.sendfile(writer.transport, response.file, response.file_offset, length)
        else:
            writer.write(head + response.body)
        await writer.drain()

    def _now(self) -> str:
        second = int(time.time())
        if self._date[1] != second:
            self._date = (formatdate(second, usegmt=True), second)
        return self._date[0]


def _parse_head(data: bytes) -> tuple[str, str, str, Headers]:
    try:
        text = data.decode("latin-1")
    except UnicodeDecodeError as exc:  # pragma: no cover - latin-1 decodes every byte
        raise ProtocolError(400, "undecodable request head") from exc
    lines = text.split("\r\n")
    parts = lines[0].split(" ")
    if len(parts) != 3 or not parts[0].isalpha() or not parts[1]:
        raise ProtocolError(400, "malformed request line")
    method, target, version = parts
    if version not in ("HTTP/1.1", "HTTP/1.0"):
        raise ProtocolError(505, f"unsupported protocol version {version[:20]!r}")
    headers = Headers()
    for line in lines[1:]:
        if not line:
            continue
        name, sep, value = line.partition(":")
        if not sep or not name or name != name.strip() or " " in name:
            raise ProtocolError(400, "malformed header field")
        headers.add(name, value.strip(" \t"))
    return method, target, version, headers


def _body(reader: asyncio.StreamReader, headers: Headers,
          on_first_read: Callable[[], Awaitable[None]]) -> Body:
    coding = headers.get("transfer-encoding")
    if coding is not None:
        if coding.split(",")[-1].strip().lower() != "chunked":
            raise ProtocolError(501, f"unsupported transfer coding {coding[:40]!r}")
        headers.pop("content-length")
        return Body(reader, None, chunked=True, on_first_read=on_first_read)
    text = headers.get("content-length")
    if text is None:
        return Body(reader, 0)
    values = {v.strip() for v in text.split(",")}
    if len(values) != 1 or not (value := values.pop()).isdigit() or len(value) > 18:
        raise ProtocolError(400, f"bad content-length {text[:40]!r}")
    return Body(reader, int(value), on_first_read=on_first_read)


def _keep_alive(version: str, headers: Headers) -> bool:
    tokens = {t.strip().lower() for t in (headers.get("connection") or "").split(",")}
    if version == "HTTP/1.0":
        return "keep-alive" in tokens
    return "close" not in tokens


def _reason(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Unknown"


def _plain(status: int, text: str) -> Response:
    return Response(status, {"Content-Type": "text/plain; charset=utf-8"},
                    (text + "\n").encode(), close=True)


async def _linger(writer: asyncio.StreamWriter, body: Body, timeout: float = 1.0) -> None:
    """Half-close, then drop what the client still sends for a moment, so closing with unread
    input does not reset the connection before the client has read the response."""
    with suppress(Exception):
        if writer.can_write_eof():
            writer.write_eof()
        async with asyncio.timeout(timeout):
            while await body.read():
                pass
