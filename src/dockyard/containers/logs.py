"""Reading a container's json-file logs (written by its monitor) for ``GET .../logs``.

One entry per line: ``{"log":"text\\n","stream":"stdout","time":"<RFC3339Nano>"}``, in
``<id>-json.log``, with rotated files ``<id>-json.log.1`` (newer) to ``.N`` (older) beside it.
:func:`read` returns the entries of all files, oldest first, filtered by time and cut to the
last ``tail`` entries; :class:`Follower` then returns what is appended later, across rotation.
"""

from __future__ import annotations

import json
import os
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from dockyard.containers.record import parse_time
from dockyard.errors import DataCorrupt


@dataclass(frozen=True, slots=True)
class Entry:
    stream: str        # "stdout" or "stderr"
    data: bytes
    time_ns: int

    def timestamp(self) -> str:
        """RFC 3339 with 9 fraction digits, as docker logs -t prints it."""
        import time

        seconds, nanos = divmod(self.time_ns, 10**9)
        return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(seconds)) + f".{nanos:09d}Z"


def parse_line(line: bytes) -> Entry | None:
    try:
        value = json.loads(line)
        return Entry(str(value.get("stream", "stdout")), str(value["log"]).encode(),
                     parse_time(str(value.get("time", ""))))
    except (ValueError, KeyError, TypeError, AttributeError, DataCorrupt):
        return None


def files(path: Path) -> list[Path]:
    """The log files, oldest first."""
    rotated = []
    n = 1
    while (candidate := path.with_name(f"{path.name}.{n}")).exists():
        rotated.append(candidate)
        n += 1
    return [*reversed(rotated), path]


def read(path: Path, *, since_ns: int = 0, until_ns: int = 0, tail: int = -1) -> \
        tuple[list[Entry], int, int]:
    """The entries, and the current file's inode and size (where a follower goes on)."""
    kept: deque[Entry] = deque(maxlen=tail if tail >= 0 else None)
    inode = size = 0
    for file in files(path):
        try:
            with open(file, "rb") as handle:
                data = handle.read()
                if file == path:  # a follower goes on after the last whole line
                    data = data[: data.rfind(b"\n") + 1]
                    inode, size = os.fstat(handle.fileno()).st_ino, len(data)
        except FileNotFoundError:
            continue
        for entry in _entries(data):
            if since_ns and entry.time_ns < since_ns:
                continue
            if until_ns and entry.time_ns > until_ns:
                continue
            kept.append(entry)
    return list(kept), inode, size


def _entries(data: bytes) -> Iterator[Entry]:
    for line in data.splitlines():
        entry = parse_line(line)
        if entry is not None:
            yield entry


class Follower:
    """Entries appended to ``path`` after (inode, offset); a rotation is followed into the
    new file (the rest of the old one is read first, through the rotated name)."""

    def __init__(self, path: Path, inode: int, offset: int) -> None:
        self.path = path
        self.inode = inode
        self.offset = offset
        self._partial = b""

    def poll(self) -> list[Entry]:
        try:
            info = os.stat(self.path)
        except FileNotFoundError:
            return []
        out: list[Entry] = []
        if info.st_ino != self.inode:
            out += self._rest_of_rotated()
            self.inode, self.offset, self._partial = info.st_ino, 0, b""
        elif info.st_size < self.offset:  # truncated (max-file 1)
            self.offset, self._partial = 0, b""
        if info.st_size > self.offset:
            out += self._read(self.path)
        return out

    def _rest_of_rotated(self) -> list[Entry]:
        rotated = self.path.with_name(f"{self.path.name}.1")
        try:
            if os.stat(rotated).st_ino == self.inode:
                return self._read(rotated)
        except FileNotFoundError:
            pass
        return []

    def _read(self, path: Path) -> list[Entry]:
        with open(path, "rb") as handle:
            handle.seek(self.offset)
            data = handle.read()
        self.offset += len(data)
        data = self._partial + data
        complete, _, self._partial = data.rpartition(b"\n")
        return list(_entries(complete))
