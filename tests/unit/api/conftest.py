"""A server on a unix socket in tmp_path, and a raw HTTP client that reads responses byte-exact."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress
from dataclasses import dataclass
from pathlib import Path

from dockyard.api.server import App, Server, bind_unix

HEADERS = {"Api-Version": "1.41", "Server": "Docker/test (linux)"}


@asynccontextmanager
async def serving(app: App, socket_path: Path, grace: float = 2.0) -> AsyncIterator[Server]:
    server = Server(app, HEADERS, grace=grace)
    await server.listen(bind_unix(socket_path, uid=-1, gid=-1))
    try:
        yield server
    finally:
        await server.close()


@dataclass
class Reply:
    status: int
    reason: str
    headers: dict[str, str]
    body: bytes
    chunks: list[bytes]


class RawClient:
    """Speaks bytes; parses responses strictly enough to catch framing mistakes."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer

    @classmethod
    async def open(cls, path: Path) -> RawClient:
        reader, writer = await asyncio.open_unix_connection(str(path))
        return cls(reader, writer)

    async def send(self, data: bytes) -> None:
        self.writer.write(data)
        await self.writer.drain()

    async def head(self) -> tuple[int, str, dict[str, str]]:
        data = await asyncio.wait_for(self.reader.readuntil(b"\r\n\r\n"), 5)
        lines = data.decode("latin-1").split("\r\n")
        _, status, reason = lines[0].split(" ", 2)
        headers = {}
        for line in lines[1:-2]:
            name, _, value = line.partition(":")
            headers[name.strip()] = value.strip()
        return int(status), reason, headers

    async def next_chunk(self) -> bytes:
        size = int((await asyncio.wait_for(self.reader.readuntil(b"\r\n"), 5)).strip(), 16)
        data = await self.reader.readexactly(size + 2)
        assert data[-2:] == b"\r\n"
        return data[:-2]

    async def reply(self, *, head_only: bool = False) -> Reply:
        status, reason, headers = await self.head()
        chunks: list[bytes] = []
        body = b""
        if head_only:
            pass
        elif headers.get("Transfer-Encoding") == "chunked":
            while piece := await self.next_chunk():
                chunks.append(piece)
            body = b"".join(chunks)
        elif "Content-Length" in headers:
            body = await self.reader.readexactly(int(headers["Content-Length"]))
        return Reply(status, reason, headers, body, chunks)

    async def request(self, method: str, target: str, body: bytes | None = None,
                      headers: dict[str, str] | None = None) -> Reply:
        lines = [f"{method} {target} HTTP/1.1", "Host: docker"]
        for name, value in (headers or {}).items():
            lines.append(f"{name}: {value}")
        if body is not None:
            lines.append(f"Content-Length: {len(body)}")
        await self.send(("\r\n".join(lines) + "\r\n\r\n").encode() + (body or b""))
        return await self.reply(head_only=method == "HEAD")

    async def at_eof(self) -> bool:
        return await asyncio.wait_for(self.reader.read(1), 5) == b""

    async def close(self) -> None:
        self.writer.close()
        with suppress(ConnectionError):
            await self.writer.wait_closed()
