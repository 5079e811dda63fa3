"""The warm spawner and its children on the real kernel: containers started through the
runtime library and runc become children of their monitors; exec; a failed start leaves no
process, runtime state, network namespace or cgroup; a dead spawner is replaced."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import shutil
import signal
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from dockyard.containers import netns, ocispec
from dockyard.containers.config import ContainerConfig, parse_host_config
from dockyard.containers.monitor import Sockets, source
from dockyard.containers.record import Container
from dockyard.containers.spawnclient import SpawnerClient
from dockyard.containers.users import ExecUser
from dockyard.errors import DockyardError
from dockyard.sys import real

pytestmark = [pytest.mark.root, pytest.mark.slow]
BUSYBOX = shutil.which("busybox")


@pytest.fixture(scope="module")
def monitor(tmp_path_factory: pytest.TempPathFactory) -> str:
    binary = tmp_path_factory.mktemp("monitor") / "dockyard-monitor"
    subprocess.run(["gcc", "-Os", "-o", str(binary), str(source())], check=True)
    return str(binary)


@dataclass
class Env:
    exec_root: Path
    spawner: SpawnerClient
    sockets: Sockets
    loop: asyncio.AbstractEventLoop

    def run(self, coroutine: Any) -> Any:
        return self.loop.run_until_complete(coroutine)

    def bundle(self, name: str, *cmd: str, host: dict[str, Any] | None = None) -> dict[str, Any]:
        """A bundle for ``cmd`` in the exec root; the start request for it."""
        directory = self.exec_root / "containers" / name
        rootfs = directory / "rootfs"
        (rootfs / "bin").mkdir(parents=True)
        for sub in ("proc", "dev", "sys", "etc", "tmp"):
            (rootfs / sub).mkdir()
        assert BUSYBOX is not None
        shutil.copy(BUSYBOX, rootfs / "bin" / "busybox")
        for applet in ("sh", "echo", "cat", "sleep", "ip", "true"):
            os.symlink("busybox", rootfs / "bin" / applet)
        for etc in ("hostname", "hosts", "resolv.conf"):
            (directory / etc).write_text("x\n")
        container = Container(
            id=name, name="/" + name, created="", image_id="",
            config=ContainerConfig(cmd=cmd, env=("PATH=/bin",)),
            host=parse_host_config(host or {}, default_runtime="dockyard",
                                   runtimes=("dockyard", "runc")))
        pin = "" if container.host.host_network else str(self.exec_root / "netns" / name)
        paths = ocispec.Paths(str(rootfs), str(directory / "hostname"), str(directory / "hosts"),
                              str(directory / "resolv.conf"), pin)
        spec = ocispec.build(container, ExecUser(0, 0, (0,)), paths, name)
        (directory / "config.json").write_text(json.dumps(spec))
        return {"op": "start", "id": name, "bundle": str(directory), "runtime": "dockyard",
                "socket": str(directory / "monitor.sock"), "work": str(directory),
                "exit_file": str(directory / "exit"), "netns": pin,
                "log": {"path": str(directory / "log"), "max_size": 0, "max_file": 1}}

    def output(self, name: str) -> str:
        log = self.exec_root / "containers" / name / "log"
        return "".join(json.loads(line)["log"] for line in log.read_text().splitlines())


@pytest.fixture
def env(monitor: str, tmp_path: Path) -> Iterator[Env]:
    if BUSYBOX is None:
        pytest.skip("needs busybox-static")
    exec_root = tmp_path / "exec"
    (exec_root / "netns").mkdir(parents=True)
    (exec_root / "containers").mkdir()
    runtimes = {"runc": shutil.which("runc") or ""}
    spawner = SpawnerClient(exec_root, monitor, {k: v for k, v in runtimes.items() if v})
    spawner.launch()
    loop = asyncio.new_event_loop()
    environment = Env(exec_root, spawner, Sockets(exec_root / "containers"), loop)
    try:
        yield environment
    finally:
        for directory in (exec_root / "containers").iterdir():
            for runtime in ("dockyard", "runc"):
                with contextlib.suppress(DockyardError):
                    environment.run(spawner.request({"op": "delete", "id": directory.name,
                                                     "runtime": runtime, "force": True}))
            netns.release(str(exec_root / "netns" / directory.name), real())
        environment.run(spawner.close())
        environment.sockets.close()
        loop.close()


def test_start_wait_delete(env: Env) -> None:
    reply = env.run(env.spawner.request(env.bundle("c1", "sh", "-c", "ip -o link; exit 3")))
    pid = reply["pid"]
    status = env.run(env.sockets.wait("c1"))
    assert status.code == 3
    assert [line.split(":")[1].strip() for line in env.output("c1").splitlines()] == ["lo"]
    assert "UP" in env.output("c1")
    assert not os.path.exists(f"/proc/{pid}/cmdline") or \
        Path(f"/proc/{pid}/cmdline").read_bytes() == b""
    env.run(env.spawner.request({"op": "delete", "id": "c1", "runtime": "dockyard"}))
    assert not (env.exec_root / "runtime" / "c1").exists()


def test_monitor_is_the_parent(env: Env) -> None:
    reply = env.run(env.spawner.request(env.bundle("c2", "sleep", "100")))
    status = Path(f"/proc/{reply['pid']}/status").read_text()
    parent = int(next(line for line in status.splitlines() if line.startswith("PPid:"))
                 .split()[1])
    # the spawner's child reports the pid, then execs the monitor: the same process
    assert env.run(env.sockets.command("c2", "state")) == f"running {reply['pid']}"
    assert Path(f"/proc/{parent}/cmdline").read_bytes().split(b"\0")[0].endswith(
        b"dockyard-monitor")
    process = {"args": ["sh", "-c", "echo in; exit 4"], "cwd": "/", "env": ["PATH=/bin"],
               "user": {"uid": 0, "gid": 0}}
    work = env.exec_root / "exec1"
    work.mkdir()
    env.run(env.spawner.request({"op": "exec", "id": "c2", "runtime": "dockyard",
                                 "process": process, "socket": str(work / "monitor.sock"),
                                 "work": str(work), "exit_file": str(work / "exit")}))
    execs = Sockets(env.exec_root)
    try:
        assert env.run(execs.wait("exec1")).code == 4
    finally:
        execs.close()
    assert env.run(env.sockets.command("c2", "kill 9")) == "ok"
    assert env.run(env.sockets.wait("c2")).code == 137


def test_failed_start_leaves_nothing(env: Env) -> None:
    request = env.bundle("c3", "nosuchcmd")
    with pytest.raises(DockyardError, match='exec: "nosuchcmd": executable file not found'):
        env.run(env.spawner.request(request))
    assert not (env.exec_root / "runtime" / "c3").exists()
    assert not os.path.ismount(request["netns"]) and not os.path.exists(request["netns"])
    assert not _listening(env.exec_root / "containers" / "c3" / "monitor.sock")
    for hierarchy in Path("/sys/fs/cgroup").iterdir():
        assert not (hierarchy / "dockyard" / "c3").exists()


def _listening(path: Path) -> bool:
    import socket

    with socket.socket(socket.AF_UNIX) as sock:
        try:
            sock.connect(str(path))
        except OSError:
            return False
        return True


@pytest.mark.skipif(shutil.which("runc") is None, reason="runc is not installed")
def test_runc(env: Env) -> None:
    request = {**env.bundle("c4", "sh", "-c", "echo via runc; exit 5"), "runtime": "runc"}
    env.run(env.spawner.request(request))
    assert env.run(env.sockets.wait("c4")).code == 5
    assert env.output("c4") == "via runc\n"
    failing = {**env.bundle("c5", "nosuchcmd"), "runtime": "runc"}
    with pytest.raises(DockyardError, match="nosuchcmd"):
        env.run(env.spawner.request(failing))


def test_spawner_replaced_when_dead(env: Env) -> None:
    first = env.run(env.spawner.request({"op": "ping"}))["pid"]
    os.kill(first, signal.SIGKILL)
    with contextlib.suppress(DockyardError):  # fails if the death is seen on the socket
        env.run(env.spawner.request({"op": "ping"}))
    second = env.run(env.spawner.request({"op": "ping"}))["pid"]
    assert second != first
    assert env.spawner.pid == second


def _spare_of(spawner_pid: int, not_this: int = 0) -> int:
    """The spawner's waiting child (forked once it has been idle a moment)."""
    children = Path(f"/proc/{spawner_pid}/task/{spawner_pid}/children")
    for _ in range(200):
        for pid in children.read_text().split():
            try:
                argv0 = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")[0]
            except FileNotFoundError:  # a monitor that just ended
                continue
            if int(pid) != not_this and b"python" in argv0:
                return int(pid)
        time.sleep(0.01)
    raise AssertionError(f"the spawner {spawner_pid} has no spare child")


