"""``GET /events``: the engine's events as a stream of JSON lines (``since``, ``until``,
``filters``), as dockerd's ``getEvents``: the headers go out at once, then the buffered events
from ``since``, then live ones until ``until`` passes or the client goes away. An ``until`` in
the past gives only the buffered events."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Protocol

from dockyard.api.http import Request, Response, encode_json
from dockyard.api.router import Route
from dockyard.errors import InvalidArgument
from dockyard.events import Event, Events


class HasEvents(Protocol):
    @property
    def events(self) -> Events: ...


def routes(services: HasEvents) -> list[Route]:
    events = services.events

    async def stream(request: Request) -> Response:
        since = parse_timestamp(request.arg("since") or "", "since")
        until = parse_timestamp(request.arg("until") or "", "until")
        if until and until < since:
            raise InvalidArgument(f"`since` time ({request.arg('since')}) cannot be after "
                                  f"`until` time ({request.arg('until')})")
        filters = request.filters()  # dockerd ignores unknown keys here
        if until and until < events.clock():  # only past events
            return Response(200, {"Content-Type": "application/json"},
                            _lines(events.past(since, until, filters)))
        return Response(200, {"Content-Type": "application/json"},
                        _until_gone(request, events.subscribe(filters, since, until)))

    return [Route("GET", "/events", stream)]


def parse_timestamp(text: str, name: str) -> int:
    """Unix seconds with an optional fraction (``1795811323.5``), as nanoseconds; 0 if empty.
    (The CLI turns durations and dates into this form itself.)"""
    text = text.strip()
    if not text:
        return 0
    seconds, _, fraction = text.partition(".")
    try:
        value = int(seconds) * 10**9
        if fraction:
            value += int((fraction + "000000000")[:9])
    except ValueError as exc:
        raise InvalidArgument(f"failed to parse value as time or duration: \"{text}\"") from exc
    if value < 0:
        raise InvalidArgument(f"invalid value for {name}: {text!r}")
    return value


async def _lines(past: list[Event]) -> AsyncIterator[bytes]:
    for event in past:
        yield encode_json(event.to_json())


async def _until_gone(request: Request, subscription: AsyncIterator[Event]) \
        -> AsyncIterator[bytes]:
    gone = asyncio.ensure_future(request.disconnected.wait())
    try:
        while True:
            step = asyncio.ensure_future(anext(subscription))
            done, _ = await asyncio.wait({step, gone}, return_when=asyncio.FIRST_COMPLETED)
            if step not in done:
                step.cancel()
                with contextlib.suppress(asyncio.CancelledError, StopAsyncIteration):
                    await step
                return
            try:
                event = step.result()
            except StopAsyncIteration:
                return
            yield encode_json(event.to_json())
    finally:
        gone.cancel()
        close = getattr(subscription, "aclose", None)
        if close is not None:
            with contextlib.suppress(Exception):
                await close()
