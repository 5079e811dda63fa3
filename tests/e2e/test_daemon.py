"""The daemon core against the real docker CLI 28 and docker-py: negotiation, version, info,
disk usage, errors, and a clean stop."""

from __future__ import annotations

import http.client
import json
import os
import signal
import socket
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

from .conftest import DOCKYARDD, Daemon, start_daemon, stop

pytestmark = pytest.mark.root

Cli = Callable[..., tuple[int, str, str]]


class UnixHTTPConnection(http.client.HTTPConnection):
    def __init__(self, path: Path) -> None:
        super().__init__("localhost", timeout=10)
        self._path = path

    def connect(self) -> None:
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(10)
        self.sock.connect(str(self._path))


def get(daemon: Daemon, path: str, method: str = "GET") -> tuple[int, dict[str, str], bytes]:
    conn = UnixHTTPConnection(daemon.socket)
    try:
        conn.request(method, path)
        response = conn.getresponse()
        return response.status, dict(response.getheaders()), response.read()
    finally:
        conn.close()


def test_docker_version_shows_our_server(cli: Cli) -> None:
    code, out, err = cli("version")
    assert (code, err) == (0, "")
    assert "Server: dockyard" in out
    assert " Version:          0.1.0" in out
    assert "API version:      1.41 (minimum version 1.24)" in out
    assert "OS/Arch:          linux/" in out


def test_docker_version_format_reads_the_fields(cli: Cli) -> None:
    code, out, _ = cli("version", "--format", "{{.Server.APIVersion}} {{.Server.Os}}")
    assert (code, out) == (0, "1.41 linux\n")


def test_docker_info(cli: Cli, daemon: Daemon) -> None:
    code, out, err = cli("info")
    assert code == 0, err
    assert f"Docker Root Dir: {daemon.data_root}" in out
    assert " Images: 0" in out
    assert "Storage Driver: overlayfs" in out or "Storage Driver: native" in out
    code, out, _ = cli("info", "--format", "{{json .}}")
    info = json.loads(out)
    assert (info["OSType"], info["ServerVersion"], info["Containers"]) == ("linux", "0.1.0", 0)


def test_docker_system_df(cli: Cli) -> None:
    code, out, err = cli("system", "df")
    assert (code, err) == (0, "")
    assert out.splitlines()[0].split() == ["TYPE", "TOTAL", "ACTIVE", "SIZE", "RECLAIMABLE"]


def test_docker_inspect_falls_through_to_plugins(cli: Cli) -> None:
    code, out, err = cli("inspect", "nosuch")
    assert (code, out, err) == (1, "[]\n", "Error: No such object: nosuch\n")


def test_ping_headers_as_dockerd(daemon: Daemon) -> None:
    for method, body in (("HEAD", b""), ("GET", b"OK")):
        status, headers, data = get(daemon, "/_ping", method)
        assert (status, data) == (200, body)
        assert headers["Api-Version"] == "1.41"
        assert headers["Docker-Experimental"] == "false"
        assert headers["Ostype"] == "linux"
        assert headers["Server"] == "Docker/0.1.0 (linux)"
        assert headers["Cache-Control"] == "no-cache, no-store, must-revalidate"
        assert headers["Pragma"] == "no-cache"
        assert headers["Content-Length"] == str(len(body))


def test_unknown_path_and_too_new_version(daemon: Daemon) -> None:
    assert get(daemon, "/v1.41/nosuchendpoint")[::2] == (404, b'{"message":"page not found"}\n')
    assert get(daemon, "/v1.50/version")[::2] == (
        400,
        b'{"message":"client version 1.50 is too new. Maximum supported API version is 1.41"}\n',
    )
    status, _, body = get(daemon, "/v1.41/plugins/a/b:c/json")
    assert (status, json.loads(body)) == (404, {"message": 'plugin "a/b:c" not found'})


def test_docker_py_version_and_ping(daemon: Daemon) -> None:
    docker = pytest.importorskip("docker")
    client = docker.DockerClient(base_url=daemon.host)
    try:
        assert client.ping() is True
        version = client.version()
        assert (version["ApiVersion"], version["Version"]) == ("1.41", "0.1.0")
        assert client.api.api_version == "1.41"
    finally:
        client.close()


def test_a_second_daemon_on_the_same_socket_or_root_refuses_to_start(
    daemon: Daemon, tmp_path: Path
) -> None:
    same_socket = start_or_fail(tmp_path / "a", "-H", daemon.host)
    assert "another daemon is listening on" in same_socket
    same_root = start_or_fail(tmp_path / "b", "--data-root", str(daemon.data_root))
    assert f"data root {daemon.data_root} is in use by another process" in same_root


def start_or_fail(workdir: Path, *args: str) -> str:
    workdir.mkdir()
    base = {"-H": f"unix://{workdir}/d.sock", "--data-root": str(workdir / "data")}
    for flag, value in zip(args[::2], args[1::2], strict=True):
        base[flag] = value
    argv = [str(DOCKYARDD), "--exec-root", str(workdir / "exec"),
            "--config-file", str(workdir / "none.json")]
    for flag, value in base.items():
        argv += [flag, value]
    (workdir / "none.json").write_text("{}")
    result = subprocess.run(argv, capture_output=True, timeout=30, check=False)
    assert result.returncode == 1
    return result.stderr.decode()


def test_sigterm_removes_socket_and_pidfile(tmp_path: Path) -> None:
    started = start_daemon(tmp_path)
    try:
        pidfile = started.exec_root / "dockyardd.pid"
        assert pidfile.read_text() == str(started.process.pid)
        assert oct(started.socket.stat().st_mode & 0o777) == "0o660"
        assert (started.socket.stat().st_uid, started.socket.stat().st_gid) == (0, 0)
    finally:
        code = stop(started.process)
    assert code == 0
    assert not started.socket.exists()
    assert not (started.exec_root / "dockyardd.pid").exists()


def test_a_stale_socket_is_replaced(tmp_path: Path) -> None:
    stale = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    stale.bind(str(tmp_path / "dockyard.sock"))
    stale.close()
    started = start_daemon(tmp_path)
    try:
        assert get(started, "/_ping")[0] == 200
    finally:
        assert stop(started.process) == 0


def test_sigint_stops_too(tmp_path: Path) -> None:
    started = start_daemon(tmp_path)
    try:
        os.kill(started.process.pid, signal.SIGINT)
        assert started.process.wait(15) == 0
    finally:
        stop(started.process)


def test_info_and_df_count_an_imported_image(cli: Cli, tmp_path: Path) -> None:
    rootfs = tmp_path / "rootfs"
    rootfs.mkdir()
    (rootfs / "hello").write_text("hi\n")
    tar = subprocess.run(["tar", "-C", str(rootfs), "-cf", "-", "."], capture_output=True,
                         check=True).stdout
    code, out, err = cli("import", "-", "tiny:1", stdin=tar)  # a chunked body from the CLI
    assert code == 0, err
    assert cli("info", "--format", "{{.Images}}")[1] == "1\n"
    code, out, _ = cli("system", "df", "--format", "{{.Type}} {{.TotalCount}} {{.Size}}")
    assert (code, out.splitlines()[0]) == (0, "Images 1 3B")
