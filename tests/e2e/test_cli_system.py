"""``dockyard version``, ``info`` and ``system df`` against a real dockyardd, beside docker's."""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

import pytest

from .conftest import Daemon, docker

pytestmark = pytest.mark.root

DOCKYARD = Path(__file__).resolve().parents[2] / ".venv" / "bin" / "dockyard"


def dockyard(daemon: Daemon, *args: str, env: dict[str, str] | None = None,
             timeout: float = 120.0) -> tuple[int, str, str]:
    environ = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "DOCKYARD_HOST": daemon.host,
               **(env or {})}
    result = subprocess.run([str(DOCKYARD), *args], capture_output=True, env=environ,
                            timeout=timeout, check=False)
    return result.returncode, result.stdout.decode(), result.stderr.decode()


def test_version_shows_client_and_server(daemon: Daemon) -> None:
    code, out, err = dockyard(daemon, "version")
    assert (code, err) == (0, "")
    client, server = out.split("\n\n")
    assert client.startswith("Client:\n Version:           ")
    assert server.startswith("Server:")
    assert " Engine:\n  Version:          " in server
    _, docker_out, _ = docker(daemon, "version")
    assert server == docker_out.split("\n\n")[1]


def test_version_format(daemon: Daemon) -> None:
    code, out, _ = dockyard(daemon, "version", "--format", "{{.Server.ApiVersion}}")
    assert (code, out) == (0, "1.41\n")


def _server_half(text: str) -> str:
    return re.sub(r"System Time: \S+", "System Time: T", text.split("\nServer:\n")[1])


def test_info_server_half_matches_docker(daemon: Daemon) -> None:
    code, out, _ = dockyard(daemon, "info")
    _, docker_out, _ = docker(daemon, "info")
    assert code == 0
    assert _server_half(out) == _server_half(docker_out)


def test_system_df_matches_docker(daemon: Daemon) -> None:
    assert dockyard(daemon, "system", "df") == docker(daemon, "system", "df")


def test_no_daemon_message(tmp_path: Path, daemon: Daemon) -> None:
    code, _, err = dockyard(daemon, "-H", f"unix://{tmp_path}/none.sock", "images")
    assert (code, err) == (1, f"Cannot connect to the dockyard daemon at unix://{tmp_path}/"
                              "none.sock. Is the dockyard daemon running?\n")
