"""The HTTP/1.1 server of the Engine API, on unix sockets.

One task per connection reads a request head, hands a :class:`Request` to the application (the
router), writes the response, and repeats while the connection is kept alive. Connections are
served concurrently; the docker CLI opens several at once (``docker run`` uses three).

A response body given as bytes goes out with Content-Length. One given as an async iterator goes
out chunked: the status line and headers are flushed at once, then each chunk as it is produced
(wait, events, pull progress). A :class:`Hijack` response turns the connection into a raw stream.
``Expect: 100-continue`` is answered when the handler first reads the body, as Go's server does.

Shutdown (``close``): stop accepting, close idle keep-alive connections, let requests in flight
finish for a grace period, then cancel what is left.
"""

from __future__ import annotations

import asyncio
import errno
import logging
import os
import socket
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from contextlib import suppress
from pathlib import Path

from dockyard.api.channel import Channel, ChannelClosed
from dockyard.api.http import (
    Body,
    Hijack,
    Request,
    Response,
    Upgraded,
    error_response,
    message_response,
)
from dockyard.api.wire import (
    CONTINUE,
    LAST_CHUNK,
    MAX_CHUNK_LINE,
    MAX_HEAD,
    DateCache,
    ProtocolError,
    RequestHead,
    chunk,
    parse_chunk_size,
    parse_head,
    response_head,
)
from dockyard.errors import Conflict, DockyardError, InvalidArgument, SystemCallError

log = logging.getLogger(__name__)

App = Callable[[Request], Awaitable[Response]]

DRAIN_LIMIT = 1 << 20  # unread request body we skip to keep a connection alive (Go: 256 KiB)


class _FixedSource:
    """A Content-Length body."""

    def __init__(self, channel: Channel, length: int) -> None:
        self._channel = channel
        self._left = length
        self._length = length

    async def next(self, limit: int) -> bytes:
        if self._left == 0:
            return b""
        data = await self._channel.read(min(limit, self._left))
        if not data:
            got = self._length - self._left
            raise InvalidArgument(f"request body ended after {got} of {self._length} bytes")
        self._left -= len(data)
        return data


class _ChunkedSource:
    """A ``Transfer-Encoding: chunked`` body (RFC 9112 7.1); trailer fields are read and dropped."""

    def __init__(self, channel: Channel) -> None:
        self._channel = channel
        self._left = 0
        self._need_crlf = False
        self._done = False
        self._error: str | None = None

    async def next(self, limit: int) -> bytes:
        if self._error is not None:
            raise InvalidArgument(self._error)
        try:
            return await self._next(limit)
        except ProtocolError as exc:
            self._error = f"bad chunked request body: {exc.reason}"
        except (asyncio.IncompleteReadError, asyncio.LimitOverrunError):
            self._error = "bad chunked request body: truncated or malformed"
        raise InvalidArgument(self._error)

    async def _next(self, limit: int) -> bytes:
        if self._done:
            return b""
        if self._left == 0:
            if self._need_crlf and await self._channel.read_exactly(2) != b"\r\n":
                raise ProtocolError(400, "chunk data not followed by CRLF")
            self._need_crlf = False
            size = parse_chunk_size(await self._channel.read_until(b"\r\n", MAX_CHUNK_LINE))
            if size == 0:
                while await self._channel.read_until(b"\r\n", MAX_HEAD) != b"\r\n":
                    pass
                self._done = True
                return b""
            self._left = size
        data = await self._channel.read(min(limit, self._left))
        if not data:
            raise ProtocolError(400, "body ended inside a chunk")
        self._left -= len(data)
        self._need_crlf = self._left == 0
        return data


