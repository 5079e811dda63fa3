"""The build's JSON stream: every message in order, fewer chunks than messages, errors before
and after the first message, and a client that goes away."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest

from dockyard.api.handlers.build_stream import _Batches, stream_build
from dockyard.api.http import Request, Response
from dockyard.errors import NotFound

Emit = Callable[[dict[str, Any]], None]


async def _chunks(response: Response) -> list[bytes]:
    body = response.body
    assert not isinstance(body, bytes)
    return [piece async for piece in body]


def _run(job: Callable[[Emit, threading.Event], None]) -> tuple[int, list[bytes]]:
    async def main() -> tuple[int, list[bytes]]:
        response = await stream_build(job, Request("POST", "/build"))
        return response.status, await _chunks(response)

    return asyncio.run(main())


def test_messages_arrive_in_order_as_json_lines() -> None:
    cancels: list[threading.Event] = []

    def job(emit: Emit, cancel: threading.Event) -> None:
        cancels.append(cancel)
        for n in range(50):
            emit({"stream": f"line {n}\n"})

    status, chunks = _run(job)
    assert status == 200
    assert b"".join(chunks) == b"".join(b'{"stream":"line %d\\n"}\n' % n for n in range(50))
    assert all(chunk.endswith(b"\n") for chunk in chunks)
    assert not cancels[0].is_set()  # a stream read to its end cancels nothing


def test_messages_emitted_before_the_loop_runs_go_in_one_chunk() -> None:
    async def main() -> tuple[bytes, bool]:
        batches = _Batches(asyncio.get_running_loop(), Request("POST", "/build"))
        batches.emit({"stream": "a"})
        batches.emit({"stream": "b"})
        data, end = await batches.next()
        return data, end is None

    assert asyncio.run(main()) == (b'{"stream":"a"}\n{"stream":"b"}\n', True)


def test_an_error_before_the_first_message_is_raised() -> None:
    def job(emit: Emit, cancel: threading.Event) -> None:
        raise NotFound("no such image: x")

    with pytest.raises(NotFound, match="no such image: x"):
        _run(job)


def test_an_error_after_the_first_message_ends_the_stream() -> None:
    def job(emit: Emit, cancel: threading.Event) -> None:
        emit({"stream": "Step 1/1 : FROM x\n"})
        raise NotFound("gone")

    _, chunks = _run(job)
    assert b"".join(chunks) == (b'{"stream":"Step 1/1 : FROM x\\n"}\n'
                                b'{"errorDetail":{"message":"gone"},"error":"gone"}\n')


def test_a_job_without_messages_answers_an_empty_stream() -> None:
    assert _run(lambda emit, cancel: None) == (200, [])


def test_a_client_that_goes_away_cancels_the_job() -> None:
    started, stopped = threading.Event(), threading.Event()
    seen: list[BaseException] = []

    def job(emit: Emit, cancel: threading.Event) -> None:
        emit({"stream": "first\n"})
        started.set()
        cancel.wait(10)
        try:
            emit({"stream": "after\n"})
        except BrokenPipeError as exc:
            seen.append(exc)
        stopped.set()

    async def main() -> list[bytes]:
        request = Request("POST", "/build")
        response = await stream_build(job, request)
        body = response.body
        assert not isinstance(body, bytes)
        got = [await anext(body)]
        await asyncio.to_thread(started.wait, 10)
        request.disconnected.set()
        with pytest.raises(ConnectionResetError):
            await anext(body)
        await _close(body)
        await asyncio.to_thread(stopped.wait, 10)
        return got

    assert asyncio.run(main()) == [b'{"stream":"first\\n"}\n']
    assert [type(e) for e in seen] == [BrokenPipeError]


async def _close(body: AsyncIterator[bytes]) -> None:
    aclose = getattr(body, "aclose", None)
    if aclose is not None:
        await aclose()
