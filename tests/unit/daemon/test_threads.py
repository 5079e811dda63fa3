"""The daemon's worker pool: runs work, starts threads only when none is idle, lets idle
threads go."""

from __future__ import annotations

import threading
import time

import pytest

from dockyard.daemon.threads import IdleThreads


def test_runs_work_and_errors() -> None:
    pool = IdleThreads(max_workers=2, idle=0.2)
    try:
        assert pool.submit(lambda a, b=0: a + b, 1, b=2).result(5) == 3
        with pytest.raises(ZeroDivisionError):
            pool.submit(lambda: 1 / 0).result(5)
    finally:
        pool.shutdown()


def test_threads_go_when_idle() -> None:
    pool = IdleThreads(max_workers=4, idle=0.1)
    gate = threading.Event()
    try:
        futures = [pool.submit(gate.wait, 5) for _ in range(6)]
        time.sleep(0.1)
        assert pool.threads == 4  # bounded
        gate.set()
        assert all(f.result(5) for f in futures)  # the two queued ran too
        deadline = time.monotonic() + 5
        while pool.threads and time.monotonic() < deadline:
            time.sleep(0.02)
        assert pool.threads == 0
        assert pool.submit(lambda: "again").result(5) == "again"
    finally:
        pool.shutdown()


def test_reuses_an_idle_thread() -> None:
    pool = IdleThreads(max_workers=4, idle=5)
    try:
        for _ in range(20):
            pool.submit(lambda: None).result(5)
        assert pool.threads == 1
    finally:
        pool.shutdown()
    assert pool.threads == 0
    with pytest.raises(RuntimeError):
        pool.submit(lambda: None)
