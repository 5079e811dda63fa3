"""The image routes over the image service: the requests docker CLI 28 sends, the answers dockerd
20.10 gives (status, headers, bodies)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from dockyard.api.handlers.images import routes
from dockyard.api.http import Body, Request, Response
from dockyard.api.router import Router
from dockyard.services.images import ImageService

from .conftest import rootfs

pytestmark = pytest.mark.root


@dataclass(frozen=True)
class _Services:
    images: ImageService


async def _body(response: Response) -> bytes:
    if isinstance(response.body, bytes):
        return response.body
    chunks: AsyncIterator[bytes] = response.body
    return b"".join([chunk async for chunk in chunks])


def call(service: ImageService, method: str, target: str,
         body: bytes = b"") -> tuple[int, dict[str, str], bytes]:
    split = urlsplit(target)

    async def run() -> tuple[int, dict[str, str], bytes]:
        request = Request(method, split.path, query=parse_qs(split.query, keep_blank_values=True),
                          body=Body.of(body))
        response = await Router(routes(_Services(service))).dispatch(request)
        return response.status, response.headers, await _body(response)

    return asyncio.run(run())


def call_json(service: ImageService, method: str, target: str, body: bytes = b"") -> Any:
    status, _, data = call(service, method, target, body)
    assert status == 200, data
    return json.loads(data)


def test_import_as_the_cli_sends_it(service: ImageService) -> None:
    query = ("/v1.41/images/create?changes=CMD+%5B%22sh%22%5D&changes=ENV+A%3D1&fromSrc=-"
             "&message=hello&repo=dyimg%2Fbb%3Av1")
    status, headers, body = call(service, "POST", query, rootfs({"bin/sh": b"#!"}))
    assert (status, headers) == (200, {"Content-Type": "application/json"})
    image = json.loads(body)["status"]
    assert body == b'{"status":"' + image.encode() + b'"}\r\n'
    inspect = call_json(service, "GET", "/v1.41/images/dyimg/bb:v1/json")
    assert (inspect["Id"], inspect["Comment"]) == (image, "hello")
    assert (inspect["Config"]["Cmd"], inspect["Config"]["Env"]) == (["sh"], ["A=1"])


def test_import_errors_are_http_errors(service: ImageService) -> None:
    status, _, body = call(service, "POST", "/images/create?fromSrc=-&changes=RUN+x", b"")
    assert status == 400
    assert json.loads(body)["message"].startswith(
        'invalid change "RUN x": run is not a valid change command')
    status, _, _ = call(service, "POST", "/images/create?fromImage=docker.io%2Flibrary%2Fx&tag=1")
    assert status == 400
    status, _, _ = call(service, "POST", "/images/create?fromSrc=http%3A%2F%2Fx%2Fy.tar")
    assert status == 400


def test_list_tag_history_delete_prune(service: ImageService) -> None:
    call(service, "POST", "/images/create?fromSrc=-&repo=busybox", rootfs({"f": b"12"}))
    status, headers, body = call(
        service, "POST", "/v1.41/images/busybox/tag?repo=docker.io%2Ftracetest%2Fbb&tag=v1")
    assert (status, headers, body) == (201, {}, b"")
    [item] = call_json(service, "GET", "/v1.41/images/json")
    assert item["RepoTags"] == ["busybox:latest", "tracetest/bb:v1"]
    filters = "%7B%22reference%22%3A%7B%22busybox%22%3Atrue%7D%7D"
    [item] = call_json(service, "GET", f"/v1.41/images/json?all=1&filters={filters}")
    assert item["RepoTags"] == ["busybox:latest"]
    [step] = call_json(service, "GET", "/v1.41/images/tracetest/bb:v1/history")
    assert step["Tags"] == ["busybox:latest", "tracetest/bb:v1"]
    assert call_json(service, "DELETE", "/v1.41/images/tracetest/bb:v1") == [
        {"Untagged": "tracetest/bb:v1"}]
    gone = call_json(service, "DELETE", "/v1.41/images/busybox?force=1&noprune=0")
    assert [list(entry) for entry in gone] == [["Untagged"], ["Deleted"], ["Deleted"]]
    assert call_json(service, "POST", "/v1.41/images/prune?filters=%7B%7D") == {
        "ImagesDeleted": None, "SpaceReclaimed": 0}


def test_errors(service: ImageService) -> None:
    status, _, body = call(service, "GET", "/v1.41/images/nosuchimage/json")
    assert (status, json.loads(body)) == (
        404, {"message": "no such image: nosuchimage: No such image: nosuchimage:latest"})
    status, _, body = call(service, "DELETE", "/v1.41/images/nosuchimage")
    assert (status, json.loads(body)) == (404, {"message": "No such image: nosuchimage:latest"})
    status, _, body = call(service, "GET", "/v1.41/images/json?filters=%7B%22foo%22%3A%5B%5D%7D")
    assert (status, json.loads(body)) == (400, {"message": "Invalid filter 'foo'"})
