"""TeeReader: read a stream once, storing every byte read into a ContentWriter on the way.

The image importer reads a compressed layer once: the extractor consumes the decompressed tar
while the compressed bytes flow into the content store. Wrap the source in a TeeReader, hand the
TeeReader to the decompressor, then ``drain()`` whatever the consumer left unread (tar's trailing
zero blocks, a gzip trailer) before committing the writer::

    with store.writer(ref, expected=desc.digest, total=desc.size) as writer:
        tee = TeeReader(response, writer)
        extract(gzip.GzipFile(fileobj=tee))
        tee.drain()
        writer.commit()

The consumer sees every byte from the start, so a resumed ingest is cut back to zero first:
keeping its old prefix would store bytes the consumer never saw.
"""

from __future__ import annotations

import io
from typing import TYPE_CHECKING, BinaryIO

from dockyard.content.fs import CHUNK_SIZE
from dockyard.content.writer import ContentWriter

if TYPE_CHECKING:
    from _typeshed import WriteableBuffer


class TeeReader(io.RawIOBase):
    """A readable stream over ``source`` that writes all it returns into ``writer``.

    Closing the TeeReader closes neither the source nor the writer.
    """

    def __init__(self, source: BinaryIO, writer: ContentWriter) -> None:
        super().__init__()
        if writer.offset:
            writer.truncate(0)
        self._source = source
        self._writer = writer

    def readable(self) -> bool:
        return True

    def read(self, size: int | None = -1) -> bytes:
        data = self._source.read(-1 if size is None else size)
        if data:
            self._writer.write(data)
        return data

    def readall(self) -> bytes:
        return self.read(-1)

    def readinto(self, buffer: WriteableBuffer) -> int:
        view = memoryview(buffer).cast("B")
        data = self._source.read(len(view))
        view[: len(data)] = data
        if data:
            self._writer.write(data)
        return len(data)

    def drain(self) -> int:
        """Read the source to its end (into the writer only); returns how many bytes that was."""
        drained = 0
        while chunk := self.read(CHUNK_SIZE):
            drained += len(chunk)
        return drained
