"""A few threads that create files while the extraction reads on: the kernel's work on a new
inode (open, write, chown, chmod, utime, close) runs without the GIL, so it overlaps with the
tar parsing, and with itself on another CPU.

Measured on ext4 without a journal, where allocating an inode next to recently freed ones costs
up to 0.2 ms of kernel time (see :func:`dockyard.snapshots.directory.spread`): two workers take
the Debian slim import from 1.54 s to 1.25 s (medians of 5). Where creating a file costs 5-15 us
they add about 10 %, so :mod:`dockyard.archive.apply` calls them in only when it measures slow
creations. Jobs are plain callables; the owner decides which paths they
touch and calls :meth:`Workers.drain` before anything that could race with them. What they hold
(file data) is bounded by ``budget`` bytes. An error in a job is raised to the owner by the next
:meth:`~Workers.submit` or :meth:`~Workers.drain`; the jobs after it are dropped.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable

log = logging.getLogger(__name__)

Job = Callable[[], None]


class Workers:
    """Runs jobs on ``threads`` threads (started at the first job). Only one thread, the owner,
    may call the methods. Always :meth:`close` (it also runs on the owner's error path)."""

    def __init__(self, threads: int, budget: int, name: str = "extract") -> None:
        self._count = threads
        self._budget = budget
        self._name = name
        self._jobs: queue.SimpleQueue[tuple[int, Job] | None] = queue.SimpleQueue()
        self._done: queue.SimpleQueue[tuple[int, BaseException | None]] = queue.SimpleQueue()
        self._threads: list[threading.Thread] = []
        self._pending = 0  # jobs submitted and not reaped
        self._held = 0  # their cost
        self._error: BaseException | None = None
        self._dropping = False  # read by the workers: skip what is left

    @property
    def busy(self) -> bool:
        """Whether a submitted job may still be running (or queued)."""
        return self._pending > 0

    def submit(self, cost: int, job: Job) -> None:
        """Queues ``job``, which holds ``cost`` bytes until it ends; waits while the budget is
        spent (a job bigger than the budget waits for all others)."""
        self._reap(block=False)
        while self._pending and self._held + cost > self._budget:
            self._reap(block=True)
        self._raise()
        if not self._threads:
            self._start()
        self._jobs.put((cost, job))
        self._pending += 1
        self._held += cost

    def drain(self) -> None:
        """Waits until every submitted job has ended; raises the first error of one."""
        while self._pending:
            self._reap(block=True)
        self._raise()

    def close(self) -> None:
        """Drops the jobs not started, waits for the running ones and stops the threads."""
        self._dropping = True
        for _ in self._threads:
            self._jobs.put(None)
        for thread in self._threads:
            thread.join()
        self._threads.clear()
        while self._pending:
            self._reap(block=True)

    def _start(self) -> None:
        for index in range(self._count):
            thread = threading.Thread(target=self._run, name=f"{self._name}-{index}", daemon=True)
            thread.start()
            self._threads.append(thread)

    def _reap(self, *, block: bool) -> None:
        while self._pending and (block or not self._done.empty()):
            cost, error = self._done.get()
            block = False
            self._pending -= 1
            self._held -= cost
            if error is not None and self._error is None:
                self._error = error
                self._dropping = True

    def _raise(self) -> None:
        self._reap(block=False)
        if self._error is not None:
            raise self._error

    def _run(self) -> None:
        while (item := self._jobs.get()) is not None:
            cost, job = item
            error: BaseException | None = None
            if not self._dropping:
                try:
                    job()
                except BaseException as exc:  # handed to the owner
                    error = exc
            self._done.put((cost, error))