class Server:
    """Serves ``app`` on listening unix sockets until ``close``."""

    def __init__(self, app: App, headers: Mapping[str, str], *, grace: float = 10.0) -> None:
        self._app = app
        self._headers = dict(headers)
        self._grace = grace
        self._servers: list[asyncio.AbstractServer] = []
        self._channels: dict[Channel, bool] = {}  # channel -> busy with a request
        self._closing = False
        self._dates = DateCache()

    async def listen(self, sock: socket.socket) -> None:
        """Serve on an already bound, listening unix socket."""
        loop = asyncio.get_running_loop()
        server = await loop.create_unix_server(lambda: Channel(self._connection), sock=sock)
        self._servers.append(server)

    async def close(self) -> None:
        self._closing = True
        for server in self._servers:
            server.close()
        for channel, busy in list(self._channels.items()):
            if not busy and channel.task is not None:
                channel.task.cancel()
        tasks = [c.task for c in self._channels if c.task is not None]
        if tasks:
            _, pending = await asyncio.wait(tasks, timeout=self._grace)
            for task in pending:
                task.cancel()
            if pending:
                log.warning("cancelled %d requests still running at shutdown", len(pending))
                await asyncio.wait(pending, timeout=1.0)
        for server in self._servers:
            await server.wait_closed()

    # -- one connection -------------------------------------------------------------------------
    async def _connection(self, channel: Channel) -> None:
        self._channels[channel] = False
        try:
            while not self._closing:
                head = await _read_head(channel)
                if head is None:
                    break
                self._channels[channel] = True
                if not await self._exchange(channel, head):
                    break
                self._channels[channel] = False
        except ProtocolError as exc:
            with suppress(ConnectionError):
                self._refuse(channel, exc)
                await _linger(channel)
        except (ConnectionError, asyncio.CancelledError):
            pass
        except Exception:
            log.exception("connection failed")
        finally:
            self._channels.pop(channel, None)
            channel.close()

    def _refuse(self, channel: Channel, exc: ProtocolError) -> None:
        text = (exc.reason + "\n").encode()
        headers = [
            ("Content-Type", "text/plain; charset=utf-8"),
            ("Connection", "close"),
            ("Content-Length", str(len(text))),
        ]
        channel.write(response_head(exc.status, headers) + text)

    async def _exchange(self, channel: Channel, head: RequestHead) -> bool:
        """One request and its response; returns whether the connection stays open."""
        started = time.monotonic()
        path, query = head.split_target()
        state = _Continue(channel, head.expects_continue)
        body = _body(channel, head, state)
        request = Request(head.method, path, query=query, headers=head.headers, body=body)
        watcher = asyncio.get_running_loop().create_task(_watch(channel, request))
        try:
            response = await _call(self._app, request)
            state.responding = True
            if isinstance(response, Hijack):
                watcher.cancel()
                await self._hijack(channel, head, response)
                return False
            keep = head.keep_alive and not self._closing
            keep = await self._respond(channel, head, response, keep)
        finally:
            watcher.cancel()
        log.debug(
            "%s %s -> %d (%.1f ms)",
            head.method, head.target, response.status, (time.monotonic() - started) * 1000,
        )
        if keep and not body.finished:
            keep = await _skip_body(body, state)
        if not body.finished and not state.pending:
            await _linger(channel)  # the client may still be sending the body we did not read
        return keep

    def _head(self, response: Response, framing: list[tuple[str, str]]) -> bytes:
        headers = {**self._headers, **response.headers}
        headers["Date"] = self._dates.now()
        return response_head(response.status, [*headers.items(), *framing])

    async def _respond(
        self, channel: Channel, head: RequestHead, response: Response, keep: bool
    ) -> bool:
        framing: list[tuple[str, str]] = [] if keep else [("Connection", "close")]
        if head.minor == 0 and keep:
            framing = [("Connection", "keep-alive")]
        body = response.body
        no_body = head.method == "HEAD" or response.status in (204, 304)
        if isinstance(body, bytes):
            if response.status not in (204, 304):
                framing.append(("Content-Length", str(len(body))))
            channel.write(self._head(response, framing) + (b"" if no_body else body))
            await channel.drain()
            return keep
        if no_body:
            await _close_iterator(body)
            channel.write(self._head(response, framing))
            await channel.drain()
            return keep
        return await self._stream(channel, head, response, framing, keep)

    async def _stream(
        self,
        channel: Channel,
        head: RequestHead,
        response: Response,
        framing: list[tuple[str, str]],
        keep: bool,
    ) -> bool:
        body = response.body
        assert not isinstance(body, bytes)
        chunked = head.minor == 1
        if chunked:
            framing.append(("Transfer-Encoding", "chunked"))
        else:  # HTTP/1.0: the end of the body is the end of the connection
            framing = [("Connection", "close")]
            keep = False
        try:
            channel.write(self._head(response, framing))
            await channel.drain()
            async for piece in body:
                if piece:
                    channel.write(chunk(piece) if chunked else piece)
                    await channel.drain()
            if chunked:
                channel.write(LAST_CHUNK)
                await channel.drain()
        except ChannelClosed:
            log.debug("%s %s: client went away during the response", head.method, head.target)
            return False
        except Exception:
            log.exception("%s %s: response stream failed", head.method, head.target)
            channel.abort()  # no last chunk: the client sees a broken body, not a short one
            return False
        finally:
            await _close_iterator(body)
        return keep

    async def _hijack(self, channel: Channel, head: RequestHead, response: Hijack) -> None:
        if "upgrade" in head.headers:
            headers = [
                ("Content-Type", response.content_type),
                ("Connection", "Upgrade"),
                ("Upgrade", "tcp"),
            ]
            channel.write(response_head(101, headers))
        else:
            channel.write(response_head(200, [("Content-Type", response.content_type)]))
        await channel.drain()
        if response.on_upgrade is not None:
            await response.on_upgrade(Upgraded(channel.read, channel))


