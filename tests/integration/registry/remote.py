"""Test images built in memory, uploads by raw HTTP, and a small fake registry that misbehaves
on purpose (corrupt or slow blobs) and records what it was asked.

Shared by the client tests here and the end-to-end tests (which load this file by path).
"""

from __future__ import annotations

import base64
import gzip
import http.client
import io
import json
import tarfile
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import zstandard

DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
DOCKER_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
DOCKER_CONFIG = "application/vnd.docker.container.image.v1+json"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
_LAYER_TYPES = {
    (False, "gzip"): "application/vnd.docker.image.rootfs.diff.tar.gzip",
    (False, "none"): "application/vnd.docker.image.rootfs.diff.tar",
    (False, "zstd"): "application/vnd.docker.image.rootfs.diff.tar.zstd",
    (True, "gzip"): "application/vnd.oci.image.layer.v1.tar+gzip",
    (True, "none"): "application/vnd.oci.image.layer.v1.tar",
    (True, "zstd"): "application/vnd.oci.image.layer.v1.tar+zstd",
}


def sha256(data: bytes) -> str:
    import hashlib

    return "sha256:" + hashlib.sha256(data).hexdigest()


def layer_tar(files: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for name, data in sorted(files.items()):
            info = tarfile.TarInfo(name)
            info.size, info.mtime, info.mode = len(data), 1_700_000_000, 0o644
            tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def compress(raw: bytes, kind: str) -> bytes:
    if kind == "gzip":
        return gzip.compress(raw, mtime=0)
    if kind == "zstd":
        return zstandard.ZstdCompressor().compress(raw)
    return raw


@dataclass
class RemoteImage:
    """An image as a registry holds it: manifest bytes, config bytes, blobs by digest."""

    manifest: bytes
    media_type: str
    config: bytes
    blobs: dict[str, bytes]
    diff_ids: list[str]
    layer_digests: list[str]

    @property
    def digest(self) -> str:
        return sha256(self.manifest)

    @property
    def image_id(self) -> str:
        return sha256(self.config)


def build_image(layers: list[dict[str, bytes]], *, compression: str = "gzip", oci: bool = False,
                architecture: str = "amd64", cmd: str = "sh") -> RemoteImage:
    blobs: dict[str, bytes] = {}
    descriptors, diff_ids, digests = [], [], []
    for files in layers:
        raw = layer_tar(files)
        blob = compress(raw, compression)
        digest = sha256(blob)
        blobs[digest] = blob
        digests.append(digest)
        diff_ids.append(sha256(raw))
        descriptors.append({"mediaType": _LAYER_TYPES[(oci, compression)], "size": len(blob),
                            "digest": digest})
    config = json.dumps({"architecture": architecture, "os": "linux",
                         "config": {"Cmd": [cmd]}, "created": "2024-01-01T00:00:00Z",
                         "rootfs": {"type": "layers", "diff_ids": diff_ids}},
                        separators=(",", ":")).encode()
    blobs[sha256(config)] = config
    media_type = OCI_MANIFEST if oci else DOCKER_MANIFEST
    manifest = json.dumps({
        "schemaVersion": 2, "mediaType": media_type,
        "config": {"mediaType": OCI_CONFIG if oci else DOCKER_CONFIG, "size": len(config),
                   "digest": sha256(config)},
        "layers": descriptors}, separators=(",", ":")).encode()
    return RemoteImage(manifest, media_type, config, blobs, diff_ids, digests)


def build_index(images: dict[str, RemoteImage], *, oci: bool = True) -> bytes:
    """An index naming each image under its ``architecture`` (the dict key)."""
    entries = [{"mediaType": image.media_type, "size": len(image.manifest),
                "digest": image.digest, "platform": {"architecture": arch, "os": "linux"}}
               for arch, image in images.items()]
    media_type = OCI_INDEX if oci else DOCKER_LIST
    return json.dumps({"schemaVersion": 2, "mediaType": media_type, "manifests": entries},
                      separators=(",", ":")).encode()


class Uploader:
    """Puts blobs and manifests into a registry at ``address`` over plain HTTP."""

    def __init__(self, address: str, auth: tuple[str, str] | None = None) -> None:
        self.host, port = address.rsplit(":", 1)
        self.port = int(port)
        self.headers: dict[str, str] = {}
        if auth is not None:
            token = base64.b64encode(f"{auth[0]}:{auth[1]}".encode()).decode()
            self.headers["Authorization"] = f"Basic {token}"

    def _request(self, method: str, path: str, body: bytes = b"",
                 headers: dict[str, str] | None = None) -> http.client.HTTPResponse:
        conn = http.client.HTTPConnection(self.host, self.port, timeout=30)
        conn.request(method, path, body=body, headers={**self.headers, **(headers or {})})
        response = conn.getresponse()
        response.read()
        conn.close()
        return response

    def blob(self, repo: str, data: bytes) -> str:
        digest = sha256(data)
        response = self._request("POST", f"/v2/{repo}/blobs/uploads/")
        assert response.status == 202, response.status
        location = response.headers["Location"]
        if location.startswith("http"):
            location = "/" + location.split("/", 3)[3]
        sep = "&" if "?" in location else "?"
        response = self._request("PUT", f"{location}{sep}digest={digest}", data,
                                 {"Content-Type": "application/octet-stream"})
        assert response.status == 201, response.status
        return digest

    def manifest(self, repo: str, reference: str, data: bytes, media_type: str) -> None:
        response = self._request("PUT", f"/v2/{repo}/manifests/{reference}", data,
                                 {"Content-Type": media_type})
        assert response.status == 201, response.status

    def image(self, repo: str, tag: str, image: RemoteImage) -> None:
        for data in image.blobs.values():
            self.blob(repo, data)
        self.manifest(repo, tag, image.manifest, image.media_type)


@dataclass
class FakeRegistry:
    """A registry answering GETs from memory: ``manifests`` by ``repo:reference``, ``blobs``
    by digest. ``corrupt`` digests are served with a flipped byte; ``slow`` digests trickle
    out (``rate`` bytes per second); ``requests`` records (method, path, Range)."""

    manifests: dict[str, tuple[bytes, str]] = field(default_factory=dict)
    blobs: dict[str, bytes] = field(default_factory=dict)
    corrupt: set[str] = field(default_factory=set)
    slow: set[str] = field(default_factory=set)
    rate: int = 256 << 10
    requests: list[tuple[str, str, str]] = field(default_factory=list)
    server: ThreadingHTTPServer | None = None
    thread: threading.Thread | None = None

    def add(self, repo: str, tag: str, image: RemoteImage) -> None:
        self.blobs.update(image.blobs)
        self.manifests[f"{repo}:{tag}"] = (image.manifest, image.media_type)
        self.manifests[f"{repo}:{image.digest}"] = (image.manifest, image.media_type)

    @property
    def address(self) -> str:
        assert self.server is not None
        return f"127.0.0.1:{self.server.server_address[1]}"

    def start(self) -> FakeRegistry:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:
                pass

            def do_HEAD(self) -> None:
                self.do_GET(head=True)

            def do_GET(self, head: bool = False) -> None:
                fake.requests.append((self.command, self.path, self.headers.get("Range", "")))
                fake.answer(self, head)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()
        return self

    def stop(self) -> None:
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()

    def answer(self, handler: BaseHTTPRequestHandler, head: bool) -> None:
        path = handler.path.split("?")[0]
        if path in ("/v2/", "/v2"):
            return _send(handler, 200, b"{}", "application/json", head)
        if "/manifests/" in path:
            repo, reference = path[4:].split("/manifests/")
            found = self.manifests.get(f"{repo}:{reference}")
            if found is None:
                body = b'{"errors":[{"code":"MANIFEST_UNKNOWN","message":"manifest unknown"}]}'
                return _send(handler, 404, body, "application/json", head)
            return _send(handler, 200, found[0], found[1], head,
                         {"Docker-Content-Digest": sha256(found[0])})
        if "/blobs/" in path:
            digest = path.rsplit("/", 1)[1]
            data = self.blobs.get(digest)
            if data is None:
                body = b'{"errors":[{"code":"BLOB_UNKNOWN","message":"blob unknown"}]}'
                return _send(handler, 404, body, "application/json", head)
            if digest in self.corrupt:
                data = data[:-1] + bytes([data[-1] ^ 0xFF])
            return self._blob(handler, digest, data, head)
        return _send(handler, 404, b"{}", "application/json", head)

    def _blob(self, handler: BaseHTTPRequestHandler, digest: str, data: bytes,
              head: bool) -> None:
        start = 0
        ranged = handler.headers.get("Range", "")
        status = 200
        if ranged.startswith("bytes=") and ranged.endswith("-"):
            start, status = int(ranged[6:-1]), 206
        body = data[start:]
        handler.send_response(status)
        handler.send_header("Content-Type", "application/octet-stream")
        handler.send_header("Content-Length", str(len(body)))
        if status == 206:
            handler.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
        handler.end_headers()
        if head:
            return
        step = max(self.rate // 20, 1) if digest in self.slow else len(body) or 1
        try:
            for offset in range(0, len(body), step):
                handler.wfile.write(body[offset:offset + step])
                handler.wfile.flush()
                if digest in self.slow:
                    time.sleep(0.05)
        except OSError:
            pass


def _send(handler: BaseHTTPRequestHandler, status: int, body: bytes, content_type: str,
          head: bool, headers: dict[str, str] | None = None) -> None:
    handler.send_response(status)
    handler.send_header("Content-Type", content_type)
    handler.send_header("Content-Length", str(len(body)))
    for key, value in (headers or {}).items():
        handler.send_header(key, value)
    handler.end_headers()
    if not head:
        handler.wfile.write(body)
