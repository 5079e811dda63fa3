"""Reading an image archive once: every file that may be a blob goes into the content store.

``docker load`` gets the archive as a stream (an HTTP body), and ``manifest.json`` usually comes
last, so nothing is known about a file when it passes. Each regular file is therefore ingested
into the content store as it streams by (digest computed on the way; verified when its name is
``blobs/<algorithm>/<hex>``), under the caller's lease so garbage collection cannot take it, and
only its archive path and digest are remembered. The four metadata documents are kept in memory;
the legacy per-layer ``json`` and ``VERSION`` files of docker 20.10 archives are skipped; links
are remembered as aliases (docker 20.10 links a repeated ``layer.tar`` to its first copy).

The archive itself may be plain, gzip, zstd, bzip2 or xz. It is parsed strictly: a bad header,
an archive that ends without its end-of-archive marker, or a file cut short is
:class:`~dockyard.errors.DataCorrupt`; input that is not a tar at all is
:class:`~dockyard.errors.InvalidArgument`. No file is ever written outside the content store,
so a name that climbs out of the archive (``../x``) can do no harm; it is refused
(:class:`~dockyard.errors.Breakout`) all the same.
"""

from __future__ import annotations

import itertools
import logging
import lzma
import posixpath
import tarfile
import zlib
from collections.abc import Iterator
from contextlib import suppress
from dataclasses import dataclass, field
from typing import IO, Any, BinaryIO, cast

from dockyard.archive.compression import ChunkSource, open_stream
from dockyard.content.leases import LeaseStore, Resource
from dockyard.content.store import ContentStore
from dockyard.errors import Conflict, DataCorrupt, InvalidArgument, NotFound
from dockyard.images.archive import (
    MAX_METADATA,
    METADATA,
    clean_entry,
    digest_of_path,
    link_target,
)
from dockyard.oci.digest import Digest

log = logging.getLogger(__name__)

_CHUNK = 1 << 20
_LEGACY = frozenset({"json", "VERSION"})  # <v1 id>/json and <v1 id>/VERSION: docker < 25
_MAX_LINKS = 40


@dataclass(frozen=True, slots=True)
class Blob:
    digest: Digest
    size: int


@dataclass
class Received:
    """What one pass over an archive left: blobs by archive path, links, metadata documents,
    and which blobs the content store did not hold before (``created``)."""

    blobs: dict[str, Blob] = field(default_factory=dict)
    links: dict[str, str] = field(default_factory=dict)
    documents: dict[str, bytes] = field(default_factory=dict)
    created: set[Digest] = field(default_factory=set)

    def resolve(self, path: str, what: str) -> Blob:
        """The blob at archive ``path`` (following links); ``what`` names it in errors."""
        current = clean_entry(path, what)
        for _ in range(_MAX_LINKS):
            blob = self.blobs.get(current)
            if blob is not None:
                return blob
            if current not in self.links:
                break
            current = self.links[current]
        else:
            raise InvalidArgument(f"load: {what} {path!r}: too many levels of links")
        raise InvalidArgument(f"load: {what} {path!r} is not in the archive")


