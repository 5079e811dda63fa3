"""A scripted Engine API server on a unix socket, for client and CLI tests without a daemon.

Routes map (method, path without the version prefix) to a handler that gets the request and
returns (status, headers, body); a body that is a list is sent chunked, one chunk per item.
Every request is recorded (method, target, headers, body with chunked encoding undone).
The `daemon` fixture (re-exported by the client and CLI conftests) starts one per test.
"""

from __future__ import annotations

import contextlib
import json
import shutil
import socket
import tempfile
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest


@dataclass
class Request:
    method: str
    target: str
    headers: dict[str, str]
    body: bytes

    @property
    def path(self) -> str:
        path = self.target.partition("?")[0]
        if path.startswith("/v1."):
            path = "/" + path.split("/", 2)[2]
        return path

    @property
    def query(self) -> str:
        return self.target.partition("?")[2]


Reply = tuple[int, dict[str, str], bytes | list[bytes]]
Handler = Callable[[Request], Reply]


def json_reply(value: object, status: int = 200) -> Reply:
    return status, {"Content-Type": "application/json"}, json.dumps(value).encode() + b"\n"


def error_reply(status: int, message: str) -> Reply:
    return json_reply({"message": message}, status)


@dataclass
class FakeDaemon:
    path: Path
    routes: dict[tuple[str, str], Handler] = field(default_factory=dict)
    requests: list[Request] = field(default_factory=list)
    api_version: str = "1.41"

    def __post_init__(self) -> None:
        self._server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self._server.bind(str(self.path))
        self._server.listen(8)
        self._threads: list[threading.Thread] = []
        self._accept = threading.Thread(target=self._serve, daemon=True)
        self._accept.start()

    @property
    def host(self) -> str:
        return f"unix://{self.path}"

    def close(self) -> None:
        closed = self._server
        self._server = socket.socket(socket.AF_UNIX)  # a closed stand-in: fileno() == -1
        self._server.close()
        with socket.socket(socket.AF_UNIX) as wake, contextlib.suppress(OSError):
            wake.connect(str(self.path))  # wake accept()
        closed.close()
        self._accept.join(5)
        for thread in self._threads:
            thread.join(5)

    def _serve(self) -> None:
        server = self._server
        while True:
            try:
                conn, _ = server.accept()
            except OSError:
                return
            if self._server.fileno() == -1:
                conn.close()
                return
            thread = threading.Thread(target=self._connection, args=(conn,), daemon=True)
            self._threads.append(thread)
            thread.start()

    def _connection(self, conn: socket.socket) -> None:
        with conn, conn.makefile("rb") as reader:
            while True:
                line = reader.readline()
                if not line.strip():
                    return
                method, target, _ = line.decode().split(" ", 2)
                headers: dict[str, str] = {}
                while (h := reader.readline()) not in (b"\r\n", b"\n", b""):
                    name, _, value = h.decode().partition(":")
                    headers[name.strip().lower()] = value.strip()
                body = self._body(reader, headers)
                request = Request(method, target, headers, body)
                self.requests.append(request)
                conn.sendall(self._respond(request))

    @staticmethod
    def _body(reader: object, headers: dict[str, str]) -> bytes:
        read = reader.read  # type: ignore[attr-defined]
        readline = reader.readline  # type: ignore[attr-defined]
        if headers.get("transfer-encoding") == "chunked":
            data = b""
            while (size := int(readline().strip(), 16)) != 0:
                data += read(size)
                readline()
            readline()
            return data
        return read(int(headers.get("content-length", "0")))

    def _respond(self, request: Request) -> bytes:
        common = {"Api-Version": self.api_version, "Ostype": "linux"}
        if request.path == "/_ping":
            head = "HTTP/1.1 200 OK\r\n" + "".join(f"{k}: {v}\r\n" for k, v in common.items())
            body = b"" if request.method == "HEAD" else b"OK"
            return (head + f"Content-Length: {len(body)}\r\n\r\n").encode() + body
        handler = self.routes.get((request.method, request.path))
        status, headers, body = (handler(request) if handler
                                 else error_reply(404, "page not found"))
        lines = [f"HTTP/1.1 {status} X"] + [f"{k}: {v}" for k, v in {**common, **headers}.items()]
        if isinstance(body, list):
            lines.append("Transfer-Encoding: chunked")
            data = b"".join(b"%x\r\n%b\r\n" % (len(c), c) for c in body if c) + b"0\r\n\r\n"
        else:
            lines.append(f"Content-Length: {len(body)}")
            data = body
        return ("\r\n".join(lines) + "\r\n\r\n").encode() + data


@pytest.fixture
def daemon() -> Iterator[FakeDaemon]:
    # A short temp dir, not tmp_path: a unix socket path must fit in 108 bytes.
    workdir = Path(tempfile.mkdtemp(prefix="dy-fake-"))
    server = FakeDaemon(workdir / "d.sock")
    try:
        yield server
    finally:
        server.close()
        shutil.rmtree(workdir, ignore_errors=True)
