"""Manifests: GET and HEAD by tag or digest (end-3), PUT (end-7), DELETE (end-9).

A PUT stores the exact bytes it received, after checking the media type, the document, a digest
reference against the bytes, and that every blob and manifest it names is in the repository;
any failure stores and tags nothing. The response names the digest (``Docker-Content-Digest``)
and, for a manifest with a ``subject``, the subject (``OCI-Subject``), telling the client this
registry keeps the referrers list itself.
"""

from __future__ import annotations

import asyncio
import dataclasses

from dockyard.errors import InvalidArgument
from dockyard.oci.digest import Digest
from dockyard.registry import errcode, routes
from dockyard.registry.context import Call, Context
from dockyard.registry.errcode import RegistryError
from dockyard.registry.http import Request, Response
from dockyard.registry.manifests import PushedManifest, read_manifest
from dockyard.registry.names import parse_reference


async def get_manifest(ctx: Context, request: Request, call: Call) -> Response:
    reference = parse_reference(call.arg)
    stored = await asyncio.to_thread(ctx.store.manifest, call.name, reference)
    headers = {"Content-Type": stored.media_type, "Docker-Content-Digest": str(stored.digest),
               "ETag": f'"{stored.digest}"'}
    return Response(200, headers, stored.data)


async def put_manifest(ctx: Context, request: Request, call: Call) -> Response:
    reference = parse_reference(call.arg)
    limit = ctx.options.max_manifest_size
    if request.body.length is not None and request.body.length > limit:
        raise _too_large(limit)
    try:
        data = await request.body.read_all(limit)
    except InvalidArgument as exc:
        if request.body.received > limit:
            raise _too_large(limit) from exc
        raise RegistryError(errcode.MANIFEST_INVALID, str(exc)) from exc
    pushed = await asyncio.to_thread(read_manifest, data, request.headers.get("content-type"))
    if isinstance(reference, Digest):
        pushed = _named(pushed, reference)
    tag = reference if isinstance(reference, str) else None
    await asyncio.to_thread(ctx.store.put_manifest, call.name, pushed, tag)
    headers = {"Location": routes.manifest_path(call.name, pushed.digest),
               "Docker-Content-Digest": str(pushed.digest)}
    if pushed.references.subject is not None:
        headers["OCI-Subject"] = str(pushed.references.subject.digest)
    return Response(201, headers)


async def delete_manifest(ctx: Context, request: Request, call: Call) -> Response:
    reference = parse_reference(call.arg)
    if not ctx.store.exists(call.name):
        raise RegistryError(errcode.NAME_UNKNOWN, f"repository {call.name} not known to "
                            "registry", detail={"name": call.name})
    if isinstance(reference, Digest):
        await asyncio.to_thread(ctx.store.delete_manifest, call.name, reference)
    else:
        await asyncio.to_thread(ctx.store.delete_tag, call.name, reference)
    return Response(202)


def _named(pushed: PushedManifest, reference: Digest) -> PushedManifest:
    """The manifest under the digest the client named, if the bytes hash to it."""
    hasher = reference.hasher()
    hasher.update(pushed.data)
    if Digest.from_hasher(hasher) != reference:
        raise RegistryError(errcode.DIGEST_INVALID, f"manifest bytes do not hash to {reference}",
                            detail={"digest": str(reference)})
    referrer = dataclasses.replace(pushed.referrer, digest=reference)
    return dataclasses.replace(pushed, digest=reference, referrer=referrer)


def _too_large(limit: int) -> RegistryError:
    return RegistryError(errcode.SIZE_INVALID, f"manifest larger than the registry's limit of "
                         f"{limit} bytes", status=413, detail={"limit": limit})
