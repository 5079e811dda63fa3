"""The HTTP/1.1 server over a real unix socket in tmp_path, driven by raw socket clients."""

from __future__ import annotations

import asyncio
import hashlib
import logging
import socket
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from dockyard.api.http import (
    Hijack,
    Request,
    Response,
    Upgraded,
    empty,
    json_response,
    run_blocking,
)
from dockyard.api.server import bind_unix
from dockyard.api.wire import chunk
from dockyard.errors import Conflict, InvalidArgument

from .conftest import RawClient, serving


async def echo(request: Request) -> Response:
    data = await request.body.read()
    return Response(200, {"Content-Type": "text/plain", "X-Path": request.path}, data)


def run(coro: object) -> None:
    asyncio.run(coro)  # type: ignore[arg-type]


def test_keep_alive_serves_several_requests_on_one_connection(tmp_path: Path) -> None:
    async def main() -> None:
        async with serving(echo, tmp_path / "s.sock"):
            client = await RawClient.open(tmp_path / "s.sock")
            first = await client.request("POST", "/a", b"one")
            second = await client.request("POST", "/b?x=1", b"two")
            await client.close()
        assert (first.status, first.body, first.headers["X-Path"]) == (200, b"one", "/a")
        assert (second.status, second.body, second.headers["X-Path"]) == (200, b"two", "/b")
        assert first.headers["Api-Version"] == "1.41"
        assert first.headers["Server"] == "Docker/test (linux)"
        assert first.headers["Content-Length"] == "3"
        assert "Date" in first.headers

    run(main())


def test_pipelined_requests_are_answered_in_order(tmp_path: Path) -> None:
    async def main() -> None:
        async with serving(echo, tmp_path / "s.sock"):
            client = await RawClient.open(tmp_path / "s.sock")
            await client.send(
                b"POST /1 HTTP/1.1\r\nContent-Length: 1\r\n\r\naPOST /2 HTTP/1.1\r\n"
                b"Content-Length: 1\r\n\r\nb"
            )
            replies = [await client.reply(), await client.reply()]
            await client.close()
        assert [r.body for r in replies] == [b"a", b"b"]

    run(main())


def test_connection_close_and_http10(tmp_path: Path) -> None:
    async def main() -> None:
        async with serving(echo, tmp_path / "s.sock"):
            client = await RawClient.open(tmp_path / "s.sock")
            reply = await client.request("GET", "/", headers={"Connection": "close"})
            assert reply.headers["Connection"] == "close"
            assert await client.at_eof()
            await client.close()
            old = await RawClient.open(tmp_path / "s.sock")
            await old.send(b"GET /old HTTP/1.0\r\n\r\n")
            reply = await old.reply()
            assert reply.headers["X-Path"] == "/old"
            assert await old.at_eof()
            await old.close()

    run(main())


def test_chunked_request_body_with_extensions_and_trailers(tmp_path: Path) -> None:
    async def main() -> None:
        async with serving(echo, tmp_path / "s.sock"):
            client = await RawClient.open(tmp_path / "s.sock")
            await client.send(b"POST /load HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n")
            for part in (b"5;name=v\r\nhel", b"lo\r\n", b"1", b"\r\n \r\n0\r\nX-T: 1\r\n", b"\r\n"):
                await client.send(part)
                await asyncio.sleep(0.01)
            reply = await client.reply()
            again = await client.request("POST", "/after", b"x")
            await client.close()
        assert (reply.status, reply.body) == (200, b"hello ")
        assert (again.status, again.body) == (200, b"x")

    run(main())


