"""Blob uploads (spec end-4a, end-4b, end-5, end-6, end-11, end-13, and DELETE of a session).

``POST .../blobs/uploads/`` starts a session (202), or stores a whole blob when it carries
``?digest=`` (201), or links a blob of another repository when it carries ``?mount=&from=``
(201; 202 and a new session when the source does not hold the blob or the caller may not pull
from it). ``PATCH`` adds a chunk, ``PUT ?digest=`` closes the session, ``GET`` reports its
offset, ``DELETE`` cancels it.
"""

from __future__ import annotations

import asyncio

from dockyard.oci.digest import Digest
from dockyard.registry import errcode, routes
from dockyard.registry.access import PULL, Scope
from dockyard.registry.context import Call, Context
from dockyard.registry.errcode import RegistryError
from dockyard.registry.http import Request, Response
from dockyard.registry.names import check_name, parse_digest
from dockyard.registry.uploads import range_value


async def start_upload(ctx: Context, request: Request, call: Call) -> Response:
    name = call.name
    mount = request.arg("mount")
    if mount is not None:
        digest = parse_digest(mount)
        source = request.arg("from")
        readable = bool(source) and source != name and call.identity.can(
            Scope.repository(check_name(source or ""), PULL))
        if readable and await asyncio.to_thread(ctx.store.mount, name, digest, source or ""):
            return _created(name, digest)
    elif (text := request.arg("digest")) is not None:
        digest = await ctx.uploads.monolithic(name, parse_digest(text), request.body)
        return _created(name, digest)
    upload_id = await ctx.uploads.start(name)
    return _session(202, name, upload_id, 0)


async def patch_upload(ctx: Context, request: Request, call: Call) -> Response:
    offset = await ctx.uploads.append(call.name, call.arg, request.body,
                                      request.headers.get("content-range"))
    return _session(202, call.name, call.arg, offset)


async def put_upload(ctx: Context, request: Request, call: Call) -> Response:
    text = request.arg("digest")
    if not text:
        raise RegistryError(errcode.DIGEST_INVALID, "closing an upload needs ?digest=<digest> "
                            "of the whole blob")
    digest = await ctx.uploads.finish(call.name, call.arg, parse_digest(text), request.body,
                                      request.headers.get("content-range"))
    return _created(call.name, digest)


async def upload_status(ctx: Context, request: Request, call: Call) -> Response:
    offset = await ctx.uploads.offset(call.name, call.arg)
    return _session(204, call.name, call.arg, offset)


async def cancel_upload(ctx: Context, request: Request, call: Call) -> Response:
    await ctx.uploads.cancel(call.name, call.arg)
    return Response(204)


def _created(name: str, digest: Digest) -> Response:
    return Response(201, {"Location": routes.blob_path(name, digest),
                          "Docker-Content-Digest": str(digest)})


def _session(status: int, name: str, upload_id: str, offset: int) -> Response:
    return Response(status, {"Location": routes.upload_path(name, upload_id),
                             "Range": range_value(offset), "Docker-Upload-UUID": upload_id})
