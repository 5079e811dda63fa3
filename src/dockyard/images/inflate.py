"""Decompressing a layer in a thread of its own, beside the extraction that reads it.

zlib and zstd release the GIL while they work, so a gzip layer decompressed here runs on one
core while ``apply_layer`` parses and writes the plain tar on another (for the Debian slim layer
that moves about 0.4 s of inflating off the extracting thread)::

    source (network tee or blob file) -> [inflate thread] -> queue of 1 MiB chunks -> reader

The queue is bounded, so the thread never runs far ahead. An error in the thread (a corrupt
stream) is raised by the reader at the point the bytes would have come.

:func:`measure` decompresses a stored blob in the caller's thread, to learn its diffID and size.
"""

from __future__ import annotations

import hashlib
import queue
import threading

from dockyard.archive.compression import Compression, Readable, open_stream
from dockyard.content.store import ContentStore
from dockyard.oci.digest import Digest

_DEPTH = 8  # chunks of about 1 MiB in flight
_POLL = 0.2


class Inflater:
    """A readable stream of the decompressed bytes of ``source`` (plain, gzip or zstd)."""

    def __init__(self, source: Readable, name: str) -> None:
        self.compression: Compression = "none"
        self._queue: queue.Queue[bytes | BaseException] = queue.Queue(_DEPTH)
        self._stop = threading.Event()
        self._pending = memoryview(b"")
        self._ended = False
        self._thread = threading.Thread(target=self._run, args=(source, name),
                                        name=f"inflate-{name[-12:]}", daemon=True)
        self._thread.start()

    def _run(self, source: Readable, name: str) -> None:
        try:
            stream = open_stream(source, name)
            self.compression = stream.compression
            while chunk := stream.read_chunk():
                if not self._put(chunk):
                    return
            self._put(b"")
        except BaseException as exc:  # raised by the reader
            self._put(exc)

    def _put(self, item: bytes | BaseException) -> bool:
        while not self._stop.is_set():
            try:
                self._queue.put(item, timeout=_POLL)
                return True
            except queue.Full:
                continue
        return False

    def read(self, size: int = -1) -> bytes:
        if not self._pending:
            if self._ended:
                return b""
            item = self._queue.get()
            if isinstance(item, BaseException):
                self._ended = True
                raise item
            if not item:
                self._ended = True
                return b""
            self._pending = memoryview(item)
        if size is None or size < 0 or size >= len(self._pending):
            data, self._pending = bytes(self._pending), memoryview(b"")
            return data
        data, self._pending = bytes(self._pending[:size]), self._pending[size:]
        return data

    def close(self) -> None:
        """Stop the thread (if the reader gave up early) and wait for it."""
        self._stop.set()
        while True:
            try:
                self._queue.get_nowait()
            except queue.Empty:
                break
        self._thread.join()


def measure(content: ContentStore, blob: Digest) -> tuple[Digest, int, Compression]:
    """Decompress stored ``blob``: the digest of its tar (what its diffID should be), the tar's
    size in bytes, and the blob's compression."""
    hasher = hashlib.sha256()
    size = 0
    with content.open(blob) as stream:
        source = open_stream(stream, str(blob))
        while chunk := source.read_chunk():
            hasher.update(chunk)
            size += len(chunk)
    return Digest.from_hasher(hasher), size, source.compression
