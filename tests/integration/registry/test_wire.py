"""The registry over real sockets: framing, keep-alive, truncation, 100-continue, TLS, sendfile."""

from __future__ import annotations

import socket
import ssl
import time
from pathlib import Path
from typing import Any

from dockyard.oci.digest import Digest

from .conftest import Registry, wait_for

DATA = bytes(range(256)) * 4096  # 1 MiB
DIGEST = Digest.of(DATA)


def raw(registry: Registry, payload: bytes, *, read: bool = True, timeout: float = 10) -> bytes:
    """Send bytes on a fresh connection; read until the server closes (or the timeout)."""
    with socket.create_connection((registry.host, registry.port), timeout=timeout) as sock:
        sock.sendall(payload)
        if not read:
            return b""
        sock.shutdown(socket.SHUT_WR)
        chunks = []
        while piece := sock.recv(65536):
            chunks.append(piece)
        return b"".join(chunks)


def ingests(registry: Registry) -> list[Path]:
    return [p for p in (registry.root / "content" / "ingest").iterdir()
            if not p.name.startswith(".")]


def test_keep_alive_and_sendfile_ranges(registry: Registry) -> None:
    registry.push_blob("wire/app", DATA)
    conn = registry.connection()
    try:
        for header, expected in ((None, DATA), ("bytes=1000-1999", DATA[1000:2000]),
                                 ("bytes=-10", DATA[-10:])):
            conn.request("GET", f"/v2/wire/app/blobs/{DIGEST}",
                         headers={"Range": header} if header else {})
            response = conn.getresponse()
            assert (response.status in (200, 206), response.read()) == (True, expected)
        conn.request("HEAD", f"/v2/wire/app/blobs/{DIGEST}")
        response = conn.getresponse()
        assert (response.status, response.getheader("Content-Length"), response.read()) == (
            200, str(len(DATA)), b"")
    finally:
        conn.close()


def test_chunked_patch(registry: Registry) -> None:
    location = registry.request("POST", "/v2/wire/app/blobs/uploads/").headers["Location"]
    body = b"".join(b"%x\r\n%s\r\n" % (len(part), part)
                    for part in (DATA[:1000], DATA[1000:300000], DATA[300000:]))
    head = (f"PATCH {location} HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n"
            "Connection: close\r\n\r\n").encode()
    reply = raw(registry, head + body + b"0\r\n\r\n")
    assert reply.startswith(b"HTTP/1.1 202 ") and b"Range: 0-1048575\r\n" in reply
    done = registry.request("PUT", f"{location}?digest={DIGEST}")
    assert done.status == 201
    assert registry.request("GET", f"/v2/wire/app/blobs/{DIGEST}").body == DATA


def test_truncated_monolithic_upload_leaves_nothing(registry: Registry) -> None:
    head = (f"POST /v2/wire/app/blobs/uploads/?digest={DIGEST} HTTP/1.1\r\nHost: x\r\n"
            f"Content-Length: {len(DATA)}\r\n\r\n").encode()
    raw(registry, head + DATA[:500_000])
    assert wait_for(lambda: ingests(registry) == [])
    assert registry.request("HEAD", f"/v2/wire/app/blobs/{DIGEST}").status == 404
    assert not (registry.root / "content" / "blobs" / "sha256" / DIGEST.encoded).exists()


def test_truncated_patch_keeps_what_arrived_for_a_resume(registry: Registry) -> None:
    location = registry.request("POST", "/v2/wire/app/blobs/uploads/").headers["Location"]
    head = (f"PATCH {location} HTTP/1.1\r\nHost: x\r\nContent-Range: 0-{len(DATA) - 1}\r\n"
            f"Content-Length: {len(DATA)}\r\n\r\n").encode()
    raw(registry, head + DATA[:400_000])

    def offset() -> int:
        reply = registry.request("GET", location)
        return int(reply.headers["Range"].split("-")[1]) + 1

    assert wait_for(lambda: offset() == 400_000)
    rest = registry.request("PATCH", location, DATA[400_000:],
                            {"Content-Range": f"400000-{len(DATA) - 1}"})
    assert rest.status == 202
    assert registry.request("PUT", f"{location}?digest={DIGEST}").status == 201


