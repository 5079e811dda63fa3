"""A registry server process per test, on a free port of 127.0.0.1, stopped by its PID."""

from __future__ import annotations

import base64
import http.client
import os
import ssl
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from dockyard.oci.digest import Digest

from ...unit.registry.reply import Reply
from .engine import stop_process

SRC = Path(__file__).resolve().parents[3] / "src"


@dataclass
class Registry:
    process: subprocess.Popen[str]
    url: str
    host: str
    port: int
    root: Path
    tls: bool = False

    @property
    def address(self) -> str:
        return f"{self.host}:{self.port}"

    def connection(self) -> http.client.HTTPConnection:
        if self.tls:
            context = ssl.create_default_context()
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
            return http.client.HTTPSConnection(self.host, self.port, timeout=30, context=context)
        return http.client.HTTPConnection(self.host, self.port, timeout=30)

    def request(self, method: str, path: str, body: bytes = b"",
                headers: dict[str, str] | None = None,
                auth: tuple[str, str] | None = None) -> Reply:
        headers = dict(headers or {})
        if auth is not None:
            token = base64.b64encode(f"{auth[0]}:{auth[1]}".encode()).decode()
            headers["Authorization"] = f"Basic {token}"
        conn = self.connection()
        try:
            conn.request(method, path, body=body, headers=headers)
            response = conn.getresponse()
            return Reply(response.status, dict(response.getheaders()), response.read())
        finally:
            conn.close()

    def push_blob(self, name: str, data: bytes, auth: tuple[str, str] | None = None) -> Digest:
        digest = Digest.of(data)
        reply = self.request("POST", f"/v2/{name}/blobs/uploads/?digest={digest}", data,
                             auth=auth)
        assert reply.status == 201, reply
        return digest


def start_registry(root: Path, *args: str, tls: bool = False) -> Registry:
    env = {**os.environ, "PYTHONPATH": str(SRC)}
    process = subprocess.Popen(
        [sys.executable, "-m", "dockyard.registry", "--log-level", "warning", "serve",
         "--root", str(root), "--addr", "127.0.0.1:0", *args],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
    )
    assert process.stdout is not None
    line = process.stdout.readline()
    if not line.startswith("listening on "):
        process.kill()
        _, err = process.communicate(timeout=10)
        raise AssertionError(f"registry did not start: {line!r} {err}")
    url = line.split()[-1]
    host, port = url.split("://", 1)[1].rsplit(":", 1)
    return Registry(process, url, host, int(port), root, tls)


def stop_registry(registry: Registry) -> str:
    """Stop by PID (SIGTERM, then SIGKILL); returns what it wrote on stderr."""
    stop_process(registry.process)
    _, err = registry.process.communicate(timeout=10)
    return err


@pytest.fixture
def registry_factory(tmp_path: Path) -> Iterator[Any]:
    started: list[Registry] = []

    def start(*args: str, root: Path | None = None, tls: bool = False) -> Registry:
        registry = start_registry(root or tmp_path / f"registry{len(started)}", *args, tls=tls)
        started.append(registry)
        return registry

    try:
        yield start
    finally:
        for registry in started:
            err = stop_registry(registry)
            assert "Traceback" not in err, err


@pytest.fixture
def registry(registry_factory: Any) -> Registry:
    return registry_factory("--delete", "--max-upload-size", "64MiB")  # type: ignore[no-any-return]


def wait_for(predicate: Any, timeout: float = 5.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return bool(predicate())


@pytest.fixture
def htpasswd_file(tmp_path: Path) -> Path:
    pytest.importorskip("bcrypt")
    from dockyard.registry.htpasswd import hash_password

    path = tmp_path / "htpasswd"
    path.write_text(f"alice:{hash_password('wonderland', rounds=4)}\n"
                    f"bob:{hash_password('builder', rounds=4)}\n")
    return path


@pytest.fixture
def tls_files(tmp_path: Path) -> tuple[Path, Path]:
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    result = subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
         "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
         "-keyout", str(key), "-out", str(cert)],
        capture_output=True, text=True, check=False, timeout=60,
    )
    if result.returncode != 0:
        pytest.skip(f"openssl cannot make a test certificate: {result.stderr[-200:]}")
    return cert, key
