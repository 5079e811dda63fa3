"""Lists: tags (end-8a, end-8b), the catalog (distribution's ``/v2/_catalog``) and referrers
(end-12a, end-12b).

Tags and the catalog page with ``n`` and ``last``: the page holds up to ``n`` entries after
``last`` (exclusive), and a ``Link: <...>; rel="next"`` header when more follow; ``n=0`` is an
empty list without a link. Referrers come back whole as an OCI image index, filtered by
``artifactType`` when asked (``OCI-Filters-Applied: artifactType``); an unknown repository or
subject has an empty list, never a 404, since a 404 tells clients the API is missing.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence

from dockyard.oci import mediatypes as mt
from dockyard.oci.manifest import Index
from dockyard.registry import errcode, routes
from dockyard.registry.access import PULL, Scope
from dockyard.registry.context import Call, Context
from dockyard.registry.errcode import RegistryError
from dockyard.registry.handlers.replies import json_response
from dockyard.registry.http import Request, Response
from dockyard.registry.names import parse_digest
from dockyard.registry.storage import tag_order

_MAX_PAGE = 10_000


async def base(ctx: Context, request: Request, call: Call) -> Response:
    return json_response({})


async def list_tags(ctx: Context, request: Request, call: Call) -> Response:
    if not ctx.store.exists(call.name):
        raise RegistryError(errcode.NAME_UNKNOWN, f"repository {call.name} not known to "
                            "registry", detail={"name": call.name})
    tags = list(await asyncio.to_thread(ctx.store.tags, call.name))
    page, link = paginate(request, tags, tag_order, routes.tags_path(call.name))
    return json_response({"name": call.name, "tags": page}, headers=link)


async def catalog(ctx: Context, request: Request, call: Call) -> Response:
    names = await asyncio.to_thread(ctx.store.repositories)
    visible = [n for n in names if call.identity.can(Scope.repository(n, PULL))]
    page, link = paginate(request, visible, lambda n: (n, n), routes.catalog_path())
    return json_response({"repositories": page}, headers=link)


async def referrers(ctx: Context, request: Request, call: Call) -> Response:
    subject = parse_digest(call.arg)
    found = await asyncio.to_thread(ctx.store.referrers, call.name, subject)
    headers: dict[str, str] = {"Content-Type": mt.OCI_INDEX}
    artifact_type = request.arg("artifactType")
    if artifact_type:
        found = [d for d in found if d.artifact_type == artifact_type]
        headers["OCI-Filters-Applied"] = "artifactType"
    return Response(200, headers, Index(manifests=tuple(found)).canonical_json())


def paginate(request: Request, items: Sequence[str], key: Callable[[str], tuple[str, str]],
             path: str) -> tuple[list[str], dict[str, str]]:
    """The page ``n``/``last`` ask for (``items`` sorted by ``key``), and its Link header."""
    last = request.arg("last")
    n_text = request.arg("n")
    if n_text is not None and (not n_text.isdigit() or len(n_text) > 9):
        raise RegistryError(errcode.UNSUPPORTED, f"invalid page size n={n_text[:20]!r}: want a "
                            "non-negative integer", status=400)
    n = int(n_text) if n_text is not None else None
    if last:
        bound = key(last)
        items = [item for item in items if key(item) > bound]
    if n is None or n > _MAX_PAGE:
        n = min(len(items), _MAX_PAGE) if n is None else _MAX_PAGE
    page = list(items[:n])
    if n == 0 or len(items) <= n:
        return page, {}
    return page, {"Link": routes.next_link(path, page[-1], n)}
