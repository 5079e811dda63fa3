"""SIGKILL the daemon: containers keep running under their monitors; the next daemon re-adopts
them (ps, logs, logs -f, attach, exec, stop work), and records the exits that happened while
it was down."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time

import pytest

from ..conftest import Daemon, docker, start_daemon, stop
from .conftest import CLI, monitors_under

pytestmark = [pytest.mark.root, pytest.mark.slow]


def test_sigkill_and_readopt(engine: Daemon, cli: CLI) -> None:
    cli("run", "-d", "--name", "ticker", "busybox", "sh", "-c",
        "i=0; while true; do echo tick $i; i=$((i+1)); sleep 0.2; done")
    cli("run", "-d", "--name", "brief", "busybox", "sh", "-c", "sleep 1.5; exit 7")
    cli("run", "-d", "--name", "quiet", "-i", "busybox", "cat")
    before = sorted(monitors_under(engine.workdir))
    assert len(before) == 3
    engine.process.send_signal(signal.SIGKILL)
    engine.process.wait(10)
    time.sleep(2.5)  # "brief" exits while no daemon runs; its monitor records the status
    assert set(monitors_under(engine.workdir)) < set(before)  # "brief"'s monitor is done
    assert len(monitors_under(engine.workdir)) == 2
    (engine.workdir / "dockyard.sock").unlink()
    again = start_daemon(engine.workdir)
    engine.process = again.process
    _, out, _ = cli("ps", "-a", "--format", "{{.Names}} {{.Status}}")
    states = dict(line.split(" ", 1) for line in out.splitlines())
    assert states["ticker"].startswith("Up ")
    assert states["quiet"].startswith("Up ")
    assert states["brief"].startswith("Exited (7) ")
    assert cli("inspect", "-f", "{{.State.ExitCode}} {{.State.Running}}", "brief") == (
        0, "7 false\n", "")
    _, out, _ = cli("logs", "ticker")
    ticks = [int(line.split()[1]) for line in out.splitlines()]
    assert ticks == list(range(len(ticks))) and len(ticks) > 10  # nothing lost while down
    assert cli("exec", "ticker", "echo", "alive") == (0, "alive\n", "")
    # attach to the re-adopted "quiet" (cat): stdin in, output out, through the monitor
    _code, out, _ = _attach_and_send(engine, "quiet", b"hello\n")
    assert out == b"hello\n"
    assert cli("stop", "-t", "1", "ticker") == (0, "ticker\n", "")
    assert cli("inspect", "-f", "{{.State.Status}}", "ticker") == (0, "exited\n", "")
    assert cli("rm", "-f", "quiet", "ticker", "brief")[0] == 0
    assert monitors_under(engine.workdir) == []
    assert os.listdir(engine.exec_root / "containers") == []


def _attach_and_send(engine: Daemon, name: str, data: bytes) -> tuple[int, bytes, str]:
    """An attach with stdin over the raw API (the CLI's attach needs a terminal or waits for
    the container's end): send ``data``, read the echoed frame back."""
    with socket.socket(socket.AF_UNIX) as sock:
        sock.settimeout(10)
        sock.connect(str(engine.socket))
        sock.sendall(f"POST /v1.41/containers/{name}/attach?stream=1&stdin=1&stdout=1"
                     "&stderr=1 HTTP/1.1\r\nHost: d\r\nConnection: Upgrade\r\nUpgrade: tcp\r\n"
                     "Content-Length: 0\r\n\r\n".encode())
        head = b""
        while b"\r\n\r\n" not in head:
            head += sock.recv(1)
        assert head.startswith(b"HTTP/1.1 101 UPGRADED")
        sock.sendall(data)
        frame = b""
        while len(frame) < 8 + len(data):
            frame += sock.recv(65536)
        assert frame[:8] == b"\x01\x00\x00\x00" + len(data).to_bytes(4, "big")
        return 0, frame[8:], ""


def test_daemon_stop_leaves_containers(engine: Daemon, cli: CLI) -> None:
    """SIGTERM too: the daemon stops, its containers do not."""
    cli("run", "-d", "--name", "keeper", "busybox", "sleep", "100")
    assert stop(engine.process) == 0
    assert len(monitors_under(engine.workdir)) == 1
    (engine.workdir / "dockyard.sock").unlink(missing_ok=True)
    again = start_daemon(engine.workdir)
    engine.process = again.process
    assert docker(engine, "inspect", "-f", "{{.State.Running}}", "keeper") == (0, "true\n", "")


def test_a_removal_cut_short_is_swept_at_restart(engine: Daemon, cli: CLI) -> None:
    """A container's record goes before its bundle is unmounted (that runs after the waiters
    are answered): a crash in between leaves a mounted bundle with no record, which the next
    daemon unmounts and removes."""
    leftover = engine.exec_root / "containers" / ("f" * 64)
    rootfs = leftover / "rootfs"
    rootfs.mkdir(parents=True)
    engine.process.send_signal(signal.SIGKILL)
    engine.process.wait(10)
    subprocess.run(["mount", "-t", "tmpfs", "dyleft", str(rootfs)], check=True)
    try:
        (engine.workdir / "dockyard.sock").unlink()
        again = start_daemon(engine.workdir)
        engine.process = again.process
        assert not os.path.ismount(rootfs)
        assert not leftover.exists()
        assert cli("run", "--rm", "busybox", "true")[0] == 0
    finally:
        if os.path.ismount(rootfs):
            subprocess.run(["umount", "-l", str(rootfs)], check=False)
