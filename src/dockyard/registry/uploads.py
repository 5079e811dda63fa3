"""Blob uploads: sessions over content-store ingests, written and hashed as the bytes arrive.

An upload session (spec.md, "Pushing blobs") is the ingest of ref ``upload/<name>/<id>`` in the
registry's content store, so its bytes survive a server restart and the session resumes where
it stopped; gc prunes sessions left idle for a day. While a session is in use, its
:class:`~dockyard.content.ContentWriter` stays open here between requests: the running hash
lives in memory and a chunk costs only its own bytes (reopening re-hashes what is on disk).
Writers idle for ``idle`` seconds are closed by :meth:`Uploads.reap`.

A request body is pumped in pieces of 256 KiB to 1 MiB: the event loop reads the next piece
while a worker thread writes and hashes the previous one, so the two cores share the work; the
small pieces of a slow client are gathered first, so a thread hand-off never costs more than
the bytes it carries.

Chunks must arrive in order: a ``Content-Range`` that does not start at the session's offset is
416 with the current ``Range``. A body over the size limit is 413 SIZE_INVALID, and the session
is cancelled so nothing of it stays. A digest mismatch at the end is DIGEST_INVALID and discards
the session (distribution does the same). Nothing reaches a repository until the final PUT
verifies the digest; the commit and the repository link happen under the gc lock.
"""

from __future__ import annotations

import asyncio
import logging
import re
import time
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager, suppress
from dataclasses import dataclass, field

from dockyard.content import ContentWriter
from dockyard.errors import Conflict, DataCorrupt, DockyardError, InvalidArgument, NotFound
from dockyard.oci.digest import Digest
from dockyard.registry import errcode, routes
from dockyard.registry.errcode import RegistryError
from dockyard.registry.http import CHUNK, Body
from dockyard.registry.storage import RegistryStore

log = logging.getLogger(__name__)

_BATCH = 256 << 10  # smallest write handed to the worker thread, but for the last
MAX_OPEN = 256  # writers kept open between requests (two file descriptors each)
_UPLOAD_ID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
_RANGE = re.compile(r"(?:bytes[ =])?([0-9]{1,18})-([0-9]{1,18})(?:/(?:[0-9]+|\*))?")


def upload_ref(name: str, upload_id: str) -> str:
    """The content-store ingest ref of an upload session."""
    return f"upload/{name}/{upload_id}"


@dataclass
class _Session:
    writer: ContentWriter
    used_at: float
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)


