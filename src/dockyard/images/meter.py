"""Progress of a transfer: the byte counts a pull or push reports, at dockerd's pace.

A :class:`Meter` reports a count at most every 1 % and 100 ms, as dockerd's progress reader
does; :class:`Counting` meters a reader and stops it when the transfer is cancelled or the
source sends more than the blob's size.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from dockyard.errors import DataCorrupt, Unavailable

#: Called with a layer's short ID, a status ("Downloading"...), and bytes done and total (0, 0
#: when the status has no progress).
Progress = Callable[[str, str, int, int], None]

CHUNK = 1 << 20


class Meter:
    """Reports a byte count at most every 1 % and 100 ms (as dockerd's progress reader)."""

    def __init__(self, progress: Progress, layer_id: str, status: str, total: int,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.progress, self.id, self.status, self.total = progress, layer_id, status, total
        self.clock = clock
        self.step = max(total // 100, 1) if total > 0 else 512 << 10
        self.last, self.last_time, self.current = -1, 0.0, 0

    def add(self, count: int) -> None:
        self.current += count
        now = self.clock()
        if self.current - self.last >= self.step and now - self.last_time >= 0.1:
            self.emit(now)

    def emit(self, now: float | None = None) -> None:
        """Report the count now (unless it was just reported)."""
        if self.current == self.last:
            return
        self.last, self.last_time = self.current, self.clock() if now is None else now
        self.progress(self.id, self.status, self.current, self.total)


class Counting:
    """A reader that meters what passes and stops when the pull is cancelled or the source
    sends more than the blob's size."""

    def __init__(self, read: Callable[[int], bytes], meter: Meter, limit: int,
                 cancel: threading.Event, name: str) -> None:
        self._read, self._meter, self._limit = read, meter, limit
        self._cancel, self._name = cancel, name

    def read(self, size: int = -1) -> bytes:
        if self._cancel.is_set():
            raise Unavailable(f"pull of {self._name} cancelled")
        data = self._read(CHUNK if size is None or size < 0 else size)
        self._meter.add(len(data))
        if self._meter.current > self._limit:
            raise DataCorrupt(f"blob {self._name} is longer than its {self._limit} bytes")
        return data
