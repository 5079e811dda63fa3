"""Deterministic root filesystem tars for ``dockyard bootstrap``.

``busybox_tar`` lays out a busybox image from one static busybox binary::

    bin/busybox            the binary (0755)
    bin/sh, usr/bin/[ ...  hard links to bin/busybox, where ``busybox --list-full`` puts them
    etc/passwd, etc/group  root and nobody
    root/ (0700), tmp/ (1777), dev/ proc/ sys/ home/ var/ ...

Every entry is owned by 0:0, carries the same mtime (SOURCE_DATE_EPOCH, else 0) and the
entries are sorted, so the same binary always gives the same tar and the same layer digest.
"""

from __future__ import annotations

import io
import tarfile
from collections.abc import Iterable
from typing import BinaryIO

PASSWD = "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/home:/bin/false\n"
GROUP = "root:x:0:\nnobody:x:65534:\n"
DIRS = {"bin": 0o755, "dev": 0o755, "etc": 0o755, "home": 0o755, "proc": 0o755,
        "root": 0o700, "sbin": 0o755, "sys": 0o755, "tmp": 0o1777, "usr": 0o755,
        "usr/bin": 0o755, "usr/sbin": 0o755, "var": 0o755, "var/spool": 0o755,
        "var/spool/mail": 0o755, "var/www": 0o755}
BUSYBOX_PATH = "bin/busybox"


def _info(name: str, mtime: int, mode: int, kind: bytes = tarfile.REGTYPE) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type = kind
    info.mode = mode
    info.mtime = mtime
    info.uid = info.gid = 0
    info.uname = info.gname = ""
    return info


def applet_paths(list_full: Iterable[str]) -> list[str]:
    """The link paths from ``busybox --list-full`` output, relative, without the binary."""
    paths = set()
    for line in list_full:
        path = line.strip().strip("/")
        if path and path != BUSYBOX_PATH:
            paths.add(path)
    return sorted(paths)


def busybox_tar(binary: bytes, applets: Iterable[str], out: BinaryIO, mtime: int = 0) -> None:
    """Write the busybox rootfs tar (uncompressed, sorted, reproducible) to ``out``."""
    links = applet_paths(applets)
    dirs = dict(DIRS)
    for link in links:
        parent = link.rpartition("/")[0]
        while parent and parent not in dirs:
            dirs[parent] = 0o755
            parent = parent.rpartition("/")[0]
    files = {"etc/group": GROUP.encode(), "etc/passwd": PASSWD.encode()}
    entries: list[tuple[str, tarfile.TarInfo, bytes | None]] = []
    for name, mode in dirs.items():
        entries.append((name, _info(name, mtime, mode, tarfile.DIRTYPE), None))
    for name, content in files.items():
        info = _info(name, mtime, 0o644)
        info.size = len(content)
        entries.append((name, info, content))
    binary_info = _info(BUSYBOX_PATH, mtime, 0o755)
    binary_info.size = len(binary)
    entries.append((BUSYBOX_PATH, binary_info, binary))
    for link in links:
        info = _info(link, mtime, 0o755, tarfile.LNKTYPE)
        info.linkname = BUSYBOX_PATH
        entries.append((link, info, None))
    # The binary sorts before its links only if we say so: a hard link must follow its target.
    entries.sort(key=lambda e: (e[1].type == tarfile.LNKTYPE, e[0]))
    with tarfile.open(fileobj=out, mode="w|", format=tarfile.PAX_FORMAT) as tar:
        for _, info, data in entries:
            tar.addfile(info, io.BytesIO(data) if data is not None else None)
