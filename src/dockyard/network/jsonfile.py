"""JSON files replaced atomically: the network stores' one way to write.

A write goes to ``.tmp-<name>`` beside the file, the file is renamed to ``<name>.old``, the new
one into its place, and the old one is removed (rename(2) is atomic in one filesystem), so a
reader, or a daemon restarted after SIGKILL, sees the old or the new content, never a mix. The
file is moved aside rather than renamed over because a rename that replaces a file makes ext4
start the new file's writeback at once (its ``auto_da_alloc`` heuristic), which costs a
container start on a busy disk. No fsync: these files describe links, rules and addresses that
a reboot removes anyway, and a SIGKILL of the daemon leaves the page cache intact. A crash
leaves at most a stray temp file and an ``.old`` one, which :func:`remove_temps` sorts out when
the store opens (it puts an ``.old`` file back where the file is missing).
"""

from __future__ import annotations

import errno
import json
import os
from pathlib import Path
from typing import Any

from dockyard.errors import DataCorrupt, SystemCallError

TEMP_PREFIX = ".tmp-"
OLD_SUFFIX = ".old"


def write(path: Path, data: Any) -> None:
    """Replace ``path`` by ``data`` as JSON."""
    temp = path.with_name(TEMP_PREFIX + path.name)
    # no indent: an indented dump runs the pure-Python encoder, ten times slower than the C one
    text = json.dumps(data, sort_keys=True, separators=(",", ":")).encode()
    try:
        fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o600)
        try:
            os.write(fd, text)
        finally:
            os.close(fd)
        old = path.with_name(path.name + OLD_SUFFIX)
        try:
            os.rename(path, old)
            moved = True
        except FileNotFoundError:  # the first write
            moved = False
        os.rename(temp, path)
        if moved:
            os.unlink(old)
    except OSError as exc:
        raise SystemCallError("write", exc.errno or errno.EIO, str(path)) from exc


def read(path: Path) -> Any:
    """The JSON in ``path``; FileNotFoundError passes through, bad JSON is DataCorrupt."""
    text = path.read_bytes()
    try:
        return json.loads(text)
    except ValueError as exc:
        raise DataCorrupt(f"{path}: not valid json: {exc}") from exc


def remove(path: Path) -> None:
    try:
        path.unlink()
    except FileNotFoundError:
        pass
    except OSError as exc:
        raise SystemCallError("unlink", exc.errno or errno.EIO, str(path)) from exc


def remove_temps(directory: Path) -> None:
    """Tidy what an interrupted :func:`write` left in ``directory``: delete its temp files, put
    an ``.old`` file back where its file is missing, delete the other ones."""
    for entry in directory.glob(TEMP_PREFIX + "*"):
        remove(entry)
    for entry in directory.glob("*" + OLD_SUFFIX):
        target = entry.with_name(entry.name[:-len(OLD_SUFFIX)])
        if target.exists():
            remove(entry)
        else:
            try:
                os.rename(entry, target)
            except OSError as exc:
                raise SystemCallError("rename", exc.errno or errno.EIO, str(entry)) from exc
