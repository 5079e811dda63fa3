"""What the container service keeps in memory per container besides its record: the lock
that orders start and removal, the futures of ``/wait`` callers, the attachers waiting for
a start, and whether the container is stopped (for ``logs --follow``)."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

from dockyard.errors import InvalidArgument

CONDITIONS = ("not-running", "next-exit", "removed")


@dataclass(frozen=True, slots=True)
class WaitResult:
    """What ``/wait`` answers: the exit code, and an error message (dockerd's ``Error``)."""

    status: int
    error: str | None = None


@dataclass
class PendingAttach:
    """An attach that arrived before the start: the start connects it to the monitor."""

    flags: str
    connected: asyncio.Future[tuple[asyncio.StreamReader, asyncio.StreamWriter]] = field(
        default_factory=lambda: asyncio.get_running_loop().create_future())


@dataclass
class Live:
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    waiters: list[tuple[str, asyncio.Future[WaitResult]]] = field(default_factory=list)
    pending: list[PendingAttach] = field(default_factory=list)
    stopped: asyncio.Event = field(default_factory=asyncio.Event)
    watcher: asyncio.Task[None] | None = None
    removing: bool = False

    def waiter(self, condition: str) -> asyncio.Future[WaitResult]:
        if condition not in CONDITIONS:
            raise InvalidArgument(f"invalid condition: \"{condition}\"")
        future: asyncio.Future[WaitResult] = asyncio.get_running_loop().create_future()
        self.waiters.append((condition, future))
        return future

    def resolve(self, result: WaitResult, *, removed: bool = False) -> None:
        """An exit wakes not-running and next-exit waiters; a removal wakes everyone."""
        keep = []
        for condition, future in self.waiters:
            if future.done():
                continue
            if removed or condition != "removed":
                future.set_result(result)
            else:
                keep.append((condition, future))
        self.waiters = keep

    def drop_pending(self) -> None:
        for session in self.pending:
            if not session.connected.done():
                session.connected.cancel()
        self.pending.clear()
