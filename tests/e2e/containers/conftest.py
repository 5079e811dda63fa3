"""Fixtures of the container e2e tests: a daemon with the busybox image, and a teardown that
leaves no container behind (monitors outlive the daemon by design, so the test removes its
containers first and then kills, by pid, any monitor still running under its exec root)."""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import signal
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from ..comparison import BUSYBOX, DOCKERD_SOCKET, _alive, run_dockerd
from ..conftest import Daemon, _unmount_under, docker, start_daemon, stop
from ..test_cli_system import dockyard

CLI = Callable[..., tuple[int, str, str]]


def monitors_under(root: Path) -> list[int]:
    """Pids of the dockyard-monitor processes whose files are under ``root``."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            argv = (entry / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if argv and argv[0].endswith(b"dockyard-monitor") and \
                any(str(root).encode() in a for a in argv):
            found.append(int(entry.name))
    return found


def kill_leftovers(root: Path) -> None:
    for pid in monitors_under(root):
        for child in _children(pid):
            _kill(child)
        _kill(pid)
    for hierarchy in Path("/sys/fs/cgroup").iterdir():
        parent = hierarchy / "dockyard"
        for cgroup in parent.glob("*") if parent.is_dir() else ():
            if cgroup.is_dir() and re.fullmatch(r"[0-9a-f]{64}", cgroup.name):
                _remove_if_ours(cgroup, root)


def _children(pid: int) -> list[int]:
    try:
        text = Path(f"/proc/{pid}/task/{pid}/children").read_text()
    except OSError:
        return []
    return [int(p) for p in text.split()]


def _kill(pid: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGKILL)


def _remove_if_ours(cgroup: Path, root: Path) -> None:
    """A container cgroup of this test's daemon (its id has a record under ``root``)."""
    if (root / "data" / "containers" / cgroup.name).exists():
        with contextlib.suppress(OSError):
            cgroup.rmdir()


def bootstrap(daemon: Daemon) -> None:
    if shutil.which("busybox") is None:
        pytest.skip("needs a static busybox (busybox-static)")
    code, _, err = dockyard(daemon, "bootstrap", "busybox", env={"SOURCE_DATE_EPOCH": "0"})
    assert code == 0, err


def remove_all(daemon: Daemon) -> None:
    code, out, _ = docker(daemon, "ps", "-aq", "--no-trunc")
    if code == 0 and out.split():
        docker(daemon, "rm", "-f", *out.split())


@pytest.fixture
def engine() -> Iterator[Daemon]:
    """A daemon with busybox; every container removed and every monitor gone afterwards."""
    if os.geteuid() != 0:
        pytest.skip("dockyardd needs root")
    workdir = Path(tempfile.mkdtemp(prefix="dy-e2e-"))
    started: Daemon | None = None
    try:
        started = start_daemon(workdir)
        bootstrap(started)
        yield started
    finally:
        if started is not None:
            if started.process.poll() is None:
                remove_all(started)
            stop(started.process)
        kill_leftovers(workdir)
        _unmount_under(workdir)
        shutil.rmtree(workdir, ignore_errors=True)


@pytest.fixture
def cli(engine: Daemon) -> CLI:
    def run(*args: str, stdin: bytes | None = None, timeout: float = 60.0) -> \
            tuple[int, str, str]:
        return docker(engine, *args, stdin=stdin, timeout=timeout)

    return run


@pytest.fixture
def dockerd(tmp_path: Path) -> Iterator[CLI]:
    """The docker CLI against the reference dockerd (with a config directory of its own)."""
    if not _alive(DOCKERD_SOCKET):
        pytest.skip("no dockerd at /var/run/docker.sock to compare with")
    if not BUSYBOX.exists():
        pytest.skip("no /bin/busybox for the test rootfs")
    config = tmp_path / "dockerd-config"
    config.mkdir()
    yield run_dockerd(config)
    shutil.rmtree(config, ignore_errors=True)