class Receiver:
    """Ingests the files of one archive into ``content``, each held by lease ``lease_id``."""

    def __init__(self, content: ContentStore, leases: LeaseStore, lease_id: str,
                 token: str) -> None:
        self.content = content
        self.leases = leases
        self.lease_id = lease_id
        self._refs = (f"load-{token}-{n}" for n in itertools.count())

    def receive(self, stream: BinaryIO, received: Received) -> Received:
        """Read the archive from ``stream`` into ``received`` (filled as it goes, so that a
        caller whose receive failed still knows which blobs it created)."""
        try:
            reader = cast(BinaryIO, _Reader(open_stream(stream, "load archive")))
            with tarfile.open(fileobj=reader, mode="r|*", tarinfo=_StrictInfo,
                              bufsize=_CHUNK) as tar:
                for member in _members(tar):
                    self._entry(tar, member, received)
            while reader.read(_CHUNK):
                pass  # the padding after the end marker, and a compressed stream's trailer
        except (tarfile.TarError, EOFError, OSError, zlib.error, lzma.LZMAError) as exc:
            raise DataCorrupt(f"load: corrupt archive: {exc}") from exc
        return received

    def _entry(self, tar: tarfile.TarFile, member: tarfile.TarInfo, into: Received) -> None:
        path = clean_entry(member.name)
        if member.isdir() or not path:
            return
        if member.issym():
            into.links[path] = link_target(path, member.linkname)
        elif member.islnk():
            into.links[path] = clean_entry(member.linkname, f"archive hardlink {path!r} to")
        elif not member.isreg():
            log.debug("load: skipping %s (tar type %r)", path, member.type)
        elif path in METADATA:
            into.documents[path] = _read_document(tar, member, path)
        elif posixpath.basename(path) in _LEGACY and path.count("/") == 1:
            log.debug("load: skipping legacy %s", path)
        else:
            into.blobs[path] = self._ingest(tar, member, path, into.created)

    def _ingest(self, tar: tarfile.TarFile, member: tarfile.TarInfo, path: str,
                created: set[Digest]) -> Blob:
        expected = digest_of_path(path)
        if expected is not None and self._have(expected, member.size):
            self.leases.add_resource(self.lease_id, Resource("content", str(expected)))
            return Blob(expected, member.size)  # the tar reader skips the data
        ref = next(self._refs)
        self.leases.add_resource(self.lease_id, Resource("ingest", ref))
        try:
            with self.content.writer(ref, expected=expected, total=member.size) as writer:
                data = _open_member(tar, member)
                while chunk := data.read(_CHUNK):
                    writer.write(chunk)
                if not self.content.exists(writer.digest()):
                    created.add(writer.digest())
                try:
                    digest = writer.commit()
                except DataCorrupt as exc:
                    raise DataCorrupt(f"load: archive entry {path!r}: {exc}") from exc
        except BaseException:
            with suppress(NotFound, Conflict):
                self.content.abort(ref)
            raise
        self.leases.add_resource(self.lease_id, Resource("content", str(digest)))
        return Blob(digest, member.size)

    def _have(self, digest: Digest, size: int) -> bool:
        try:
            return self.content.info(digest).size == size
        except NotFound:
            return False


def _members(tar: tarfile.TarFile) -> Iterator[tarfile.TarInfo]:
    while (member := tar.next()) is not None:
        yield member
        cast(Any, tar).members.clear()  # a stream is read once: keep no list of every entry


def _open_member(tar: tarfile.TarFile, member: tarfile.TarInfo) -> IO[bytes]:
    data = tar.extractfile(member)
    if data is None:  # only for non-files, which the caller has excluded
        raise InvalidArgument(f"load: archive entry {member.name!r} is not a file")
    return data


def _read_document(tar: tarfile.TarFile, member: tarfile.TarInfo, path: str) -> bytes:
    if member.size > MAX_METADATA:
        raise InvalidArgument(
            f"load: {path} is {member.size} bytes, more than the {MAX_METADATA} allowed"
        )
    return _open_member(tar, member).read()


class _StrictInfo(tarfile.TarInfo):
    """Python's stream reader takes a bad header, or an archive cut off between two entries,
    for the end of the archive. This header reader says which it was."""

    @classmethod
    def fromtarfile(cls, tarfile_: tarfile.TarFile) -> _StrictInfo:
        offset = tarfile_.offset
        try:
            return super().fromtarfile(tarfile_)
        except tarfile.HeaderError as exc:
            kind = type(exc).__name__  # the subclasses are not public
            if kind == "EOFHeaderError":
                raise  # a zero block: the proper end
            if offset == 0:
                raise InvalidArgument(
                    f"load: not an image archive: the input is not a tar ({exc})"
                ) from exc
            if kind not in ("EmptyHeaderError", "TruncatedHeaderError"):
                raise DataCorrupt(
                    f"load: corrupt archive: bad tar header at offset {offset}: {exc}"
                ) from exc
            raise DataCorrupt(
                f"load: truncated archive: it ends at offset {offset} without an "
                "end-of-archive marker"
            ) from exc


class _Reader:
    """A file-like ``read`` over a :class:`ChunkSource` (the decompressed archive)."""

    def __init__(self, source: ChunkSource) -> None:
        self._source = source
        self._chunk = b""
        self._pos = 0

    def read(self, size: int = -1) -> bytes:
        if self._pos >= len(self._chunk):
            self._chunk, self._pos = self._source.read_chunk(), 0
        start = self._pos
        if start == 0 and (size < 0 or size >= len(self._chunk)):
            self._pos = len(self._chunk)
            return self._chunk  # the whole chunk, not copied
        end = len(self._chunk) if size < 0 else min(start + size, len(self._chunk))
        self._pos = end
        return self._chunk[start:end]
