"""The file-creating worker pool: budget, barrier, errors, shutdown (no filesystem needed)."""

from __future__ import annotations

import threading
import time

import pytest

from dockyard.archive.workers import Workers
from dockyard.errors import SystemCallError


def test_drain_waits_for_every_job_and_jobs_run_on_other_threads() -> None:
    pool = Workers(2, 1 << 20)
    ran: list[int] = []
    names: set[str] = set()

    def job(i: int) -> None:
        time.sleep(0.001)
        names.add(threading.current_thread().name)
        ran.append(i)

    try:
        for i in range(20):
            pool.submit(10, lambda i=i: job(i))  # type: ignore[misc]
        pool.drain()
        assert (sorted(ran), pool.busy) == (list(range(20)), False)
        assert threading.current_thread().name not in names
    finally:
        pool.close()


def test_the_budget_bounds_what_is_queued() -> None:
    pool = Workers(2, 100)
    gate = threading.Event()
    held: list[int] = []
    peak: list[int] = []
    lock = threading.Lock()

    def job(cost: int) -> None:
        with lock:
            held.append(cost)
            peak.append(sum(held))
        gate.wait(5)
        with lock:
            held.remove(cost)

    try:
        threading.Timer(0.05, gate.set).start()
        for _ in range(6):
            pool.submit(40, lambda: job(40))
        pool.submit(500, lambda: job(500))  # over the budget: waits for all the others
        pool.drain()
        # Two 40s fit in 100, a third does not; the 500 ran alone.
        assert (max(p for p in peak if p != 500), peak[-1]) == (80, 500)
    finally:
        pool.close()


def test_an_error_is_raised_to_the_owner_and_later_jobs_are_dropped() -> None:
    pool = Workers(1, 1 << 20)
    ran: list[int] = []

    def fail() -> None:
        raise SystemCallError("open", 28, "/t/x")

    try:
        pool.submit(1, fail)
        with pytest.raises(SystemCallError, match="open /t/x"):
            for i in range(1000):
                time.sleep(0.001)
                pool.submit(1, lambda i=i: ran.append(i))  # type: ignore[misc]
            pool.drain()
        with pytest.raises(SystemCallError):
            pool.drain()  # it stays failed
    finally:
        pool.close()
    assert len(ran) < 1000


def test_close_without_jobs_starts_no_thread_and_close_stops_them() -> None:
    before = threading.active_count()
    Workers(2, 100).close()
    pool = Workers(2, 100)
    pool.submit(1, lambda: None)
    pool.close()
    assert (threading.active_count(), pool.busy) == (before, False)
