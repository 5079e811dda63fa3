"""bench/engine_api.py against a small Engine API stand-in on a unix socket (a thread in the
test): keep-alive reuse, the checks of timed_gets, import errors inside a 200, DELETE's 404."""

from __future__ import annotations

import json
import socketserver
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from types import ModuleType

import pytest

BenchModule = Callable[[str], ModuleType]


@dataclass
class Seen:
    connections: int = 0
    requests: list[tuple[str, str, bytes]] = field(default_factory=list)
    close_after: bool = False  # answer with Connection: close
    images: set[str] = field(default_factory=lambda: {"dockyard-bench/images200:000"})


class Server(socketserver.UnixStreamServer):
    def __init__(self, path: Path, seen: Seen) -> None:
        self.seen = seen
        super().__init__(str(path), Handler)


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: Server

    def setup(self) -> None:
        super().setup()
        self.server.seen.connections += 1

    def _answer(self, status: int, body: bytes) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        self.server.seen.requests.append((self.command, self.path, self.rfile.read(length)))
        self.send_response(status)
        self.send_header("Content-Length", str(len(body)))
        if self.server.seen.close_after:
            self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self) -> None:
        if self.path == "/_ping":
            self._answer(200, b"OK")
        elif self.path == "/v1.41/images/json":
            self._answer(200, json.dumps([{"Id": "a"}, {"Id": "b"}]).encode())
        elif self.path == "/v1.41/images/json?all=1":
            self._answer(200, json.dumps([{"Id": "a", "ParentId": ""}]).encode())
        elif self.path.endswith("/json") and self._name() in self.server.seen.images:
            self._answer(200, json.dumps({"Id": "sha256:" + self._name()}).encode())
        else:
            self._answer(404, b'{"message": "page not found"}')

    def _name(self) -> str:
        return self.path.removeprefix("/v1.41/images/").partition("?")[0].removesuffix("/json")

    def do_POST(self) -> None:
        if "/tag?" in self.path:
            self._answer(201, b"")
        elif "repo=bad" in self.path:
            self._answer(200, b'{"status": "x"}\n{"errorDetail": {}, "error": "bad tar"}\n')
        else:
            self._answer(200, b'{"status": "sha256:1234"}\n')

    def do_DELETE(self) -> None:
        name = self._name()
        if name in self.server.seen.images:
            self.server.seen.images.remove(name)
            self._answer(200, b'[{"Untagged": "x"}]')
        else:
            self._answer(404, b'{"message": "No such image: ' + name.encode() + b'"}')

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def daemon(tmp_path: Path) -> Iterator[tuple[Path, Seen]]:
    path, seen = tmp_path / "api.sock", Seen()
    server = Server(path, seen)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    try:
        yield path, seen
    finally:
        server.shutdown()
        thread.join()
        server.server_close()


def test_timed_gets_reuses_one_connection(
    bench_module: BenchModule, daemon: tuple[Path, Seen]
) -> None:
    api = bench_module("bench.engine_api")
    path, seen = daemon
    conn = api.UnixConnection(path)
    try:
        samples = api.timed_gets(conn, "/v1.41/images/json", 5)
        assert api.image_count(conn) == (2, len(b'[{"Id": "a"}, {"Id": "b"}]'))
    finally:
        conn.close()
    assert len(samples) == 5
    assert all(0 < s < 5 for s in samples)
    assert seen.connections == 1
    assert [r[:2] for r in seen.requests] == [("GET", "/v1.41/images/json")] * 6


def test_timed_gets_refuses_a_closed_connection_or_an_error(
    bench_module: BenchModule, daemon: tuple[Path, Seen]
) -> None:
    rows, api = bench_module("bench.rows"), bench_module("bench.engine_api")
    path, seen = daemon
    conn = api.UnixConnection(path)
    try:
        with pytest.raises(rows.RowFailed, match="answered 404"):
            api.timed_gets(conn, "/v1.41/nothing", 2)
        seen.close_after = True
        with pytest.raises(rows.RowFailed, match="the daemon closed the connection"):
            api.timed_gets(conn, "/v1.41/images/json", 2)
    finally:
        conn.close()


def test_import_rootfs_posts_the_tar_and_reports_a_streamed_error(
    bench_module: BenchModule, daemon: tuple[Path, Seen]
) -> None:
    rows, api = bench_module("bench.rows"), bench_module("bench.engine_api")
    path, seen = daemon
    conn = api.UnixConnection(path)
    try:
        api.import_rootfs(conn, b"tar bytes", "dockyard-bench/images200", "007")
        with pytest.raises(rows.RowFailed, match=r"import bad:1 into .*: bad tar"):
            api.import_rootfs(conn, b"x", "bad", "1")
    finally:
        conn.close()
    assert seen.requests[0] == (
        "POST",
        "/v1.41/images/create?fromSrc=-&repo=dockyard-bench%2Fimages200&tag=007",
        b"tar bytes",
    )


def test_remove_image_tells_whether_it_was_there(
    bench_module: BenchModule, daemon: tuple[Path, Seen]
) -> None:
    api = bench_module("bench.engine_api")
    path, seen = daemon
    conn = api.UnixConnection(path)
    try:
        assert api.remove_image(conn, "dockyard-bench/images200:000") is True
        assert api.remove_image(conn, "dockyard-bench/images200:000") is False
    finally:
        conn.close()
    assert seen.images == set()


def test_image_id_tag_list_and_forced_removal(
    bench_module: BenchModule, daemon: tuple[Path, Seen]
) -> None:
    api = bench_module("bench.engine_api")
    path, seen = daemon
    seen.images = {"busybox:latest"}
    conn = api.UnixConnection(path)
    try:
        assert api.image_id(conn, "busybox:latest") == "sha256:busybox:latest"
        assert api.image_id(conn, "debian:bookworm-slim") is None
        assert api.list_images(conn) == [{"Id": "a", "ParentId": ""}]
        api.tag_image(conn, "sha256:abc", "debian:bookworm-slim")
        assert api.remove_image(conn, "busybox:latest", force=True) is True
    finally:
        conn.close()
    assert [r[:2] for r in seen.requests] == [
        ("GET", "/v1.41/images/busybox:latest/json"),
        ("GET", "/v1.41/images/debian:bookworm-slim/json"),
        ("GET", "/v1.41/images/json?all=1"),
        ("POST", "/v1.41/images/sha256:abc/tag?repo=debian&tag=bookworm-slim"),
        ("DELETE", "/v1.41/images/busybox:latest?force=1"),
    ]


def test_ping(bench_module: BenchModule, daemon: tuple[Path, Seen], tmp_path: Path) -> None:
    api = bench_module("bench.engine_api")
    path, _ = daemon
    assert api.ping(path) is True
    assert api.ping(tmp_path / "nobody.sock") is False
