"""Response shapes shared by the handlers: JSON bodies and spec error bodies."""

from __future__ import annotations

import json

from dockyard.registry.errcode import RegistryError
from dockyard.registry.http import Response


def json_response(body: object, status: int = 200, headers: dict[str, str] | None = None,
                  content_type: str = "application/json") -> Response:
    data = json.dumps(body, separators=(",", ":")).encode()
    return Response(status, {"Content-Type": content_type, **(headers or {})}, data)


def error_response(error: RegistryError) -> Response:
    body = json.dumps(error.to_json(), separators=(",", ":")).encode()
    headers = {"Content-Type": "application/json", **error.headers}
    return Response(error.status, headers, body)


def empty(status: int, headers: dict[str, str]) -> Response:
    return Response(status, headers)