def test_expect_continue_refused_without_reading_the_body(registry: Registry) -> None:
    size = 100 << 20  # over the 64 MiB limit of the fixture
    head = (f"POST /v2/wire/app/blobs/uploads/?digest={DIGEST} HTTP/1.1\r\nHost: x\r\n"
            f"Content-Length: {size}\r\nExpect: 100-continue\r\n\r\n").encode()
    reply = raw(registry, head)
    assert reply.startswith(b"HTTP/1.1 413 ") and b"100 Continue" not in reply
    assert b'"SIZE_INVALID"' in reply


def test_expect_continue_accepted(registry: Registry) -> None:
    head = (f"POST /v2/wire/app/blobs/uploads/?digest={DIGEST} HTTP/1.1\r\nHost: x\r\n"
            f"Content-Length: {len(DATA)}\r\nExpect: 100-continue\r\nConnection: close\r\n"
            "\r\n").encode()
    with socket.create_connection((registry.host, registry.port), timeout=10) as sock:
        sock.sendall(head)
        assert sock.recv(100) == b"HTTP/1.1 100 Continue\r\n\r\n"
        sock.sendall(DATA)
        assert sock.recv(100).startswith(b"HTTP/1.1 201 ")


def test_streamed_upload_over_the_limit(registry_factory: Any) -> None:
    registry = registry_factory("--max-upload-size", "256KiB")
    location = registry.request("POST", "/v2/wire/app/blobs/uploads/").headers["Location"]
    head = (f"PATCH {location} HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n"
            "\r\n").encode()
    body = b"".join(b"%x\r\n%s\r\n" % (65536, DATA[i:i + 65536]) for i in range(0, 1 << 20,
                                                                                   65536))
    reply = raw(registry, head + body + b"0\r\n\r\n")
    assert reply.startswith(b"HTTP/1.1 413 ") and b'"SIZE_INVALID"' in reply
    assert registry.request("GET", location).code == "BLOB_UPLOAD_UNKNOWN"
    assert wait_for(lambda: ingests(registry) == [])


def test_malformed_requests(registry: Registry) -> None:
    assert raw(registry, b"NONSENSE\r\n\r\n").startswith(b"HTTP/1.1 400 ")
    assert raw(registry, b"GET /v2/ HTTP/2.0\r\n\r\n").startswith(b"HTTP/1.1 505 ")
    bad_length = b"PUT /v2/a/manifests/x HTTP/1.1\r\nContent-Length: -1\r\n\r\n"
    assert raw(registry, bad_length).startswith(b"HTTP/1.1 400 ")
    assert raw(registry, b"GET /v2/ HTTP/1.1\r\n" + b"X: y\r\n" * 20000 + b"\r\n").startswith(
        b"HTTP/1.1 431 ")


def test_tls_client_hello_on_the_plain_port_is_closed_at_once(registry: Registry) -> None:
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    started = time.monotonic()
    with socket.create_connection((registry.host, registry.port), timeout=10) as sock:
        try:
            context.wrap_socket(sock).close()
            handshook = True
        except (ssl.SSLError, OSError):
            handshook = False
    assert (handshook, time.monotonic() - started < 2) == (False, True)


def test_tls(registry_factory: Any, tls_files: tuple[Path, Path]) -> None:
    cert, key = tls_files
    registry = registry_factory("--tls-cert", str(cert), "--tls-key", str(key), tls=True)
    assert registry.url.startswith("https://")
    registry.push_blob("tls/app", DATA)
    reply = registry.request("GET", f"/v2/tls/app/blobs/{DIGEST}")
    assert (reply.status, reply.body == DATA) == (200, True)
    ranged = registry.request("GET", f"/v2/tls/app/blobs/{DIGEST}",
                              headers={"Range": "bytes=10-19"})
    assert (ranged.status, ranged.body) == (206, DATA[10:20])
