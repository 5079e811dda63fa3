"""The route table: version prefixes, path patterns, and errors turned into dockerd's answers.

Paths come with no prefix or with ``/v<version>``; the version goes to ``request.api_version``.
As in dockerd the version is checked only once a route matched: a version above 1.41 gets 400
JSON, one below 1.24 gets dockerd's plain-text 400, and an unknown path or a known path with
another method gets 404 ``page not found``.

A pattern is literal segments and captures: ``{id}`` takes one segment, ``{name:path}`` takes
one or more (slashes, colons and ``@`` included). Image names go into paths unescaped
(``/images/localhost:5000/a/b:v1/json``), so a ``path`` capture matches by the suffix after it.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass

from dockyard.api.http import (
    API_VERSION,
    MIN_API_VERSION,
    Request,
    Response,
    empty,
    error_response,
    message_response,
    version_key,
)
from dockyard.errors import DockyardError, Internal

log = logging.getLogger(__name__)

Handler = Callable[[Request], Awaitable[Response]]

_PREFIX = re.compile(r"/v([0-9.]+)(/.*)", re.DOTALL)
_CAPTURE = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)(?::(path))?\}")


@dataclass(frozen=True, slots=True)
class Route:
    method: str
    pattern: str
    handler: Handler


@dataclass(frozen=True, slots=True)
class _Compiled:
    route: Route
    regex: re.Pattern[str]


def compile_pattern(pattern: str) -> re.Pattern[str]:
    """``/images/{name:path}/json`` -> ``^/images/(?P<name>.+)/json$``."""
    if not pattern.startswith("/"):
        raise Internal(f"route pattern {pattern!r} does not start with /")
    parts: list[str] = []
    last = 0
    for match in _CAPTURE.finditer(pattern):
        parts.append(re.escape(pattern[last : match.start()]))
        body = ".+" if match.group(2) else "[^/]+"
        parts.append(f"(?P<{match.group(1)}>{body})")
        last = match.end()
    parts.append(re.escape(pattern[last:]))
    return re.compile("".join(parts), re.DOTALL)


class Router:
    """Finds the handler for a request and runs it, mapping errors to responses."""

    def __init__(self, routes: Iterable[Route]) -> None:
        self._exact: dict[tuple[str, str], Route] = {}
        self._patterns: list[_Compiled] = []
        for route in routes:
            if "{" in route.pattern:
                self._patterns.append(_Compiled(route, compile_pattern(route.pattern)))
            elif (route.method, route.pattern) in self._exact:
                raise Internal(f"duplicate route {route.method} {route.pattern}")
            else:
                self._exact[(route.method, route.pattern)] = route

    def match(self, method: str, path: str) -> tuple[Route, dict[str, str]] | None:
        route = self._exact.get((method, path))
        if route is not None:
            return route, {}
        for compiled in self._patterns:
            if compiled.route.method != method:
                continue
            found = compiled.regex.fullmatch(path)
            if found is not None:
                return compiled.route, found.groupdict()
        return None

    async def dispatch(self, request: Request) -> Response:
        """Route ``request`` (its path still carrying any version prefix) and run the handler."""
        path, version = request.path, API_VERSION
        prefixed = _PREFIX.fullmatch(path)
        if prefixed is not None:
            version, path = prefixed.group(1), prefixed.group(2)
        if request.method == "OPTIONS":
            return empty(200)  # dockerd answers every OPTIONS (CORS preflight) with 200
        found = self.match(request.method, path)
        if found is None:
            return message_response(404, "page not found")
        if prefixed is not None:
            refused = _check_version(version)
            if refused is not None:
                return refused
        route, params = found
        request.path, request.api_version, request.params = path, version, params
        return await _run(route.handler, request)


def _check_version(version: str) -> Response | None:
    if version_key(version) > version_key(API_VERSION):
        return message_response(
            400,
            f"client version {version} is too new. "
            f"Maximum supported API version is {API_VERSION}",
        )
    if version_key(version) < version_key(MIN_API_VERSION):
        text = (
            f"client version {version} is too old. Minimum supported API version is "
            f"{MIN_API_VERSION}, please upgrade your client to a newer version\n"
        )
        return Response(
            400,
            {"Content-Type": "text/plain; charset=utf-8", "X-Content-Type-Options": "nosniff"},
            text.encode(),
        )
    return None


async def _run(handler: Handler, request: Request) -> Response:
    try:
        return await handler(request)
    except DockyardError as exc:
        if exc.http_status >= 500:
            log.error("%s %s: %s", request.method, request.path, exc, exc_info=exc)
        else:
            log.debug("%s %s: %s", request.method, request.path, exc)
        return error_response(exc)
    except Exception as exc:
        log.exception("%s %s failed", request.method, request.path)
        return message_response(500, str(exc) or type(exc).__name__)
