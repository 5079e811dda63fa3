"""gzip on several cores, the way pigz does it: one gzip member made of independently
compressed blocks.

The input is cut into blocks of ``BLOCK`` bytes. Each block is deflated on its own (zlib drops
the GIL while it works, so threads use every core), primed with the last 32 KiB of the block
before it as a preset dictionary, and ended with a sync flush, which aligns it to a byte
boundary and keeps the stream open. Concatenated, the blocks are one raw deflate stream; an empty
final block, the gzip header and the CRC-32/length trailer make it an ordinary gzip file (RFC
1952) that any gunzip reads::

    header | deflate(b0) SYNC | deflate(b1, dict=tail(b0)) SYNC | ... | 03 00 | crc32 | isize

The output depends only on the input, the level and ``BLOCK``, never on the number of threads or
their timing, so equal layers give equal blobs (and equal digests).
"""

from __future__ import annotations

import os
import struct
import zlib
from collections import deque
from collections.abc import Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor

BLOCK = 1 << 20
WINDOW = 32 << 10  # deflate's history: what a block may refer back to
DEFAULT_LEVEL = 6  # gzip's and docker's default
# ID1 ID2 CM=deflate FLG=0 MTIME=0 XFL=0 OS=255 (unknown), as Go's compress/gzip writes it
HEADER = b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\xff"
_FINAL_EMPTY_BLOCK = b"\x03\x00"  # BFINAL=1, fixed Huffman, end-of-block


def _deflate(block: bytes, dictionary: bytes, level: int) -> bytes:
    if dictionary:
        obj = zlib.compressobj(level, zlib.DEFLATED, -15, 9, zlib.Z_DEFAULT_STRATEGY,
                               dictionary)
    else:
        obj = zlib.compressobj(level, zlib.DEFLATED, -15, 9, zlib.Z_DEFAULT_STRATEGY)
    return obj.compress(block) + obj.flush(zlib.Z_SYNC_FLUSH)


def blocks(chunks: Iterable[bytes], size: int = BLOCK) -> Iterator[bytes]:
    """Re-cut ``chunks`` into blocks of exactly ``size`` bytes (the last may be shorter)."""
    pending = bytearray()
    for chunk in chunks:
        pending += chunk
        while len(pending) >= size:
            yield bytes(pending[:size])
            del pending[:size]
    if pending:
        yield bytes(pending)


def compress(chunks: Iterable[bytes], *, level: int = DEFAULT_LEVEL,
             threads: int | None = None) -> Iterator[bytes]:
    """The gzip of the concatenated ``chunks``, as pieces, in order, while they are read."""
    workers = max(threads or os.cpu_count() or 1, 1)
    crc = 0
    length = 0
    yield HEADER
    with ThreadPoolExecutor(workers, "pgzip") as pool:
        running: deque[Future[bytes]] = deque()
        previous = b""
        for block in blocks(chunks):
            crc = zlib.crc32(block, crc)
            length += len(block)
            running.append(pool.submit(_deflate, block, previous[-WINDOW:], level))
            previous = block
            while len(running) > 2 * workers or (running and running[0].done()):
                yield running.popleft().result()
        while running:
            yield running.popleft().result()
    yield _FINAL_EMPTY_BLOCK + struct.pack("<II", crc, length & 0xFFFFFFFF)
