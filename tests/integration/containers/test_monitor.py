"""The compiled monitor: framing, json-file logs, exit records, attach, stdin, tty, kill.

It runs as any user: the command it watches is a plain child process here (the launcher forks
it, then becomes the monitor), as the container's init is in the engine.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from dockyard.containers.monitor import ExitStatus, source

LAUNCHER = Path(__file__).with_name("monitor_launcher.py")


@pytest.fixture(scope="session")
def monitor(tmp_path_factory: pytest.TempPathFactory) -> str:
    binary = tmp_path_factory.mktemp("monitor") / "dockyard-monitor"
    subprocess.run(["gcc", "-Os", "-Wall", "-Wextra", "-Werror", "-o", str(binary),
                    str(source())], check=True)
    return str(binary)


@dataclass
class Run:
    directory: Path
    process: subprocess.Popen[bytes]
    child: int
    sockets: list[socket.socket] = field(default_factory=list)

    def connect(self, line: str) -> socket.socket:
        sock = socket.socket(socket.AF_UNIX)
        self.sockets.append(sock)
        sock.settimeout(10)
        sock.connect(str(self.directory / "monitor.sock"))
        sock.sendall(line.encode() + b"\n")
        return sock

    def command(self, line: str) -> str:
        with self.connect(line) as sock:
            return read_all(sock).decode()

    def exit_status(self) -> ExitStatus:
        self.process.wait(10)
        return ExitStatus.parse((self.directory / "exit").read_text())

    def log(self) -> list[dict[str, str]]:
        return [json.loads(line) for line in (self.directory / "log").read_text().splitlines()]


def read_all(sock: socket.socket) -> bytes:
    data = b""
    while chunk := sock.recv(65536):
        data += chunk
    return data


@pytest.fixture
def launch(monitor: str, tmp_path: Path) -> Iterator:  # type: ignore[type-arg]
    runs: list[Run] = []

    def start(*command: str, options: tuple[str, ...] = ()) -> Run:
        directory = tmp_path / f"run{len(runs)}"
        directory.mkdir()
        process = subprocess.Popen(
            [sys.executable, str(LAUNCHER), monitor, str(directory), *options,
             "-l", str(directory / "log"), "--", *command], stdout=subprocess.PIPE)
        assert process.stdout is not None
        child = int(process.stdout.readline())
        run = Run(directory, process, child)
        runs.append(run)
        return run

    yield start
    for run in runs:  # only what this test started, by pid
        for sock in run.sockets:
            sock.close()
        if run.process.stdout is not None:
            run.process.stdout.close()
        for pid in (run.child, run.process.pid):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        run.process.wait(10)


def frames(data: bytes) -> list[tuple[int, bytes]]:
    out = []
    while data:
        stream, size = data[0], int.from_bytes(data[4:8], "big")
        out.append((stream, data[8:8 + size]))
        data = data[8 + size:]
    return out


def test_attach_hold_and_exit(launch) -> None:  # type: ignore[no-untyped-def]
    run = launch("sh", "-c", "echo out; echo err >&2; exit 3", options=("-H",))
    waiter = run.connect("wait")
    attach = run.connect("attach oe")
    assert attach.recv(3) == b"ok\n"
    assert run.command("go") == "ok\n"
    data = read_all(attach)
    assert sorted(frames(data)) == [(1, b"out\n"), (2, b"err\n")]
    line = read_all(waiter).decode()
    assert line.startswith("exit 3 0 ")
    status = run.exit_status()
    assert (status.code, status.oom_killed) == (3, False)
    assert f"exit {status.code} 0 {status.finished_ns}\n" == line
    assert [(e["stream"], e["log"]) for e in run.log()] in (
        [("stdout", "out\n"), ("stderr", "err\n")], [("stderr", "err\n"), ("stdout", "out\n")])


def test_an_attach_with_g_releases_the_hold(launch) -> None:  # type: ignore[no-untyped-def]
    run = launch("sh", "-c", "echo out; echo err >&2; exit 4", options=("-H",))
    waiter = run.connect("wait")
    first = run.connect("attach o")
    assert first.recv(3) == b"ok\n"
    last = run.connect("attach eg")  # no "go" command: output flows, the exit comes
    assert last.recv(3) == b"ok\n"
    assert frames(read_all(first)) == [(1, b"out\n")]
    assert frames(read_all(last)) == [(2, b"err\n")]
    assert read_all(waiter).decode().startswith("exit 4 0 ")


def test_attach_filters_streams(launch) -> None:  # type: ignore[no-untyped-def]
    run = launch("sh", "-c", "echo out; echo err >&2", options=("-H",))
    only_err = run.connect("attach e")
    assert only_err.recv(3) == b"ok\n"
    run.command("go")
    assert frames(read_all(only_err)) == [(2, b"err\n")]


def test_stdin_once(launch) -> None:  # type: ignore[no-untyped-def]
    run = launch("sh", "-c", "cat; echo done", options=("--stdin", "-O"))
    attach = run.connect("attach ioe")
    assert attach.recv(3) == b"ok\n"
    attach.sendall(b"one\ntwo\n")
    attach.shutdown(socket.SHUT_WR)  # the client half-closes: stdin ends, output goes on
    assert b"".join(p for _, p in frames(read_all(attach))) == b"one\ntwo\ndone\n"
    assert run.exit_status().code == 0


def test_log_escaping_and_long_lines(launch) -> None:  # type: ignore[no-untyped-def]
    run = launch(sys.executable, "-c",
                 "import sys; o = sys.stdout.buffer;"
                 "o.write(b'<a&b> \"q\" \\\\ \\t\\x01 \\xe2\\x82\\xac \\xff\\n');"
                 "o.write(b'x' * 20000 + b'\\n'); o.write(b'no newline')")
    assert run.exit_status().code == 0
    raw = (run.directory / "log").read_text().splitlines()[0]
    assert raw.startswith(r'{"log":"\u003ca\u0026b\u003e \"q\" \\ \t\u0001 € \ufffd\n",'
                          r'"stream":"stdout","time":"')
    logs = [e["log"] for e in run.log()]
    assert logs[1:] == ["x" * 16384, "x" * (20000 - 16384) + "\n", "no newline"]
    assert all(e["time"].endswith("Z") for e in run.log())


def test_rotation(launch) -> None:  # type: ignore[no-untyped-def]
    run = launch("sh", "-c", "for i in 1 2 3 4 5 6 7 8 9; do echo line$i; done",
                 options=("-S", "200", "-N", "3"))
    assert run.exit_status().code == 0
    log = run.directory / "log"
    names = sorted(p.name for p in run.directory.iterdir() if p.name.startswith("log"))
    assert names == ["log", "log.1", "log.2"]
    assert all(p.stat().st_size <= 200 for p in run.directory.glob("log*"))
    newest = [json.loads(line)["log"] for line in log.read_text().splitlines()]
    assert newest[-1] == "line9\n"


def test_kill_state_and_signal_status(launch) -> None:  # type: ignore[no-untyped-def]
    run = launch("sleep", "100")
    assert run.command("state") == f"running {run.child}\n"
    assert run.command("kill 9") == "ok\n"
    status = run.exit_status()
    assert status.code == 137
    assert not (run.directory / "monitor.sock").exists() or run.process.poll() is not None


def test_tty_and_resize(launch) -> None:  # type: ignore[no-untyped-def]
    run = launch("sh", "-c", "read a; stty size; echo got $a", options=("--tty", "-I", "-H"))
    attach = run.connect("attach ioe")
    assert attach.recv(3) == b"ok\n"
    assert run.command("resize 25 90") == "ok\n"
    run.command("go")
    attach.sendall(b"abc\n")
    output = read_all(attach)
    assert b"25 90\r\n" in output and b"got abc\r\n" in output  # raw, no frames
    assert run.exit_status().code == 0


def test_slow_exit_after_output_quiet(launch) -> None:  # type: ignore[no-untyped-def]
    # a background process keeps the pipe open after the main process exits
    run = launch("sh", "-c", "sleep 30 & echo started")
    started = time.monotonic()
    assert run.exit_status().code == 0
    assert time.monotonic() - started < 10
    assert run.log()[0]["log"] == "started\n"


def test_unknown_command(launch) -> None:  # type: ignore[no-untyped-def]
    run = launch("sleep", "100")
    assert run.command("bogus") == "error unknown command\n"
    run.command("kill 9")
    assert run.exit_status().code == 137
