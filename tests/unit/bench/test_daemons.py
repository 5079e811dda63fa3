"""bench/daemons.py with a stand-in dockyardd (a short Python script answering /_ping on the
socket it is given): started on its own socket and roots, stopped by PID, its directory removed,
and a daemon that dies at start reported with its log."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from pathlib import Path
from types import ModuleType

import pytest

BenchModule = Callable[[str], ModuleType]

FAKE_DOCKYARDD = """\
import os, signal, socket, sys
args = sys.argv[1:]
def flag(name):
    return args[args.index(name) + 1]
if os.environ.get("FAKE_FAIL"):
    print("cannot lock the data root", flush=True)
    sys.exit(3)
for name in ("--data-root", "--exec-root"):
    os.makedirs(flag(name))
with open(flag("--pidfile"), "w") as f:
    f.write(str(os.getpid()))
signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
server = socket.socket(socket.AF_UNIX)
server.bind(flag("-H").removeprefix("unix://"))
server.listen()
while True:
    conn, _ = server.accept()
    conn.recv(4096)
    conn.sendall(b"HTTP/1.1 200 OK\\r\\nContent-Length: 2\\r\\nConnection: close\\r\\n\\r\\nOK")
    conn.close()
"""


def _context(bench_module: BenchModule, tmp_path: Path, **env: str) -> object:
    rows = bench_module("bench.rows")
    bin_dir = tmp_path / "venv" / "bin"
    bin_dir.mkdir(parents=True)
    fake = bin_dir / "dockyardd"
    fake.write_text(f"#!{sys.executable}\n{FAKE_DOCKYARDD}")
    fake.chmod(0o755)
    return rows.Context(
        repo=tmp_path, python=bin_dir / "python", work=tmp_path / "work", cache=tmp_path,
        docker="docker", podman="podman", env={"PATH": os.environ.get("PATH", ""), **env},
    )  # fmt: skip


def test_dockyardd_runs_on_its_own_socket_and_stops_by_pid(
    bench_module: BenchModule, tmp_path: Path
) -> None:
    daemons, api = bench_module("bench.daemons"), bench_module("bench.engine_api")
    ctx = _context(bench_module, tmp_path)
    workdir = tmp_path / "work" / "row-dockyardd"
    with daemons.dockyardd(ctx, workdir) as endpoint:
        assert endpoint == daemons.Endpoint("dockyard", workdir / "dockyard.sock")
        assert endpoint.env() == {
            "DOCKER_HOST": f"unix://{workdir}/dockyard.sock",
            "DOCKYARD_HOST": f"unix://{workdir}/dockyard.sock",
        }
        assert api.ping(endpoint.socket)
        pid = int((workdir / "dockyardd.pid").read_text())
        assert sorted(p.name for p in workdir.iterdir()) == [
            "daemon.json", "data", "dockyard.sock", "dockyardd.log", "dockyardd.pid", "exec",
        ]  # fmt: skip
        assert os.getsid(pid) == pid  # its own session: Ctrl-C reaches only the harness
    assert not Path(f"/proc/{pid}").exists()
    assert not workdir.exists()


def test_dockyardd_that_exits_at_start_is_reported_with_its_log(
    bench_module: BenchModule, tmp_path: Path
) -> None:
    daemons, rows = bench_module("bench.daemons"), bench_module("bench.rows")
    ctx = _context(bench_module, tmp_path, FAKE_FAIL="1")
    workdir = tmp_path / "work" / "row-dockyardd"
    with (
        pytest.raises(rows.RowFailed) as raised,
        daemons.dockyardd(ctx, workdir),
    ):
        pass
    assert str(raised.value) == "dockyardd exited 3 at start: cannot lock the data root"
    assert not workdir.exists()


def test_endpoints_start_one_daemon_per_row_and_stop_it(
    bench_module: BenchModule, tmp_path: Path
) -> None:
    daemons, rows = bench_module("bench.daemons"), bench_module("bench.rows")
    ctx = _context(bench_module, tmp_path)
    endpoints = daemons.Endpoints(ctx, "version")
    try:
        first = endpoints.open("dockyard")
        assert endpoints.open("dockyard") is first
        assert endpoints["dockyard"] is first
        assert first.socket == tmp_path / "work" / "version-dockyardd" / "dockyard.sock"
        with pytest.raises(rows.RowFailed, match="row version has no daemon for engine podman"):
            endpoints.open("podman")
    finally:
        endpoints.close()
    assert not (tmp_path / "work" / "version-dockyardd").exists()
