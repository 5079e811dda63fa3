"""Drives the registry application in memory: requests in, whole responses out, no sockets."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

import pytest

from dockyard.oci import mediatypes as mt
from dockyard.oci.digest import Digest
from dockyard.registry.app import Registry
from dockyard.registry.context import Context, Options
from dockyard.registry.guard import Guard, OpenGuard
from dockyard.registry.http import Body, Headers, Request
from dockyard.registry.storage import RegistryStore
from dockyard.registry.uploads import Uploads

from .reply import Reply


@dataclass
class Image:
    config: bytes
    layers: list[bytes]
    manifest: bytes
    digest: Digest
    media_type: str = mt.OCI_MANIFEST
    extra: dict[str, Any] = field(default_factory=dict)


def descriptor(media_type: str, data: bytes, **extra: Any) -> dict[str, Any]:
    return {"mediaType": media_type, "digest": str(Digest.of(data)), "size": len(data), **extra}


def image(tag_text: str = "x", *, docker: bool = False, layers: int = 1,
          **fields: Any) -> Image:
    """A small image manifest (config and layers are distinct per ``tag_text``)."""
    config = json.dumps({"architecture": "amd64", "os": "linux", "note": tag_text}).encode()
    blobs = [f"layer {i} of {tag_text}".encode() for i in range(layers)]
    if docker:
        doc: dict[str, Any] = {
            "schemaVersion": 2, "mediaType": mt.DOCKER_MANIFEST,
            "config": descriptor(mt.DOCKER_CONFIG, config),
            "layers": [descriptor(mt.DOCKER_LAYER_GZIP, b) for b in blobs],
        }
    else:
        doc = {
            "schemaVersion": 2, "mediaType": mt.OCI_MANIFEST,
            "config": descriptor(mt.OCI_CONFIG, config),
            "layers": [descriptor(mt.OCI_LAYER_GZIP, b) for b in blobs], **fields,
        }
    data = json.dumps(doc).encode()
    return Image(config, blobs, data, Digest.of(data), doc["mediaType"])


class Api:
    """Calls the app as the HTTP layer would; file bodies are read back whole."""

    def __init__(self, runner: asyncio.Runner, root: Path, options: Options,
                 guard: Guard, max_upload: int | None) -> None:
        self.runner = runner
        self.store = RegistryStore(root)
        self.uploads = Uploads(self.store, max_upload)
        self.app = Registry(Context(self.store, self.uploads, options), guard)

    def __call__(self, method: str, target: str, body: bytes = b"",
                 headers: dict[str, str] | None = None) -> Reply:
        return self.runner.run(self._call(method, target, body, headers or {}))

    async def _call(self, method: str, target: str, data: bytes,
                    headers: dict[str, str]) -> Reply:
        split = urlsplit(target)
        request = Request(method, unquote(split.path), parse_qs(split.query,
                                                                keep_blank_values=True),
                          Headers(headers), Body.of(data), target=target)
        response = await self.app(request)
        body = response.body
        if response.file is not None:
            with response.file as file:
                file.seek(response.file_offset)
                body = file.read(response.length)
        if method == "HEAD":
            body = b""
        return Reply(response.status, dict(response.headers), body)

    def push_blob(self, name: str, data: bytes) -> Digest:
        digest = Digest.of(data)
        reply = self("POST", f"/v2/{name}/blobs/uploads/?digest={digest}", data)
        assert reply.status == 201, reply
        return digest

    def push_image(self, name: str, img: Image, ref: str | None = "latest") -> Reply:
        self.push_blob(name, img.config)
        for layer in img.layers:
            self.push_blob(name, layer)
        return self("PUT", f"/v2/{name}/manifests/{ref or img.digest}", img.manifest,
                    {"Content-Type": img.media_type})

    def close(self) -> None:
        self.runner.run(self.uploads.close())


@pytest.fixture
def runner() -> Iterator[asyncio.Runner]:
    with asyncio.Runner() as r:
        yield r


@pytest.fixture
def make_api(tmp_path: Path, runner: asyncio.Runner) -> Iterator[Any]:
    made: list[Api] = []

    def make(options: Options | None = None, guard: Guard | None = None,
             max_upload: int | None = None, root: Path | None = None) -> Api:
        api = Api(runner, root or tmp_path / "registry", options or Options(delete_enabled=True),
                  guard or OpenGuard(), max_upload)
        made.append(api)
        return api

    yield make
    for api in made:
        api.close()


@pytest.fixture
def api(make_api: Any) -> Api:
    return make_api()  # type: ignore[no-any-return]