class Uploads:
    """The upload sessions of one server process."""

    def __init__(self, store: RegistryStore, max_size: int | None = None, idle: float = 300.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._store = store
        self._content = store.content
        self.max_size = max_size
        self._idle = idle
        self._clock = clock
        self._sessions: dict[str, _Session] = {}

    async def start(self, name: str) -> str:
        """A new, empty session; returns its id. Its writer opens with its first chunk, so a
        client that only POSTs holds no file open here."""
        upload_id = str(uuid.uuid4())
        ref = upload_ref(name, upload_id)
        await asyncio.to_thread(lambda: self._content.writer(ref).close())
        log.debug("started upload %s", ref)
        return upload_id

    async def offset(self, name: str, upload_id: str) -> int:
        """How many bytes the session holds; BLOB_UPLOAD_UNKNOWN if there is no such session."""
        ref = _ref(name, upload_id)
        session = self._sessions.get(ref)
        if session is not None:
            return session.writer.offset
        try:
            status = await asyncio.to_thread(self._content.status, ref)
        except NotFound:
            raise _unknown(name, upload_id) from None
        return status.offset

    async def append(self, name: str, upload_id: str, body: Body,
                     content_range: str | None) -> int:
        """Add a chunk (PATCH); returns the new offset."""
        async with self._session(name, upload_id) as session:
            await self._receive(name, upload_id, session, body, content_range)
            return session.writer.offset

    async def finish(self, name: str, upload_id: str, digest: Digest, body: Body,
                     content_range: str | None) -> Digest:
        """Add the optional last chunk, verify the digest, store the blob and link it (PUT)."""
        ref = _ref(name, upload_id)
        async with self._session(name, upload_id) as session:
            if not body.finished:
                await self._receive(name, upload_id, session, body, content_range)
            self._sessions.pop(ref, None)
            return await self._commit(name, session.writer, digest)

    async def cancel(self, name: str, upload_id: str) -> None:
        """Drop a session and its bytes (DELETE)."""
        ref = _ref(name, upload_id)
        session = self._sessions.get(ref)
        if session is not None:
            if session.lock.locked():
                raise _busy(name, upload_id)
            del self._sessions[ref]
            await asyncio.to_thread(session.writer.close)
        try:
            await asyncio.to_thread(self._content.abort, ref)
        except NotFound:
            raise _unknown(name, upload_id) from None
        except Conflict:
            raise _busy(name, upload_id) from None
        log.debug("cancelled upload %s", ref)

    async def monolithic(self, name: str, digest: Digest, body: Body) -> Digest:
        """A whole blob in one request (POST ?digest=); on any failure nothing is kept."""
        upload_id = str(uuid.uuid4())
        ref = upload_ref(name, upload_id)
        self._check_size(0, body.length)
        writer = await asyncio.to_thread(self._content.writer, ref)
        try:
            await self._pump(writer, body)
            return await self._commit(name, writer, digest)
        except BaseException:
            await asyncio.to_thread(_discard, writer, self._content.abort, ref)
            raise

    async def reap(self, keep: int | None = None) -> None:
        """Close writers idle for longer than ``idle`` (and, with ``keep``, the least recently
        used beyond that many); their sessions stay resumable. Closing flushes at most one
        buffer, so it happens here, with no await between the check and the close."""
        now = self._clock()
        idle = sorted((s.used_at, ref) for ref, s in self._sessions.items()
                      if not s.lock.locked())
        excess = len(self._sessions) - keep if keep is not None else 0
        for count, (used_at, ref) in enumerate(idle):
            if now - used_at > self._idle or count < excess:
                session = self._sessions.pop(ref)
                with suppress(DockyardError):
                    session.writer.close()
                log.debug("closed idle upload %s", ref)

    async def close(self) -> None:
        """Close every writer (at shutdown); sessions stay resumable."""
        sessions, self._sessions = self._sessions, {}
        for session in sessions.values():
            with suppress(DockyardError):
                await asyncio.to_thread(session.writer.close)

    # -- internals -----------------------------------------------------------------------------

    @asynccontextmanager
    async def _session(self, name: str, upload_id: str) -> AsyncIterator[_Session]:
        ref = _ref(name, upload_id)
        session = self._sessions.get(ref)
        if session is None:
            session = await self._open(name, upload_id, ref)
        if session.lock.locked():
            raise _busy(name, upload_id)
        async with session.lock:
            try:
                yield session
            finally:
                session.used_at = self._clock()

    async def _open(self, name: str, upload_id: str, ref: str) -> _Session:
        if len(self._sessions) >= MAX_OPEN:
            await self.reap(keep=MAX_OPEN - 1)
        try:
            await asyncio.to_thread(self._content.status, ref)
            writer = await asyncio.to_thread(self._content.writer, ref)
        except NotFound:
            raise _unknown(name, upload_id) from None
        except Conflict:
            raise _busy(name, upload_id) from None
        session = self._sessions.setdefault(ref, _Session(writer, self._clock()))
        if session.writer is not writer:  # another request opened it meanwhile
            await asyncio.to_thread(writer.close)
        return session

    async def _receive(self, name: str, upload_id: str, session: _Session, body: Body,
                       content_range: str | None) -> None:
        offset = session.writer.offset
        if content_range is not None:
            _check_range(name, upload_id, content_range, offset, body.length)
        try:
            self._check_size(offset, body.length)
            await self._pump(session.writer, body)
        except RegistryError as exc:
            if exc.code is errcode.SIZE_INVALID and exc.status == 413:
                self._sessions.pop(_ref(name, upload_id), None)
                await asyncio.to_thread(_discard, session.writer, self._content.abort,
                                        _ref(name, upload_id))
            raise
        except InvalidArgument as exc:
            raise RegistryError(errcode.BLOB_UPLOAD_INVALID, f"upload {upload_id} to {name}: "
                                f"{exc}; {session.writer.offset} bytes kept, resume from there",
                                headers=_range_headers(name, upload_id,
                                                       session.writer.offset)) from exc

    def _check_size(self, offset: int, length: int | None) -> None:
        if self.max_size is not None and offset + (length or 0) > self.max_size:
            raise _too_large(self.max_size)

    async def _pump(self, writer: ContentWriter, body: Body) -> None:
        loop = asyncio.get_running_loop()
        start = writer.offset
        pending: asyncio.Future[int] | None = None
        held: list[bytes] = []  # small pieces (a slow client's) gathered into one write
        size = 0
        try:
            while True:
                piece = await body.read(CHUNK)
                if self.max_size is not None and start + body.received > self.max_size:
                    raise _too_large(self.max_size)
                held.append(piece)
                size += len(piece)
                if piece and size < _BATCH:
                    continue
                if pending is not None:
                    await pending
                    pending = None
                if size:
                    data = held[0] if len(held) == 1 else b"".join(held)
                    pending = loop.run_in_executor(None, writer.write, data)
                held, size = [], 0
                if not piece:
                    break
            if pending is not None:
                await pending
                pending = None
        finally:
            if pending is not None:  # never leave a write running under the next request
                await asyncio.wait([pending])

    async def _commit(self, name: str, writer: ContentWriter, digest: Digest) -> Digest:
        def commit() -> Digest:
            with self._store.writing():
                committed = writer.commit(expected=digest)
                self._store.link_blob(name, committed)
            return committed

        try:
            committed = await asyncio.to_thread(commit)
        except DataCorrupt as exc:
            raise RegistryError(errcode.DIGEST_INVALID, f"upload to {name}: {exc}",
                                detail={"digest": str(digest)}) from exc
        log.info("stored blob %s in %s", committed, name)
        return committed


def _ref(name: str, upload_id: str) -> str:
    if not _UPLOAD_ID.fullmatch(upload_id):
        raise _unknown(name, upload_id)
    return upload_ref(name, upload_id)


def _discard(writer: ContentWriter, abort: Callable[[str], None], ref: str) -> None:
    writer.close()
    with suppress(NotFound):
        abort(ref)


def _check_range(name: str, upload_id: str, text: str, offset: int,
                 length: int | None) -> None:
    found = _RANGE.fullmatch(text.strip())
    if found is None:
        raise RegistryError(errcode.BLOB_UPLOAD_INVALID, f"bad Content-Range {text[:60]!r}: want "
                            "<start>-<end>", status=416,
                            headers=_range_headers(name, upload_id, offset))
    start, end = int(found[1]), int(found[2])
    if start != offset or end < start:
        raise RegistryError(errcode.BLOB_UPLOAD_INVALID, f"chunk {start}-{end} out of order: "
                            f"upload {upload_id} holds {offset} bytes, the next chunk starts "
                            f"at {offset}", status=416,
                            headers=_range_headers(name, upload_id, offset))
    if length is not None and length != end - start + 1:
        raise RegistryError(errcode.SIZE_INVALID, f"Content-Range {start}-{end} is "
                            f"{end - start + 1} bytes but Content-Length is {length}")


def _range_headers(name: str, upload_id: str, offset: int) -> dict[str, str]:
    return {"Location": routes.upload_path(name, upload_id), "Range": range_value(offset),
            "Docker-Upload-UUID": upload_id}


def range_value(offset: int) -> str:
    """The ``Range`` header of a session holding ``offset`` bytes (distribution's 0-0 when
    empty)."""
    return f"0-{max(offset - 1, 0)}"


def _unknown(name: str, upload_id: str) -> RegistryError:
    return RegistryError(errcode.BLOB_UPLOAD_UNKNOWN, f"upload {upload_id[:64]!r} unknown to "
                         f"repository {name}", detail={"uuid": upload_id[:64]})


def _busy(name: str, upload_id: str) -> RegistryError:
    return RegistryError(errcode.BLOB_UPLOAD_INVALID, f"upload {upload_id} to {name} is in use "
                         "by another request", status=416)


def _too_large(limit: int) -> RegistryError:
    return RegistryError(errcode.SIZE_INVALID, f"upload larger than the registry's limit of "
                         f"{limit} bytes", status=413, detail={"limit": limit})
