"""The registry application: routes a request, checks access and mode, calls its handler.

Every request goes through the same steps, in this order, and the first that fails answers:

1. the path names an endpoint (else 404) that answers the method (else 405 UNSUPPORTED);
2. the repository name is valid (else 400 NAME_INVALID);
3. the guard finds the caller and checks the scopes the endpoint needs (401, 403);
4. a write is refused in read-only mode, a delete when deletes are off (405 UNSUPPORTED, as
   distribution answers both);
5. the handler runs. Errors it raises become the spec's JSON error body.

Every response carries ``Docker-Distribution-API-Version: registry/2.0``, which docker's client
looks for on ``/v2/``.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from dockyard.errors import (
    Conflict,
    DockyardError,
    InvalidArgument,
    NotFound,
    PermissionDenied,
    Unauthorized,
    Unsupported,
)
from dockyard.registry import errcode
from dockyard.registry.access import CATALOG, DELETE, PULL, PUSH, Scope
from dockyard.registry.context import Call, Context
from dockyard.registry.errcode import RegistryError
from dockyard.registry.guard import Guard, TokenGuard
from dockyard.registry.handlers import blobs, lists, manifests, uploads
from dockyard.registry.handlers.replies import error_response
from dockyard.registry.http import Request, Response
from dockyard.registry.names import check_name
from dockyard.registry.routes import METHODS, Endpoint, match

log = logging.getLogger(__name__)

Handler = Callable[[Context, Request, Call], Awaitable[Response]]


@dataclass(frozen=True, slots=True)
class Route:
    handler: Handler
    actions: tuple[str, ...] = ()
    writes: bool = False
    deletes: bool = False


_E = Endpoint
TABLE: dict[tuple[Endpoint, str], Route] = {
    (_E.BASE, "GET"): Route(lists.base),
    (_E.BASE, "HEAD"): Route(lists.base),
    (_E.CATALOG, "GET"): Route(lists.catalog),
    (_E.BLOB, "GET"): Route(blobs.get_blob, (PULL,)),
    (_E.BLOB, "HEAD"): Route(blobs.get_blob, (PULL,)),
    (_E.BLOB, "DELETE"): Route(blobs.delete_blob, (DELETE,), writes=True, deletes=True),
    (_E.MANIFEST, "GET"): Route(manifests.get_manifest, (PULL,)),
    (_E.MANIFEST, "HEAD"): Route(manifests.get_manifest, (PULL,)),
    (_E.MANIFEST, "PUT"): Route(manifests.put_manifest, (PULL, PUSH), writes=True),
    (_E.MANIFEST, "DELETE"): Route(manifests.delete_manifest, (DELETE,), writes=True,
                                   deletes=True),
    (_E.UPLOADS, "POST"): Route(uploads.start_upload, (PULL, PUSH), writes=True),
    (_E.UPLOAD, "GET"): Route(uploads.upload_status, (PULL, PUSH)),
    (_E.UPLOAD, "PATCH"): Route(uploads.patch_upload, (PULL, PUSH), writes=True),
    (_E.UPLOAD, "PUT"): Route(uploads.put_upload, (PULL, PUSH), writes=True),
    (_E.UPLOAD, "DELETE"): Route(uploads.cancel_upload, (PULL, PUSH), writes=True),
    (_E.TAGS, "GET"): Route(lists.list_tags, (PULL,)),
    (_E.REFERRERS, "GET"): Route(lists.referrers, (PULL,)),
}


class Registry:
    """The HTTP application: ``await registry(request) -> Response``."""

    def __init__(self, ctx: Context, guard: Guard) -> None:
        self.ctx = ctx
        self.guard = guard

    async def __call__(self, request: Request) -> Response:
        try:
            response = await self._dispatch(request)
        except RegistryError as exc:
            response = error_response(exc)
        except DockyardError as exc:
            response = error_response(translate(exc))
        response.headers.setdefault("Docker-Distribution-API-Version", "registry/2.0")
        if response.status >= 500:
            log.warning("%s %s -> %d", request.method, request.path, response.status)
        return response

    async def _dispatch(self, request: Request) -> Response:
        found = match(request.path)
        if found is None:
            raise RegistryError(errcode.NAME_UNKNOWN, f"no such endpoint {request.path[:200]!r}",
                                status=404)
        if found.endpoint is Endpoint.TOKEN:
            if not isinstance(self.guard, TokenGuard) or request.method not in ("GET", "POST"):
                raise RegistryError(errcode.UNSUPPORTED, "this registry issues no tokens",
                                    status=404)
            return await self.guard.token(request)
        route = TABLE.get((found.endpoint, request.method))
        if route is None:
            allowed = ", ".join(sorted(METHODS[found.endpoint]))
            raise RegistryError(errcode.UNSUPPORTED, f"method {request.method} not allowed on "
                                f"{request.path[:200]}", headers={"Allow": allowed})
        name = check_name(found.name) if found.name else ""
        identity = await self.guard.check(request, _needed(found.endpoint, name, route),
                                          login=found.endpoint is Endpoint.BASE)
        options = self.ctx.options
        if route.writes and options.read_only:
            raise RegistryError(errcode.UNSUPPORTED, "the registry is in read-only mode")
        if route.deletes and not options.delete_enabled:
            raise RegistryError(errcode.UNSUPPORTED, "deletes are disabled on this registry")
        return await route.handler(self.ctx, request, Call(name, found.arg, identity))


def _needed(endpoint: Endpoint, name: str, route: Route) -> list[Scope]:
    if endpoint is Endpoint.CATALOG:
        return [Scope(CATALOG[0], CATALOG[1], frozenset({"*"}))]
    if not route.actions:
        return []
    return [Scope("repository", name, frozenset(route.actions))]


def translate(exc: DockyardError) -> RegistryError:
    """A spec error for an error of the taxonomy that no handler mapped."""
    if isinstance(exc, Unauthorized):
        return RegistryError(errcode.UNAUTHORIZED, str(exc))
    if isinstance(exc, PermissionDenied):
        return RegistryError(errcode.DENIED, str(exc))
    if isinstance(exc, NotFound):
        return RegistryError(errcode.NAME_UNKNOWN, str(exc), status=404)
    if isinstance(exc, (InvalidArgument, Unsupported)):
        return RegistryError(errcode.UNSUPPORTED, str(exc), status=400)
    if isinstance(exc, Conflict):
        return RegistryError(errcode.UNSUPPORTED, str(exc), status=409)
    log.error("registry request failed: %s", exc)
    return RegistryError(errcode.UNKNOWN, str(exc), status=500)
