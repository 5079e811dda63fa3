"""The container service's pure parts: wait bookkeeping, signal names, sizes, detach keys,
and ps's human texts."""

from __future__ import annotations

import asyncio
import signal

import pytest

from dockyard.containers.config import ContainerConfig, parse_host_config, parse_size
from dockyard.containers.record import Container, State, format_time
from dockyard.errors import InvalidArgument
from dockyard.services.container_io import _scan, frame, parse_detach_keys
from dockyard.services.container_views import command, human_duration, status_text
from dockyard.services.container_waits import Live, WaitResult
from dockyard.services.containers import parse_signal, start_error, start_exit_code


def test_waiters() -> None:
    async def scenario() -> list[object]:
        live = Live()
        not_running, next_exit, removed = (live.waiter(c) for c in
                                           ("not-running", "next-exit", "removed"))
        live.resolve(WaitResult(3))
        first = [not_running.done(), next_exit.result(), removed.done()]
        live.resolve(WaitResult(3), removed=True)
        with pytest.raises(InvalidArgument, match='invalid condition: "bogus"'):
            live.waiter("bogus")
        return [*first, removed.result()]

    assert asyncio.run(scenario()) == [True, WaitResult(3), False, WaitResult(3)]


@pytest.mark.parametrize(("name", "number"), [
    ("KILL", 9), ("SIGKILL", 9), ("9", 9), ("hup", 1), ("SIGRTMIN+2", int(signal.SIGRTMIN) + 2),
])
def test_parse_signal(name: str, number: int) -> None:
    assert parse_signal(name) == number


@pytest.mark.parametrize("name", ["BOGUS", "0", "999", ""])
def test_bad_signal(name: str) -> None:
    with pytest.raises(InvalidArgument, match="Invalid signal"):
        parse_signal(name)


def test_parse_size() -> None:
    assert [parse_size(t) for t in ("", "100", "10k", "10m", "1g", "1.5m", "10MB", "2KiB")] == [
        0, 100, 10240, 10 << 20, 1 << 30, int(1.5 * (1 << 20)), 10 << 20, 2048]
    with pytest.raises(InvalidArgument, match="invalid size"):
        parse_size("lots")


def test_start_errors() -> None:
    error = start_error(InvalidArgument('exec: "x": executable file not found in $PATH'))
    assert str(error) == ('OCI runtime create failed: unable to start container process: '
                          'exec: "x": executable file not found in $PATH: unknown')
    assert str(start_error(InvalidArgument("boom"), "exec")) == (
        "OCI runtime exec failed: exec failed: unable to start container process: boom: "
        "unknown")
    assert [start_exit_code(m) for m in (str(error), "open /x: permission denied", "other")] \
        == [127, 126, 128]


def test_detach_keys() -> None:
    assert parse_detach_keys(None) == b"\x10\x11"
    assert parse_detach_keys("ctrl-a,x,ctrl-@,ctrl-\\") == b"\x01x\x00\x1c"
    with pytest.raises(InvalidArgument, match="Unknown character"):
        parse_detach_keys("ctrl-1")
    assert _scan(b"ab\x10", b"\x10\x11") == (b"ab", b"\x10", False)
    assert _scan(b"\x10x", b"\x10\x11") == (b"\x10x", b"", False)
    assert _scan(b"a\x10\x11b", b"\x10\x11") == (b"a", b"", True)


def test_frame() -> None:
    assert frame(1, b"hi\n") == b"\x01\x00\x00\x00\x00\x00\x00\x03hi\n"


def test_human_texts() -> None:
    assert [human_duration(s) for s in (0.5, 1, 3, 59, 61, 150, 3600, 7200, 86400 * 3)] == [
        "Less than a second", "1 second", "3 seconds", "59 seconds", "About a minute",
        "2 minutes", "About an hour", "2 hours", "3 days"]
    container = Container(
        id="a" * 64, name="/n", created=format_time(0), image_id="",
        config=ContainerConfig(cmd=("sh", "-c", "echo $x; exit 1"), image="busybox"),
        host=parse_host_config({}, default_runtime="dockyard", runtimes=("dockyard",)),
        state=State(status="exited", exit_code=3, finished_at=format_time(10 * 10**9)))
    assert command(container) == "sh -c 'echo $x; exit 1'"
    assert status_text(container, now=15) == "Exited (3) 5 seconds ago"
    running = container.with_state(status="running", started_at=format_time(10**9))
    assert status_text(running, now=2.2) == "Up 1 second"
    assert status_text(container.with_state(status="created"), now=0) == "Created"
