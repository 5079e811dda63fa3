"""Copy-up of an image's content into an empty volume, on a tree made in a temp dir (no root:
owners stay the test's own; tests/integration/volumes covers other owners and device nodes)."""

from __future__ import annotations

import errno
import os
import stat
from pathlib import Path

import pytest

from dockyard.errors import InvalidArgument
from dockyard.sys.recording import RecordingSyscalls
from dockyard.volumes import VolumeStore
from dockyard.volumes.copyup import copy_tree

T1, T2 = 1_000_000_000, 1_100_000_000


def snapshot(root: Path) -> dict[str, tuple[object, ...]]:
    """Everything copy-up keeps, per path below ``root`` ("." for root itself)."""
    seen: dict[str, tuple[object, ...]] = {}
    inodes: dict[int, str] = {}
    for path in [root, *sorted(root.rglob("*"))]:
        info = path.lstat()
        rel = str(path.relative_to(root))
        kind = stat.S_IFMT(info.st_mode)
        first = inodes.setdefault(info.st_ino, rel) if kind == stat.S_IFREG else rel
        content: object = None
        if kind == stat.S_IFREG:
            content = path.read_bytes()
        elif kind == stat.S_IFLNK:
            content = os.readlink(path)
        xattrs = {} if kind == stat.S_IFLNK else {
            n: os.getxattr(path, n) for n in os.listxattr(path)}
        seen[rel] = (kind, stat.S_IMODE(info.st_mode), info.st_uid, info.st_gid,
                     info.st_mtime_ns if kind != stat.S_IFDIR or rel != "." else None,
                     content, first, xattrs)
    return seen


def user_xattrs_work(path: Path) -> bool:
    try:
        os.setxattr(path, "user.probe", b"1")
    except OSError as exc:
        if exc.errno in (errno.ENOTSUP, errno.EOPNOTSUPP, errno.EPERM):
            return False
        raise
    os.removexattr(path, "user.probe")
    return True


def make_tree(src: Path) -> None:
    (src / "etc" / "conf.d").mkdir(parents=True)
    (src / "etc" / "app.conf").write_text("a=1\n")
    (src / "etc" / "secret").write_bytes(b"\x00" * 70_000)
    os.chmod(src / "etc" / "secret", 0o600)
    (src / "bin").mkdir()
    (src / "bin" / "tool").write_text("#!/bin/sh\n")
    os.chmod(src / "bin" / "tool", 0o4755)
    os.link(src / "bin" / "tool", src / "bin" / "tool2")
    os.link(src / "bin" / "tool", src / "etc" / "tool3")
    os.symlink("../bin/tool", src / "etc" / "link")
    os.symlink("/etc/passwd", src / "abs")  # copied as a link, never followed
    os.mkfifo(src / "fifo", 0o640)
    os.chmod(src / "etc" / "conf.d", 0o2750)
    if user_xattrs_work(src):
        os.setxattr(src / "etc" / "app.conf", "user.origin", b"image")
        os.setxattr(src / "etc", "user.dir", b"yes")
    for path in sorted(src.rglob("*"), reverse=True):
        os.utime(path, ns=(T1, T2), follow_symlinks=False)
    os.chmod(src, 0o750)
    os.utime(src, ns=(T1, T2))


def test_copy_tree_keeps_everything(tmp_path: Path) -> None:
    src, dst = tmp_path / "src", tmp_path / "dst"
    src.mkdir()
    make_tree(src)
    dst.mkdir()
    copy_tree(src, dst)
    assert snapshot(dst) == snapshot(src)
    assert dst.stat().st_mtime_ns == T2
    assert os.stat(dst / "bin" / "tool").st_nlink == 3


def test_copy_up_only_into_an_empty_volume(tmp_path: Path) -> None:
    store = VolumeStore(tmp_path / "volumes", RecordingSyscalls())
    src = tmp_path / "src"
    src.mkdir()
    (src / "f").write_text("image")
    path = store.create("v1").mountpoint
    assert store.copy_up("v1", src)
    assert (path / "f").read_text() == "image"
    (src / "g").write_text("more")
    assert not store.copy_up("v1", src)
    assert sorted(os.listdir(path)) == ["f"]
    (path / "f").unlink()
    assert store.copy_up("v1", src)  # emptied: dockerd copies again
    assert sorted(os.listdir(path)) == ["f", "g"]


def test_copy_up_of_a_missing_or_odd_source(tmp_path: Path) -> None:
    store = VolumeStore(tmp_path / "volumes", RecordingSyscalls())
    store.create("v1")
    assert not store.copy_up("v1", tmp_path / "nosuch")
    (tmp_path / "file").write_text("x")
    os.symlink(tmp_path, tmp_path / "link")
    for odd in (tmp_path / "file", tmp_path / "link"):
        with pytest.raises(InvalidArgument, match="is not a directory"):
            store.copy_up("v1", odd)
    assert os.listdir(store.get("v1").mountpoint) == []


def test_copy_up_skips_sockets(tmp_path: Path) -> None:
    import socket

    src, dst = tmp_path / "src", tmp_path / "dst"
    src.mkdir()
    dst.mkdir()
    with socket.socket(socket.AF_UNIX) as sock:
        sock.bind(str(src / "sock"))
        (src / "f").write_text("x")
        copy_tree(src, dst)
    assert os.listdir(dst) == ["f"]
