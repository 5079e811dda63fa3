"""Disk usage of a volume as dockerd reports it (moby ``pkg/directory.Size``): the sizes of
everything but directories (a symlink counts its target's length), each inode once."""

from __future__ import annotations

import errno
import os
import stat
from pathlib import Path


def disk_size(root: Path) -> int:
    total = 0
    seen: set[tuple[int, int]] = set()
    pending = [str(root)]
    while pending:
        directory = pending.pop()
        try:
            entries = list(os.scandir(directory))
        except OSError as exc:
            if exc.errno in (errno.ENOENT, errno.ENOTDIR):
                continue  # removed while we walked, as dockerd skips it
            raise
        for entry in entries:
            try:
                info = entry.stat(follow_symlinks=False)
            except FileNotFoundError:
                continue
            if stat.S_ISDIR(info.st_mode):
                pending.append(entry.path)
                continue
            key = (info.st_dev, info.st_ino)
            if info.st_nlink > 1:
                if key in seen:
                    continue
                seen.add(key)
            total += info.st_size
    return total
