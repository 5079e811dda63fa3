"""End-to-end fixtures: a real ``dockyardd`` on its own socket and roots, and the real docker CLI.

``daemon`` starts ``.venv/bin/dockyardd`` as a subprocess with a socket, data root and exec root
under a fresh temporary directory, waits for ``/_ping``, and stops it by its PID (SIGTERM, then
SIGKILL after a timeout) whatever the test did. ``docker(daemon, *args)`` runs
``/usr/local/bin/docker`` with DOCKER_HOST pointing at it and a private DOCKER_CONFIG.

The daemon mounts (overlay probe, snapshots), so e2e tests are marked ``root``.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
DOCKYARDD = REPO / ".venv" / "bin" / "dockyardd"
DOCKER_CLI = Path("/usr/local/bin/docker")
START_TIMEOUT = 20.0
STOP_TIMEOUT = 15.0


@dataclass
class Daemon:
    socket: Path
    data_root: Path
    exec_root: Path
    workdir: Path
    process: subprocess.Popen[bytes]
    log: Path
    extra_args: list[str] = field(default_factory=list)

    @property
    def host(self) -> str:
        return f"unix://{self.socket}"

    def logs(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""


def _ping(path: Path, timeout: float = 1.0) -> bool:
    """Whether a daemon answers GET /_ping with 200 on the unix socket ``path``."""
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
            sock.settimeout(timeout)
            sock.connect(str(path))
            sock.sendall(b"GET /_ping HTTP/1.1\r\nHost: d\r\nConnection: close\r\n\r\n")
            return sock.recv(64).startswith(b"HTTP/1.1 200")
    except OSError:
        return False


def stop(process: subprocess.Popen[bytes], timeout: float = STOP_TIMEOUT) -> int:
    """SIGTERM the daemon by PID, SIGKILL it if it does not exit in time; its exit code."""
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout)
    return process.returncode


def _unmount_under(path: Path) -> None:
    """Unmount anything a killed daemon left mounted below ``path`` (deepest first)."""
    try:
        mounts = Path("/proc/self/mounts").read_text().splitlines()
    except OSError:
        return
    points = [line.split()[1] for line in mounts if len(line.split()) > 1]
    for point in sorted((p for p in points if p.startswith(f"{path}/")), reverse=True):
        subprocess.run(["umount", "-l", point], check=False, capture_output=True)


def start_daemon(workdir: Path, *extra: str) -> Daemon:
    sock = workdir / "dockyard.sock"
    log = workdir / "dockyardd.log"
    data_root, exec_root = workdir / "data", workdir / "exec"
    args = [
        str(DOCKYARDD), "-H", f"unix://{sock}", "--data-root", str(data_root),
        "--exec-root", str(exec_root), "--config-file", str(workdir / "daemon.json"),
        "--log-level", "debug", "--ip-forward=false", *extra,  # the host's sysctl stays
    ]
    (workdir / "daemon.json").write_text("{}")
    with log.open("wb") as out:
        process = subprocess.Popen(args, stdout=out, stderr=subprocess.STDOUT)
    daemon = Daemon(sock, data_root, exec_root, workdir, process, log, list(extra))
    deadline = time.monotonic() + START_TIMEOUT
    while not _ping(sock):
        if process.poll() is not None or time.monotonic() > deadline:
            stop(process)
            raise RuntimeError(f"dockyardd did not start:\n{daemon.logs()}")
        time.sleep(0.02)
    return daemon


@pytest.fixture
def daemon() -> Iterator[Daemon]:
    if os.geteuid() != 0:
        pytest.skip("dockyardd needs root (it mounts)")
    workdir = Path(tempfile.mkdtemp(prefix="dockyard-e2e-"))
    started: Daemon | None = None
    try:
        started = start_daemon(workdir)
        yield started
    finally:
        if started is not None:
            code = stop(started.process)
            if code != 0:
                sys.stderr.write(f"dockyardd exited {code}:\n{started.logs()}")
        _unmount_under(workdir)
        shutil.rmtree(workdir, ignore_errors=True)


def docker(daemon: Daemon, *args: str, stdin: bytes | None = None,
           timeout: float = 60.0) -> tuple[int, str, str]:
    """Run the real docker CLI against ``daemon``: (exit code, stdout, stderr)."""
    config = daemon.workdir / "docker-config"
    config.mkdir(exist_ok=True)
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(daemon.workdir),
        "DOCKER_HOST": daemon.host,
        "DOCKER_CONFIG": str(config),
    }
    result = subprocess.run(
        [str(DOCKER_CLI), *args], input=stdin, capture_output=True, env=env, timeout=timeout,
        check=False,
    )
    return result.returncode, result.stdout.decode(), result.stderr.decode()


@pytest.fixture
def cli(daemon: Daemon) -> Callable[..., tuple[int, str, str]]:
    """``cli("images", "-q")``: the real docker CLI against the test's daemon."""

    def run(*args: str, stdin: bytes | None = None, timeout: float = 60.0) -> tuple[int, str, str]:
        return docker(daemon, *args, stdin=stdin, timeout=timeout)

    return run


@pytest.fixture
def pair(daemon: Daemon, tmp_path: Path) -> Iterator[object]:
    """dockyardd and the shared dockerd side by side (tests/e2e/comparison.py)."""
    from .comparison import make_pair

    yield from make_pair(daemon, tmp_path)


@pytest.fixture
def registry(tmp_path: Path) -> Iterator[str]:
    """dockyard's registry server on a free loopback port; its address."""
    env = {**os.environ, "PYTHONPATH": str(REPO / "src")}
    process = subprocess.Popen(
        [sys.executable, "-m", "dockyard.registry", "--log-level", "warning", "serve",
         "--root", str(tmp_path / "registry"), "--addr", "127.0.0.1:0"],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, env=env)
    assert process.stdout is not None
    line = process.stdout.readline()
    try:
        assert line.startswith("listening on "), line
        yield line.split("://")[-1].strip()
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=15)
        process.stdout.close()