def _gone(pid: int) -> bool:
    for _ in range(200):
        try:
            if Path(f"/proc/{pid}/cmdline").read_bytes() == b"":  # exited (a zombie)
                return True
        except FileNotFoundError:
            return True
        time.sleep(0.01)
    return False


def test_a_spare_child_runs_the_next_start(env: Env) -> None:
    # the first start with a seccomp profile compiles it in the spawner: a fresh fork
    env.run(env.spawner.request({**env.bundle("c7", "true"), "seccomp_key": "k"}))
    assert env.run(env.sockets.wait("c7")).code == 0
    spawner = env.run(env.spawner.request({"op": "ping"}))["pid"]
    spare = _spare_of(spawner)
    reply = env.run(env.spawner.request({**env.bundle("c6", "sleep", "100"),
                                         "seccomp_key": "k"}))
    status = Path(f"/proc/{reply['pid']}/status").read_text()
    parent = int(next(line for line in status.splitlines() if line.startswith("PPid:"))
                 .split()[1])
    assert parent == spare  # the spare became the container's monitor
    _spare_of(spawner, not_this=spare)  # and a new one waits for the next start
    assert env.run(env.sockets.command("c6", "kill 9")) == "ok"
    assert env.run(env.sockets.wait("c6")).code == 137


def test_a_spare_ends_with_its_spawner(env: Env) -> None:
    spawner = env.run(env.spawner.request({"op": "ping"}))["pid"]
    spare = _spare_of(spawner)
    os.kill(spawner, signal.SIGKILL)
    assert _gone(spare)
    with contextlib.suppress(DockyardError):  # the daemon's side saw EOF: a new spawner
        env.run(env.spawner.request({"op": "ping"}))
    assert env.run(env.spawner.request({"op": "ping"}))["pid"] != spawner
