"""One client connection as a byte channel: a buffered reader and a writer over a transport.

asyncio's StreamReader cannot wait for "data or end of input" without consuming, which the server
needs to notice a client that hangs up while a streaming response runs (dockerd cancels the
request then). So the server uses this small protocol instead. It keeps the transport open when
the client half-closes (``eof_received`` returns True): after ``shutdown(SHUT_WR)`` from the client
the daemon can still write, as a hijacked attach stream must.

Flow control: reading pauses while more than ``HIGH_WATER`` bytes wait unread; ``drain()`` waits
while the transport's write buffer is above its limit.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from typing import Any

HIGH_WATER = 256 * 1024


class ChannelClosed(ConnectionError):
    """The peer went away while we wrote, or the channel was closed."""


class Channel(asyncio.Protocol):
    """A connection's buffered input and its output; ``serve`` runs once the transport exists."""

    def __init__(self, serve: Callable[[Channel], Coroutine[Any, Any, None]]) -> None:
        self._serve = serve
        self._transport: asyncio.Transport | None = None
        self._buffer = bytearray()
        self._eof = False
        self._lost = False
        self._paused_reading = False
        self._data_waiter: asyncio.Future[None] | None = None
        self._drain_waiter: asyncio.Future[None] | None = None
        self._paused_writing = False
        self._closed = asyncio.get_running_loop().create_future()
        self.task: asyncio.Task[None] | None = None

    # -- asyncio.Protocol ---------------------------------------------------------------------
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self._transport = transport
        self.task = asyncio.get_running_loop().create_task(self._serve(self))

    def data_received(self, data: bytes) -> None:
        self._buffer += data
        self._wake_reader()
        if len(self._buffer) > HIGH_WATER and not self._paused_reading and self._transport:
            self._paused_reading = True
            self._transport.pause_reading()

    def eof_received(self) -> bool:
        self._eof = True
        self._wake_reader()
        return True  # keep the write side open (half-close)

    def connection_lost(self, exc: Exception | None) -> None:
        self._eof = True
        self._lost = True
        self._wake_reader()
        waiter, self._drain_waiter = self._drain_waiter, None
        if waiter is not None and not waiter.done():
            waiter.set_exception(ChannelClosed("connection lost"))
        if not self._closed.done():
            self._closed.set_result(None)

    def pause_writing(self) -> None:
        self._paused_writing = True

    def resume_writing(self) -> None:
        self._paused_writing = False
        waiter, self._drain_waiter = self._drain_waiter, None
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    # -- reading ------------------------------------------------------------------------------
    @property
    def at_eof(self) -> bool:
        """The client sent all it will send, and everything it sent has been read."""
        return self._eof and not self._buffer

    @property
    def buffered(self) -> int:
        return len(self._buffer)

    def _wake_reader(self) -> None:
        waiter, self._data_waiter = self._data_waiter, None
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    async def _more(self) -> None:
        """The consumer needs bytes beyond what is buffered: wait for them, resuming reading."""
        if self._paused_reading and self._transport is not None:
            self._paused_reading = False
            self._transport.resume_reading()
        self._data_waiter = asyncio.get_running_loop().create_future()
        await self._data_waiter

    async def wait_readable(self) -> None:
        """Return once unread data is buffered or the input has ended, consuming nothing."""
        while not self._buffer and not self._eof:
            self._data_waiter = asyncio.get_running_loop().create_future()
            await self._data_waiter

    def _take(self, n: int) -> bytes:
        data = bytes(self._buffer[:n])
        del self._buffer[:n]
        if self._paused_reading and len(self._buffer) <= HIGH_WATER // 2 and self._transport:
            self._paused_reading = False
            self._transport.resume_reading()
        return data

    async def read(self, limit: int) -> bytes:
        """Up to ``limit`` bytes, waiting for at least one; b"" once the input has ended."""
        await self.wait_readable()
        return self._take(limit)

    async def read_exactly(self, n: int) -> bytes:
        """Exactly ``n`` bytes; ``asyncio.IncompleteReadError`` if the input ends first."""
        while len(self._buffer) < n:
            if self._eof:
                raise asyncio.IncompleteReadError(bytes(self._buffer), n)
            await self._more()
        return self._take(n)

    async def read_until(self, separator: bytes, limit: int) -> bytes:
        """Bytes up to and including ``separator``. Raises ``asyncio.LimitOverrunError`` when
        ``limit`` bytes hold no separator, ``asyncio.IncompleteReadError`` at end of input."""
        start = 0
        while True:
            found = self._buffer.find(separator, start)
            if found >= 0:
                return self._take(found + len(separator))
            if len(self._buffer) > limit:
                raise asyncio.LimitOverrunError("separator not found within the limit", limit)
            if self._eof:
                raise asyncio.IncompleteReadError(bytes(self._buffer), None)
            start = max(0, len(self._buffer) - len(separator) + 1)
            await self._more()

    def strip_leading(self, chars: bytes) -> None:
        """Drop leading bytes in ``chars`` (RFC 9112 2.2: ignore empty lines before a request)."""
        n = 0
        while n < len(self._buffer) and self._buffer[n] in chars:
            n += 1
        if n:
            self._take(n)

    # -- writing ------------------------------------------------------------------------------
    @property
    def lost(self) -> bool:
        return self._lost

    def write(self, data: bytes) -> None:
        if self._lost or self._transport is None or self._transport.is_closing():
            raise ChannelClosed("connection closed")
        self._transport.write(data)

    async def drain(self) -> None:
        if self._lost:
            raise ChannelClosed("connection lost")
        if self._paused_writing:
            self._drain_waiter = asyncio.get_running_loop().create_future()
            await self._drain_waiter

    def write_eof(self) -> None:
        if self._transport is not None and not self._transport.is_closing():
            self._transport.write_eof()

    def close(self) -> None:
        if self._transport is not None:
            self._transport.close()

    def abort(self) -> None:
        if self._transport is not None:
            self._transport.abort()

    async def wait_closed(self) -> None:
        await asyncio.shield(self._closed)
