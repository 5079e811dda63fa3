"""docker stats through the real docker CLI 28 and docker-py: real figures from the container's
cgroup (not ``--``), the JSON fields both clients read, a stream that sends an object a second
with the previous sample as its base, and dockerd's empty object for a stopped container."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import time

import pytest

from ..conftest import Daemon
from ..test_cli_system import DOCKYARD, dockyard
from .conftest import CLI

pytestmark = [pytest.mark.root, pytest.mark.slow]

COLUMNS = ["CONTAINER ID", "NAME", "CPU %", "MEM USAGE / LIMIT", "MEM %", "NET I/O",
           "BLOCK I/O", "PIDS"]


def test_cli_no_stream(engine: Daemon, cli: CLI) -> None:
    code, cid, err = cli("run", "-d", "--name", "busy", "busybox", "sh", "-c",
                         "sleep 1000 & while :; do :; done")
    assert code == 0, err
    assert cli("run", "-d", "--name", "alone", "--network", "none", "busybox", "sleep",
               "1000")[0] == 0
    code, out, err = cli("stats", "--no-stream", "busy")
    assert code == 0, err
    header, row = out.splitlines()
    assert [c.strip() for c in header.split("  ") if c.strip()] == COLUMNS
    fields = row.split()
    assert fields[0] == cid.strip()[:12] and fields[1] == "busy"
    cpu = float(fields[2].rstrip("%"))
    assert 10.0 < cpu < 250.0  # one busy loop on a shared 2-core machine
    assert fields[3].endswith("B") and not fields[3].startswith("0B") and fields[4] == "/"
    assert "--" not in row and fields[-1] == "2"  # sh (the loop) and sleep
    code, out, err = cli("stats", "--no-stream", "--format",
                         "{{.Name}} {{.PIDs}} {{.NetIO}}", "alone")
    assert (code, out) == (0, "alone 1 0B / 0B\n"), err


def test_cli_all_shows_stopped(engine: Daemon, cli: CLI) -> None:
    assert cli("create", "--name", "idle", "busybox", "true")[0] == 0
    code, out, err = cli("stats", "--no-stream", "-a", "--format", "{{.Name}} {{.CPUPerc}}")
    assert (code, out) == (0, "idle 0.00%\n"), err


def _get(engine: Daemon, path: str) -> tuple[str, list[bytes]]:
    """The status line and the body's JSON lines of an HTTP/1.1 GET, read until the server
    closes or for about 2.5 s."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.settimeout(0.5)
        sock.connect(str(engine.socket))
        sock.sendall(f"GET {path} HTTP/1.1\r\nHost: d\r\nConnection: close\r\n\r\n".encode())
        data = b""
        deadline = time.monotonic() + 2.5
        while time.monotonic() < deadline:
            try:
                chunk = sock.recv(65536)
            except TimeoutError:
                continue
            if not chunk:
                break
            data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    return head.decode().split("\r\n")[0], [line for line in body.split(b"\r\n")
                                           if line.startswith(b"{")]


def test_stream_and_docker_py(engine: Daemon, cli: CLI) -> None:
    import docker

    code, _, err = cli("run", "-d", "--name", "st", "--pids-limit", "50", "-m", "64m",
                       "busybox", "sleep", "1000")
    assert code == 0, err
    status, chunks = _get(engine, "/v1.41/containers/st/stats")
    assert status == "HTTP/1.1 200 OK" and len(chunks) >= 2
    first, second = (json.loads(chunk) for chunk in chunks[:2])
    assert first["preread"] == "0001-01-01T00:00:00Z"
    assert second["preread"] == first["read"]
    assert second["precpu_stats"] == first["cpu_stats"]
    assert list(second) == ["read", "preread", "pids_stats", "blkio_stats", "num_procs",
                            "storage_stats", "cpu_stats", "precpu_stats", "memory_stats",
                            "name", "id", "networks"]
    client = docker.DockerClient(base_url=engine.host)
    try:
        stats = client.containers.get("st").stats(stream=False)
    finally:
        client.close()
    assert stats["name"] == "/st" and stats["pids_stats"] == {"current": 1, "limit": 50}
    assert stats["memory_stats"]["limit"] == 64 * 2**20
    assert stats["memory_stats"]["usage"] > 0 and "total_inactive_file" in \
        stats["memory_stats"]["stats"]
    cpu = stats["cpu_stats"]
    assert cpu["online_cpus"] >= 1 and cpu["system_cpu_usage"] > 0
    assert cpu["cpu_usage"]["total_usage"] > 0 and cpu["cpu_usage"]["percpu_usage"]
    assert stats["precpu_stats"]["system_cpu_usage"] < cpu["system_cpu_usage"]
    assert set(stats["networks"]) == {"eth0"} and set(stats["networks"]["eth0"]) == {
        "rx_bytes", "rx_packets", "rx_errors", "rx_dropped", "tx_bytes", "tx_packets",
        "tx_errors", "tx_dropped"}
    assert cli("stop", "-t", "0", "st")[0] == 0
    status, chunks = _get(engine, "/v1.41/containers/st/stats?stream=0")
    stopped = json.loads(chunks[0])
    assert (stopped["read"], stopped["memory_stats"], stopped["pids_stats"]) == (
        "0001-01-01T00:00:00Z", {}, {})
    status, _ = _get(engine, "/v1.41/containers/nothere/stats?stream=0")
    assert status == "HTTP/1.1 404 Not Found"


def test_dockyard_cli(engine: Daemon, cli: CLI) -> None:
    assert cli("run", "-d", "--name", "mine", "busybox", "sleep", "1000")[0] == 0
    assert cli("create", "--name", "idle", "busybox", "true")[0] == 0
    code, out, err = dockyard(engine, "stats", "--no-stream")
    assert code == 0, err
    header, *rows = out.splitlines()
    assert [c.strip() for c in header.split("  ") if c.strip()] == COLUMNS
    assert [r.split()[1] for r in rows] == ["mine"] and "--" not in rows[0]
    code, out, err = dockyard(engine, "container", "stats", "--no-stream", "-a", "--format",
                              "{{.Name}} {{.PIDs}} {{.CPUPerc}}")
    assert code == 0, err
    assert sorted(out.splitlines()) == ["idle 0 0.00%", "mine 1 0.00%"]
    code, out, err = dockyard(engine, "stats", "--no-stream", "nothere")
    assert code == 1 and "No such container: nothere" in err


def test_dockyard_cli_stream(engine: Daemon, cli: CLI) -> None:
    assert cli("run", "-d", "--name", "live", "busybox", "sleep", "1000")[0] == 0
    with pytest.raises(subprocess.TimeoutExpired) as stopped:
        subprocess.run([str(DOCKYARD), "stats", "--format", "{{.Name}} {{.PIDs}}"],
                       capture_output=True, timeout=3.5, check=False,
                       env={"PATH": os.environ.get("PATH", ""), "DOCKYARD_HOST": engine.host})
    lines = (stopped.value.stdout or b"").decode().splitlines()
    assert len(lines) >= 2 and set(lines[1:]) == {"live 1"}
