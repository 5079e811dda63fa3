"""The route table: version prefixes, 404s, path captures, and errors mapped to dockerd's bodies."""

from __future__ import annotations

import asyncio
import json
import logging

import pytest

from dockyard.api.http import Request, Response, json_response
from dockyard.api.router import Route, Router, compile_pattern
from dockyard.errors import Conflict, InvalidArgument, NotFound, NotModified


async def show(request: Request) -> Response:
    return json_response(
        {"path": request.path, "version": request.api_version, "params": request.params}
    )


def router(*extra: Route) -> Router:
    return Router([
        Route("GET", "/_ping", show),
        Route("HEAD", "/_ping", show),
        Route("GET", "/version", show),
        Route("GET", "/images/json", show),
        Route("GET", "/images/{name:path}/json", show),
        Route("POST", "/images/{name:path}/tag", show),
        Route("DELETE", "/images/{name:path}", show),
        Route("GET", "/containers/{id}/json", show),
        *extra,
    ])


def call(r: Router, method: str, path: str) -> tuple[int, object]:
    response = asyncio.run(r.dispatch(Request(method, path)))
    assert isinstance(response.body, bytes)
    body: object = response.body
    if response.headers.get("Content-Type") == "application/json":
        body = json.loads(response.body)
    return response.status, body


@pytest.mark.parametrize(
    ("path", "version"),
    [("/version", "1.41"), ("/v1.41/version", "1.41"), ("/v1.24/version", "1.24"),
     ("/v1.30/version", "1.30"), ("/v1.41/_ping", "1.41")],
)
def test_version_prefix_is_stripped_and_recorded(path: str, version: str) -> None:
    status, body = call(router(), "GET", path)
    assert status == 200
    assert body == {"path": path.removeprefix(f"/v{version}"), "version": version, "params": {}}


def test_too_new_version_is_400_json() -> None:
    assert call(router(), "GET", "/v1.50/version") == (
        400, {"message": "client version 1.50 is too new. Maximum supported API version is 1.41"}
    )


def test_too_old_version_is_400_text_as_dockerd() -> None:
    response = asyncio.run(router().dispatch(Request("GET", "/v1.23/version")))
    assert (response.status, response.body) == (
        400,
        b"client version 1.23 is too old. Minimum supported API version is 1.24, "
        b"please upgrade your client to a newer version\n",
    )
    assert response.headers["Content-Type"] == "text/plain; charset=utf-8"


@pytest.mark.parametrize(
    ("method", "path"),
    [("GET", "/nosuch"), ("GET", "/v1.41/nosuch"), ("GET", "/v1.50/nosuch"),
     ("GET", "/v1.4x/version"), ("GET", "/v1.41"), ("GET", "/version/"),
     ("POST", "/_ping"), ("DELETE", "/version"), ("HEAD", "/version"), ("PUT", "/images/json"),
     ("GET", "/containers/a/b/json"), ("GET", "/images//json")],
)
def test_unknown_paths_and_wrong_methods_are_404_page_not_found(method: str, path: str) -> None:
    assert call(router(), method, path) == (404, {"message": "page not found"})


def test_options_is_200_anywhere() -> None:
    assert call(router(), "OPTIONS", "/whatever") == (200, b"")


@pytest.mark.parametrize(
    "name",
    ["busybox", "busybox:latest", "localhost:5000/a/b:v1", "127.0.0.1:5000/trace/bb",
     "busybox@sha256:" + "a" * 64, "a/json", "sha256:" + "0" * 64],
)
def test_path_captures_take_slashes_colons_and_at_by_suffix(name: str) -> None:
    r = router()
    assert call(r, "GET", f"/v1.41/images/{name}/json")[1] == {
        "path": f"/images/{name}/json", "version": "1.41", "params": {"name": name}
    }
    assert call(r, "POST", f"/images/{name}/tag")[1] == {
        "path": f"/images/{name}/tag", "version": "1.41", "params": {"name": name}
    }
    assert call(r, "DELETE", f"/images/{name}")[1] == {
        "path": f"/images/{name}", "version": "1.41", "params": {"name": name}
    }


def test_exact_routes_win_over_captures() -> None:
    assert call(router(), "GET", "/images/json")[1] == {
        "path": "/images/json", "version": "1.41", "params": {}
    }


def test_compile_pattern_escapes_literals() -> None:
    assert compile_pattern("/a.b/{x}/{y:path}/c").pattern == (
        r"/a\.b/(?P<x>[^/]+)/(?P<y>.+)/c"
    )


@pytest.mark.parametrize(
    ("exc", "status", "body"),
    [(NotFound("No such image: x:latest"), 404, {"message": "No such image: x:latest"}),
     (InvalidArgument("bad"), 400, {"message": "bad"}),
     (Conflict("in use"), 409, {"message": "in use"}),
     (NotModified("already started"), 304, b"")],
)
def test_errors_become_message_bodies_with_their_status(
    exc: Exception, status: int, body: object
) -> None:
    async def fail(request: Request) -> Response:
        raise exc

    assert call(router(Route("GET", "/fail", fail)), "GET", "/fail") == (status, body)


def test_unexpected_exception_is_500_with_message_and_logged(
    caplog: pytest.LogCaptureFixture,
) -> None:
    async def fail(request: Request) -> Response:
        raise RuntimeError("boom")

    with caplog.at_level(logging.ERROR):
        result = call(router(Route("GET", "/fail", fail)), "GET", "/fail")
    assert result == (500, {"message": "boom"})
    assert "Traceback" in caplog.text and "RuntimeError: boom" in caplog.text
