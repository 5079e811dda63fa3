"""The /volumes routes over a volume service in a temp dir: the requests docker CLI 28, docker-py
and compose send, the statuses and bodies dockerd 20.10 answers with."""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, quote, urlsplit

import pytest

from dockyard.api.handlers.volumes import routes
from dockyard.api.http import Body, Request
from dockyard.api.router import Router
from dockyard.services.volumes import VolumeService
from dockyard.sys.recording import RecordingSyscalls
from dockyard.volumes import VolumeStore

JSON = {"content-type": "application/json"}


@dataclass(frozen=True)
class _Services:
    volumes: VolumeService


@pytest.fixture
def router(tmp_path: Path) -> Router:
    store = VolumeStore(tmp_path / "volumes", RecordingSyscalls())
    return Router(routes(_Services(VolumeService(store))))


def call(router: Router, method: str, target: str, body: bytes = b"",
         headers: dict[str, str] | None = None) -> tuple[int, Any]:
    split = urlsplit(target)

    async def run() -> tuple[int, Any]:
        request = Request(method, split.path, query=parse_qs(split.query, keep_blank_values=True),
                          headers=headers or {}, body=Body.of(body))
        response = await router.dispatch(request)
        assert isinstance(response.body, bytes)
        return response.status, json.loads(response.body) if response.body else None

    return asyncio.run(run())


def create(router: Router, body: object) -> tuple[int, Any]:
    return call(router, "POST", "/v1.41/volumes/create", json.dumps(body).encode(), JSON)


def test_the_cli_sequence(router: Router) -> None:
    status, made = create(router, {"Driver": "local", "Name": "tracevol"})
    assert (status, made["Name"], made["Labels"]) == (201, "tracevol", None)
    assert create(router, {"Driver": "local", "Labels": {"k": "v"}, "Name": "tracevol2"})[0] == 201
    status, listed = call(router, "GET", "/v1.41/volumes")
    assert (status, [v["Name"] for v in listed["Volumes"]], listed["Warnings"]) == (
        200, ["tracevol", "tracevol2"], None)
    filters = quote(json.dumps({"label": {"k=v": True}}))
    status, listed = call(router, "GET", f"/v1.41/volumes?filters={filters}")
    assert [v["Name"] for v in listed["Volumes"]] == ["tracevol2"]
    assert call(router, "GET", "/v1.41/volumes/tracevol") == (200, made)
    assert call(router, "DELETE", "/v1.41/volumes/tracevol") == (204, None)
    assert call(router, "DELETE", "/v1.41/volumes/tracevol") == (
        404, {"message": "get tracevol: no such volume"})
    assert call(router, "DELETE", "/v1.41/volumes/tracevol?force=1") == (204, None)
    assert call(router, "GET", "/volumes/nosuch") == (
        404, {"message": "get nosuch: no such volume"})


def test_docker_py_list_form_filters_and_prune(router: Router) -> None:
    create(router, {"Name": "p1", "Labels": {"com.dockerpy.test": "true"}, "DriverOpts": None,
                    "Driver": None})
    create(router, {"Name": "p2"})
    filters = quote(json.dumps({"label": ["com.dockerpy.test=true"]}))
    status, pruned = call(router, "POST", f"/v1.41/volumes/prune?filters={filters}")
    assert (status, pruned) == (200, {"VolumesDeleted": ["p1"], "SpaceReclaimed": 0})
    assert call(router, "POST", "/v1.41/volumes/prune") == (
        200, {"VolumesDeleted": ["p2"], "SpaceReclaimed": 0})
    all_filter = quote(json.dumps({"all": ["true"]}))
    assert call(router, "POST", f"/v1.41/volumes/prune?filters={all_filter}") == (
        400, {"message": "Invalid filter 'all'"})


def test_create_errors(router: Router) -> None:
    assert create(router, {"Name": "a/b"})[0] == 400
    assert create(router, {"Name": "ok", "Driver": "nosuch"}) == (404, {
        "message": 'create ok: error looking up volume plugin nosuch: plugin "nosuch" not found'})
    assert create(router, {"Name": "ok", "DriverOpts": {"size": "1g"}}) == (
        400, {"message": "create ok: quota size requested but no quota support"})
    assert call(router, "POST", "/volumes/create", b"", JSON) == (
        400, {"message": "got EOF while reading request body"})
    assert call(router, "POST", "/volumes/create", b"x=1",
                {"content-type": "application/x-www-form-urlencoded"}) == (
        400, {"message": "Content-Type specified (application/x-www-form-urlencoded) must be "
                         "'application/json'"})
    status, made = call(router, "POST", "/volumes/create", b"{}",
                        {"content-type": "application/json; charset=utf-8"})
    assert status == 201 and len(made["Name"]) == 64
    assert call(router, "GET", "/volumes?filters=%7B%22foo%22%3A%5B%22x%22%5D%7D") == (
        400, {"message": "Invalid filter 'foo'"})