def test_bad_chunked_body_is_400_and_closes(tmp_path: Path) -> None:
    async def main() -> None:
        async with serving(echo, tmp_path / "s.sock"):
            client = await RawClient.open(tmp_path / "s.sock")
            await client.send(b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n")
            reply = await client.reply()
            assert reply.status == 400
            assert b"malformed chunk size" in reply.body
            assert await client.at_eof()
            await client.close()

    run(main())


@pytest.mark.parametrize(
    "head",
    [
        b"GET / HTTP/1.1\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n",
        b"GET / HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n",
        b"GET / HTTP/1.1\r\nContent-Length: -1\r\n\r\n",
        b"GET / HTTP/1.1\r\nHost : x\r\n\r\n",
        b"GET / HTTP/1.1\r\nX: a\r\n folded\r\n\r\n",
        b"GET /\r\n\r\n",
        b"GET nothing HTTP/1.1\r\n\r\n",
    ],
)
def test_malformed_heads_are_refused_with_400(tmp_path: Path, head: bytes) -> None:
    async def main() -> None:
        async with serving(echo, tmp_path / "s.sock"):
            client = await RawClient.open(tmp_path / "s.sock")
            await client.send(head)
            reply = await client.reply()
            assert reply.status == 400
            assert reply.headers["Connection"] == "close"
            assert await client.at_eof()
            await client.close()

    run(main())


def test_unsupported_transfer_coding_and_version(tmp_path: Path) -> None:
    async def main() -> None:
        async with serving(echo, tmp_path / "s.sock"):
            for head, status in [
                (b"POST / HTTP/1.1\r\nTransfer-Encoding: gzip\r\n\r\n", 501),
                (b"GET / HTTP/2.0\r\n\r\n", 505),
            ]:
                client = await RawClient.open(tmp_path / "s.sock")
                await client.send(head)
                assert (await client.reply()).status == status
                await client.close()

    run(main())


def test_expect_100_continue_is_answered_when_the_handler_reads(tmp_path: Path) -> None:
    async def main() -> None:
        async with serving(echo, tmp_path / "s.sock"):
            client = await RawClient.open(tmp_path / "s.sock")
            await client.send(
                b"PUT /x HTTP/1.1\r\nContent-Length: 4\r\nExpect: 100-continue\r\n\r\n"
            )
            status, reason, _ = await client.head()
            assert (status, reason) == (100, "Continue")
            await client.send(b"data")
            reply = await client.reply()
            await client.close()
        assert (reply.status, reply.body) == (200, b"data")

    run(main())


def test_expect_100_continue_not_sent_when_the_body_is_not_read(tmp_path: Path) -> None:
    async def refuse(request: Request) -> Response:
        return json_response({"message": "no"}, 404)

    async def main() -> None:
        async with serving(refuse, tmp_path / "s.sock"):
            client = await RawClient.open(tmp_path / "s.sock")
            await client.send(
                b"PUT /x HTTP/1.1\r\nContent-Length: 4\r\nExpect: 100-continue\r\n\r\n"
            )
            reply = await client.reply()
            assert reply.status == 404
            assert await client.at_eof()  # the body never came, so the connection cannot go on
            await client.close()

    run(main())


def test_unread_body_is_skipped_to_keep_the_connection(tmp_path: Path) -> None:
    async def ignore(request: Request) -> Response:
        return empty()

    async def main() -> None:
        async with serving(ignore, tmp_path / "s.sock"):
            client = await RawClient.open(tmp_path / "s.sock")
            first = await client.request("POST", "/", b"x" * 100_000)
            second = await client.request("POST", "/", b"y")
            await client.close()
        assert (first.status, second.status) == (204, 204)
        assert "Content-Length" not in first.headers

    run(main())


def test_streaming_response_flushes_headers_and_each_chunk(tmp_path: Path) -> None:
    async def main() -> None:
        step: asyncio.Queue[bytes] = asyncio.Queue()

        async def stream() -> AsyncIterator[bytes]:
            while (item := await step.get()) != b"end":
                yield item

        async def handler(request: Request) -> Response:
            if request.path != "/wait":
                return empty(200)
            return Response(200, {"Content-Type": "application/json"}, stream())

        async with serving(handler, tmp_path / "s.sock"):
            client = await RawClient.open(tmp_path / "s.sock")
            await client.send(b"POST /wait HTTP/1.1\r\n\r\n")
            status, _, headers = await client.head()  # before any chunk exists
            assert (status, headers["Transfer-Encoding"]) == (200, "chunked")
            step.put_nowait(b"first\n")
            assert await client.next_chunk() == b"first\n"
            step.put_nowait(b"second\n")
            assert await client.next_chunk() == b"second\n"
            step.put_nowait(b"end")
            assert await client.next_chunk() == b""
            assert (await client.request("GET", "/next")).status == 200
            await client.close()

    run(main())


def test_head_sends_no_body(tmp_path: Path) -> None:
    async def ping(request: Request) -> Response:
        return Response(200, {"Content-Type": "text/plain"}, b"" if request.method == "HEAD"
                        else b"OK")

    async def main() -> None:
        async with serving(ping, tmp_path / "s.sock"):
            client = await RawClient.open(tmp_path / "s.sock")
            head = await client.request("HEAD", "/_ping")
            get = await client.request("GET", "/_ping")
            await client.close()
        assert (head.status, head.headers["Content-Length"]) == (200, "0")
        assert get.body == b"OK"

    run(main())


def test_connections_are_served_concurrently(tmp_path: Path) -> None:
    async def main() -> None:
        release = asyncio.Event()

        async def handler(request: Request) -> Response:
            if request.path == "/slow":
                await release.wait()
            return Response(200, {}, request.path.encode())

        async with serving(handler, tmp_path / "s.sock"):
            slow = await RawClient.open(tmp_path / "s.sock")
            await slow.send(b"GET /slow HTTP/1.1\r\n\r\n")
            fast = await RawClient.open(tmp_path / "s.sock")
            assert (await fast.request("GET", "/fast")).body == b"/fast"
            release.set()
            assert (await slow.reply()).body == b"/slow"
            await slow.close()
            await fast.close()

    run(main())


def test_client_half_close_sets_disconnected_during_a_stream(tmp_path: Path) -> None:
    async def main() -> None:
        async def stream(request: Request) -> AsyncIterator[bytes]:
            yield b"waiting\n"
            await request.disconnected.wait()
            yield b"cancelled\n"

        async def handler(request: Request) -> Response:
            return Response(200, {}, stream(request))

        async with serving(handler, tmp_path / "s.sock"):
            client = await RawClient.open(tmp_path / "s.sock")
            await client.send(b"POST /wait HTTP/1.1\r\nContent-Length: 0\r\n\r\n")
            await client.head()
            assert await client.next_chunk() == b"waiting\n"
            client.writer.write_eof()
            assert await client.next_chunk() == b"cancelled\n"
            assert await client.next_chunk() == b""
            await client.close()

    run(main())


def test_hijack_keeps_output_open_after_client_half_close(tmp_path: Path) -> None:
    async def main() -> None:
        async def upgraded(stream: Upgraded) -> None:
            received = b""
            while data := await stream.read():
                received += data
            await stream.write(b"got " + received)
            await asyncio.sleep(0.05)
            await stream.write(b" and more after your EOF")

        async def attach(request: Request) -> Response:
            return Hijack(on_upgrade=upgraded)

        async with serving(attach, tmp_path / "s.sock"):
            sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            sock.setblocking(False)
            loop = asyncio.get_running_loop()
            await loop.sock_connect(sock, str(tmp_path / "s.sock"))
            await loop.sock_sendall(
                sock,
                b"POST /containers/x/attach?stream=1 HTTP/1.1\r\nContent-Length: 0\r\n"
                b"Connection: Upgrade\r\nUpgrade: tcp\r\n\r\nearly ",
            )
            head = b""
            while b"\r\n\r\n" not in head:
                head += await loop.sock_recv(sock, 1)
            await loop.sock_sendall(sock, b"stdin")
            sock.shutdown(socket.SHUT_WR)
            out = b""
            while data := await asyncio.wait_for(loop.sock_recv(sock, 4096), 5):
                out += data
            sock.close()
        assert head == (
            b"HTTP/1.1 101 UPGRADED\r\nContent-Type: application/vnd.docker.raw-stream\r\n"
            b"Connection: Upgrade\r\nUpgrade: tcp\r\n\r\n"
        )
        assert out == b"got early stdin and more after your EOF"

    run(main())


def test_hijack_without_upgrade_header_answers_200(tmp_path: Path) -> None:
    async def main() -> None:
        async def upgraded(stream: Upgraded) -> None:
            await stream.write(b"raw")

        async def attach(request: Request) -> Response:
            return Hijack(on_upgrade=upgraded)

        async with serving(attach, tmp_path / "s.sock"):
            client = await RawClient.open(tmp_path / "s.sock")
            await client.send(b"POST /attach HTTP/1.1\r\n\r\n")
            status, _, headers = await client.head()
            rest = await client.reader.read()
            await client.close()
        assert (status, headers, rest) == (
            200, {"Content-Type": "application/vnd.docker.raw-stream"}, b"raw"
        )

    run(main())


def test_a_failing_stream_aborts_without_the_last_chunk(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    async def main() -> None:
        async def stream() -> AsyncIterator[bytes]:
            yield b"part"
            raise RuntimeError("disk on fire")

        async def handler(request: Request) -> Response:
            return Response(200, {}, stream())

        async with serving(handler, tmp_path / "s.sock"):
            client = await RawClient.open(tmp_path / "s.sock")
            await client.send(b"GET / HTTP/1.1\r\n\r\n")
            await client.head()
            assert await client.next_chunk() == b"part"
            with pytest.raises((asyncio.IncompleteReadError, ConnectionError)):
                await client.next_chunk()
            await client.close()

    with caplog.at_level(logging.ERROR):
        run(main())
    assert "disk on fire" in caplog.text


def test_close_ends_idle_connections_and_waits_for_busy_ones(tmp_path: Path) -> None:
    async def main() -> None:
        release = asyncio.Event()

        async def handler(request: Request) -> Response:
            if request.path == "/slow":
                await release.wait()
            return Response(200, {}, b"done")

        async with serving(handler, tmp_path / "s.sock") as server:
            idle = await RawClient.open(tmp_path / "s.sock")
            await idle.request("GET", "/")
            busy = await RawClient.open(tmp_path / "s.sock")
            await busy.send(b"GET /slow HTTP/1.1\r\n\r\n")
            await asyncio.sleep(0.05)
            closing = asyncio.create_task(server.close())
            assert await idle.at_eof()
            release.set()
            reply = await busy.reply()
            assert (reply.body, reply.headers["Connection"]) == (b"done", "close")
            await closing
            await idle.close()
            await busy.close()

    run(main())


def test_bind_unix_replaces_a_stale_socket_and_refuses_a_live_one(tmp_path: Path) -> None:
    path = tmp_path / "d.sock"
    stale = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    stale.bind(str(path))
    stale.close()  # the file stays, nobody listens
    live = bind_unix(path, mode=0o660, uid=-1, gid=-1)
    try:
        assert path.stat().st_mode & 0o777 == 0o660
        with pytest.raises(Conflict, match="another daemon is listening on"):
            bind_unix(path, uid=-1, gid=-1)
    finally:
        live.close()
    path.unlink()
    path.write_text("not a socket")
    with pytest.raises(Conflict, match="is not a socket"):
        bind_unix(path, uid=-1, gid=-1)


def test_large_chunked_body_streams_into_a_worker_thread(tmp_path: Path) -> None:
    payload = bytes(range(256)) * 20_000  # 5 MB: reading pauses and resumes many times

    async def digest(request: Request) -> Response:
        reader = request.body.sync_reader()
        result = await run_blocking(lambda: hashlib.sha256(reader.read()).hexdigest())
        return Response(200, {}, result.encode())

    async def main() -> None:
        async with serving(digest, tmp_path / "s.sock"):
            client = await RawClient.open(tmp_path / "s.sock")
            await client.send(b"POST /images/load HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n")
            for start in range(0, len(payload), 32_768):
                await client.send(chunk(payload[start : start + 32_768]))
            await client.send(b"0\r\n\r\n")
            reply = await client.reply()
            await client.close()
        assert reply.body == hashlib.sha256(payload).hexdigest().encode()

    run(main())


def test_big_heads_are_read_and_too_big_ones_refused(tmp_path: Path) -> None:
    async def main() -> None:
        async with serving(echo, tmp_path / "s.sock"):
            client = await RawClient.open(tmp_path / "s.sock")
            auth = "a" * 400_000  # above the read buffer's pause mark
            reply = await client.request("GET", "/big", headers={"X-Registry-Auth": auth})
            assert reply.status == 200
            await client.send(b"GET / HTTP/1.1\r\nX: " + b"b" * (1 << 21) + b"\r\n\r\n")
            assert (await client.reply()).status == 431
            await client.close()

    run(main())


def test_a_big_unread_body_still_lets_the_client_read_the_answer(tmp_path: Path) -> None:
    async def refuse(request: Request) -> Response:
        return json_response({"message": "page not found"}, 404)

    async def main() -> None:
        async with serving(refuse, tmp_path / "s.sock"):
            client = await RawClient.open(tmp_path / "s.sock")
            reply = await client.request("POST", "/nosuch", b"z" * (3 << 20))
            assert reply.status == 404
            assert await client.at_eof()
            await client.close()

    run(main())


def test_a_socket_path_too_long_is_refused_by_name(tmp_path: Path) -> None:
    path = tmp_path / ("d" * 120) / "dockyard.sock"
    with pytest.raises(InvalidArgument, match=r"is too long: a unix socket path"):
        bind_unix(path, uid=-1, gid=-1)
    assert not path.parent.exists()
