"""JSON files replaced atomically: the network stores' one way to write.

A write goes to ``.tmp-<name>`` beside the file and is renamed over it (rename(2) is atomic in one
filesystem), so a reader, or a daemon restarted after SIGKILL, sees the old or the new content,
never a mix. No fsync: these files describe links, rules and addresses that a reboot removes
anyway, and a SIGKILL of the daemon leaves the page cache intact. A crash leaves at most a stray
temp file, which :func:`remove_temps` deletes.
"""

from __future__ import annotations

import errno
import json
import os
from pathlib import Path
from typing import Any

from dockyard.errors import DataCorrupt, SystemCallError

TEMP_PREFIX = ".tmp-"


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
        os.rename(temp, path)
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
    """Delete the temp files an interrupted :func:`write` left in ``directory``."""
    for entry in directory.glob(TEMP_PREFIX + "*"):
        remove(entry)
