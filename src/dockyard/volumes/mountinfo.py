"""Which paths are mount points now, from /proc/self/mountinfo (proc(5))."""

from __future__ import annotations

import os
import re
from pathlib import Path

_ESCAPE = re.compile(r"\\([0-7]{3})")


def mount_points(mountinfo: Path = Path("/proc/self/mountinfo")) -> list[str]:
    """Every mount point of this mount namespace, in mount order (octal escapes decoded)."""
    points = []
    for line in mountinfo.read_text(errors="surrogateescape").splitlines():
        fields = line.split(" ", 5)
        if len(fields) > 4:
            points.append(_ESCAPE.sub(lambda m: chr(int(m.group(1), 8)), fields[4]))
    return points


def mounted_at_or_under(path: Path, mountinfo: Path = Path("/proc/self/mountinfo")) -> list[str]:
    """The mount points at ``path`` or below it, deepest (last mounted) first."""
    target = os.path.realpath(path)
    prefix = target.rstrip("/") + "/"
    found = [p for p in mount_points(mountinfo) if p == target or p.startswith(prefix)]
    return found[::-1]
