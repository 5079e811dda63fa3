"""JSON files replaced atomically: the network stores' one way to write.

A write is :func:`dockyard.replace.replace` (a temp file ``.tmp-<name>`` beside the file, the
file moved aside to ``<name>.old`` while the new one is renamed in: never a rename over the
file, which makes ext4 start its writeback during a container start), so a reader, or a daemon
restarted after SIGKILL, sees the old or the new content, never a mix. No fsync: these files
describe links, rules and addresses that a reboot removes anyway, and a SIGKILL of the daemon
leaves the page cache intact. A crash leaves at most a stray temp file and an ``.old`` one,
which :func:`remove_temps` sorts out when the store opens.
"""

from __future__ import annotations

import errno
import json
from pathlib import Path
from typing import Any

from dockyard.errors import DataCorrupt, SystemCallError
from dockyard.replace import OLD_SUFFIX, recover, replace

TEMP_PREFIX = ".tmp-"


def write(path: Path, data: Any) -> None:
    """Replace ``path`` by ``data`` as JSON."""
    # no indent: an indented dump runs the pure-Python encoder, ten times slower than the C one
    text = json.dumps(data, sort_keys=True, separators=(",", ":")).encode()
    try:
        replace(path, text, path.with_name(TEMP_PREFIX + path.name))
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
        try:
            recover(entry.with_name(entry.name[:-len(OLD_SUFFIX)]))
        except OSError as exc:
            raise SystemCallError("rename", exc.errno or errno.EIO, str(entry)) from exc
