"""Layer sizes as dockerd's overlay2 reports them, read from the layer tar."""

from __future__ import annotations

import gzip
import io
import os
import stat
import tarfile
from pathlib import Path

from dockyard.services.image_catalog import diff_size


def _tar(*members: tuple[tarfile.TarInfo, bytes]) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for info, data in members:
            tar.addfile(info, io.BytesIO(data) if data else None)
    return buf.getvalue()


def _entry(name: str, kind: bytes = tarfile.REGTYPE, data: bytes = b"",
           link: str = "") -> tuple[tarfile.TarInfo, bytes]:
    info = tarfile.TarInfo(name)
    info.type = kind
    info.size = len(data) if kind == tarfile.REGTYPE else 0
    info.linkname = link
    return info, data


def test_counts_files_and_symlinks_once_per_inode() -> None:
    layer = _tar(
        _entry("etc", tarfile.DIRTYPE),
        _entry("etc/passwd", data=b"root:x:0:0\n"),  # 11
        _entry("bin/busybox", data=b"x" * 1000),  # 1000
        _entry("bin/sh", tarfile.LNKTYPE, link="bin/busybox"),  # same inode
        _entry("bin/ls", tarfile.SYMTYPE, link="busybox"),  # 7: the target's length
        _entry("empty", data=b""),
        _entry("dev/null", tarfile.CHRTYPE),
        _entry("fifo", tarfile.FIFOTYPE),
    )
    assert diff_size(io.BytesIO(layer)) == 1018
    assert diff_size(io.BytesIO(gzip.compress(layer))) == 1018


def test_whiteouts_and_rewrites() -> None:
    layer = _tar(
        _entry("a", data=b"12345"),
        _entry("a", data=b"12"),  # a later entry replaces the earlier one
        _entry(".wh.gone"),  # becomes a character device: nothing
        _entry("d/.wh..wh..opq"),
        _entry("./b", data=b"123"),
    )
    assert diff_size(io.BytesIO(layer)) == 5


def test_an_empty_layer() -> None:
    assert diff_size(io.BytesIO(b"")) == 0
    assert diff_size(io.BytesIO(_tar())) == 0


def _tree_size(root: Path) -> int:
    """moby pkg/directory.Size, for comparison."""
    seen: set[int] = set()
    total = 0
    for directory, dirs, files in os.walk(root):
        for name in dirs + files:
            st = os.lstat(os.path.join(directory, name))
            if stat.S_ISDIR(st.st_mode) or st.st_size == 0 or st.st_ino in seen:
                continue
            seen.add(st.st_ino)
            total += st.st_size
    return total


def test_agrees_with_a_walk_of_the_tree_the_tar_was_made_from(tmp_path: Path) -> None:
    tree = tmp_path / "tree"
    (tree / "sub" / "deeper").mkdir(parents=True)
    (tree / "sub" / "one").write_bytes(b"1" * 4097)
    (tree / "sub" / "deeper" / "two").write_bytes(b"22")
    os.link(tree / "sub" / "one", tree / "linked")
    (tree / "link").symlink_to("sub/deeper/two")
    (tree / "zero").touch()
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        tar.add(tree, arcname=".")
    assert diff_size(io.BytesIO(buf.getvalue())) == _tree_size(tree) == 4097 + 2 + 14
