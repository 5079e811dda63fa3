"""How the stages of a build are scheduled: in the calling thread until one has work to do,
then the rest in threads of their own."""

from __future__ import annotations

import threading

from dockyard.build.stages import _Scheduler


def test_stages_with_nothing_to_do_run_in_order_in_the_calling_thread() -> None:
    ran: list[tuple[int, int]] = []
    scheduler = _Scheduler(lambda i: ran.append((i, threading.get_ident())), (0, 2, 3))
    scheduler.run(threading.Event())
    assert ran == [(0, threading.get_ident()), (2, threading.get_ident()),
                   (3, threading.get_ident())]


def test_work_starts_the_stages_not_started_in_threads() -> None:
    ran: dict[int, int] = {}
    both_running = threading.Barrier(2, timeout=10)

    def work(index: int) -> None:
        ran[index] = threading.get_ident()
        if index == 1:
            scheduler.start_the_rest()
            scheduler.start_the_rest()  # once is enough
        if index in (1, 2):
            both_running.wait()  # 2 runs while 1 does

    scheduler = _Scheduler(work, (0, 1, 2, 3))
    scheduler.run(threading.Event())
    here = threading.get_ident()
    assert sorted(ran) == [0, 1, 2, 3]
    assert (ran[0], ran[1]) == (here, here)
    assert here not in (ran[2], ran[3]) and ran[2] != ran[3]


def test_a_failure_starts_nothing_more() -> None:
    cancel = threading.Event()
    ran: list[int] = []

    def work(index: int) -> None:
        ran.append(index)
        cancel.set()

    _Scheduler(work, (0, 1)).run(cancel)
    assert ran == [0]