async def _call(app: App, request: Request) -> Response:
    """The app's response; the router maps errors itself, this is the last line of defence."""
    try:
        return await app(request)
    except DockyardError as exc:
        return error_response(exc)
    except Exception as exc:
        log.exception("%s %s failed", request.method, request.path)
        return message_response(500, str(exc) or type(exc).__name__)


class _Continue:
    """Whether ``100 Continue`` is still owed to the client."""

    def __init__(self, channel: Channel, expected: bool) -> None:
        self._channel = channel
        self.pending = expected
        self.responding = False

    async def send(self) -> None:
        if self.pending and not self.responding:
            self.pending = False
            self._channel.write(CONTINUE)
            await self._channel.drain()


def _body(channel: Channel, head: RequestHead, state: _Continue) -> Body:
    if head.chunked:
        return Body(_ChunkedSource(channel), on_first_read=state.send)
    length = head.content_length
    return Body(_FixedSource(channel, length), on_first_read=state.send, ended=length == 0)


async def _skip_body(body: Body, state: _Continue) -> bool:
    """After the response: skip what the handler left unread, if that is cheap."""
    if state.pending:
        return False  # the client waits for 100 Continue and never sends the body
    try:
        return await body.discard(DRAIN_LIMIT)
    except DockyardError:
        return False


async def _read_head(channel: Channel) -> RequestHead | None:
    """The next request head, or None when the client closed between requests."""
    while True:
        await channel.wait_readable()
        if channel.at_eof:
            return None
        channel.strip_leading(b"\r\n")
        if channel.buffered:
            break
    try:
        data = await channel.read_until(b"\r\n\r\n", MAX_HEAD)
    except asyncio.LimitOverrunError as exc:
        raise ProtocolError(431, "request header fields too large") from exc
    except asyncio.IncompleteReadError:
        return None
    return parse_head(data)


async def _linger(channel: Channel, timeout: float = 1.0, limit: int = 8 << 20) -> None:
    """Half-close, then read and drop what the client still sends for a moment, so closing
    with unread input does not reset the connection before the client reads our answer."""
    channel.write_eof()
    with suppress(TimeoutError):
        async with asyncio.timeout(timeout):
            seen = 0
            while seen < limit and (data := await channel.read(1 << 16)):
                seen += len(data)


async def _watch(channel: Channel, request: Request) -> None:
    """Set ``request.disconnected`` if the client ends its input after sending the body."""
    await request.body.ended.wait()
    await channel.wait_readable()
    if channel.at_eof:
        request.disconnected.set()


async def _close_iterator(body: AsyncIterator[bytes]) -> None:
    close = getattr(body, "aclose", None)
    if close is not None:
        with suppress(Exception):
            await close()


_SUN_PATH_MAX = 107  # sockaddr_un.sun_path is 108 bytes with the terminating NUL (unix(7))


def bind_unix(path: Path, *, mode: int = 0o660, uid: int = 0, gid: int = 0) -> socket.socket:
    """A listening unix socket at ``path``, created with ``mode`` and owner before it appears
    (bound under a temporary name, then renamed over the path). A stale socket is replaced; one
    that answers belongs to a live server and is refused with Conflict."""
    temp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    if len(os.fsencode(temp)) > _SUN_PATH_MAX:
        raise InvalidArgument(
            f"socket path {path} is too long: a unix socket path (with the temporary name it is "
            f"bound under first) must fit in {_SUN_PATH_MAX} bytes"
        )
    refuse_live(path)
    path.parent.mkdir(mode=0o755, parents=True, exist_ok=True)
    with suppress(FileNotFoundError):
        temp.unlink()
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        sock.bind(str(temp))
        os.chmod(temp, mode)
        os.chown(temp, uid, gid)
        os.rename(temp, path)
        sock.listen(128)
    except OSError as exc:
        sock.close()
        with suppress(FileNotFoundError):
            temp.unlink()
        raise SystemCallError("bind", exc.errno or errno.EIO, str(path)) from exc
    sock.setblocking(False)
    return sock


def refuse_live(path: Path) -> None:
    if not os.path.lexists(path):
        return
    if not path.is_socket():
        raise Conflict(f"{path} exists and is not a socket")
    probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        probe.connect(str(path))
    except (ConnectionRefusedError, FileNotFoundError):
        return  # stale: nobody listens
    finally:
        probe.close()
    raise Conflict(f"another daemon is listening on {path}")
