"""Blobs: GET and HEAD with ranges (spec end-2), DELETE of a repository's link (end-10).

A GET sends the stored file with sendfile. ``Range: bytes=a-b``, ``a-`` and ``-n`` are served
as 206 with ``Content-Range`` (RFC 9110 14); a range past the end is 416 with
``Content-Range: bytes */<size>``; several ranges, or a malformed one, get the whole blob, as
RFC 9110 allows. A HEAD renews the repository's link, so a client that found the blob and skips
its upload gets gc's grace period to push the manifest naming it.
"""

from __future__ import annotations

import os

from dockyard.oci.digest import Digest
from dockyard.registry import errcode
from dockyard.registry.context import Call, Context
from dockyard.registry.errcode import RegistryError
from dockyard.registry.http import Request, Response
from dockyard.registry.names import parse_digest


async def get_blob(ctx: Context, request: Request, call: Call) -> Response:
    digest = parse_digest(call.arg)
    path = ctx.store.blob_path(call.name, digest)
    if request.method == "HEAD":
        size = _size(path, call.name, digest)
        if not ctx.options.read_only:
            ctx.store.touch(call.name, digest)
        return Response(200, _headers(digest), length=size)
    try:
        file = open(path, "rb")  # noqa: SIM115 - the server closes it after sendfile
    except FileNotFoundError:
        raise _gone(call.name, digest) from None
    try:
        size = os.fstat(file.fileno()).st_size
        chosen = byte_range(request.headers.get("range"), size)
    except BaseException:
        file.close()
        raise
    headers = _headers(digest)
    if chosen is None:
        return Response(200, headers, file=file, length=size)
    start, end = chosen
    headers["Content-Range"] = f"bytes {start}-{end}/{size}"
    return Response(206, headers, file=file, file_offset=start, length=end - start + 1)


async def delete_blob(ctx: Context, request: Request, call: Call) -> Response:
    digest = parse_digest(call.arg)
    ctx.store.unlink_blob(call.name, digest)
    return Response(202, {"Docker-Content-Digest": str(digest)})


def byte_range(header: str | None, size: int) -> tuple[int, int] | None:
    """The one range a ``Range`` header asks for, as inclusive offsets; None for the whole
    blob. RegistryError (416) when it starts past the end."""
    if header is None or not header.startswith("bytes="):
        return None
    spec = header[len("bytes="):].strip()
    first, sep, last = spec.partition("-")
    if "," in spec or not sep or not (first + last).isdigit() or len(first + last) > 36:
        return None
    if not first:
        count = int(last)
        if count == 0 or size == 0:
            raise _unsatisfiable(size)
        return max(size - count, 0), size - 1
    start = int(first)
    end = int(last) if last else size - 1
    if last and end < start:
        return None  # invalid: ignored, as RFC 9110 14.2 says
    if start >= size:
        raise _unsatisfiable(size)
    return start, min(end, size - 1)


def _headers(digest: Digest) -> dict[str, str]:
    return {
        "Content-Type": "application/octet-stream",
        "Docker-Content-Digest": str(digest),
        "Accept-Ranges": "bytes",
        "ETag": f'"{digest}"',
        "Cache-Control": "max-age=31536000",
    }


def _size(path: os.PathLike[str], name: str, digest: Digest) -> int:
    try:
        return os.stat(path).st_size
    except FileNotFoundError:
        raise _gone(name, digest) from None


def _gone(name: str, digest: Digest) -> RegistryError:
    return RegistryError(errcode.BLOB_UNKNOWN, f"blob {digest} unknown to repository {name}",
                         detail={"digest": str(digest)})


def _unsatisfiable(size: int) -> RegistryError:
    return RegistryError(errcode.BLOB_UNKNOWN, f"requested range not satisfiable: the blob has "
                         f"{size} bytes", status=416, headers={"Content-Range": f"bytes */{size}"})

