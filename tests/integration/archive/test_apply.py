"""apply_layer on a real filesystem: every entry type, metadata, replacement rules, results."""

from __future__ import annotations

import gzip
import hashlib
import io
import os
import tarfile
from collections.abc import Callable
from pathlib import Path

import pytest

from dockyard.archive.apply import ApplyResult, apply_layer
from dockyard.archive.compression import compressor
from dockyard.errors import InvalidArgument
from dockyard.oci.digest import Digest
from dockyard.services.image_catalog import diff_size
from dockyard.snapshots.directory import disk_usage

from .conftest import MTIME, Row, d, f, hard, member, sym, tar_bytes, tree

pytestmark = pytest.mark.root

S = 1_000_000_000
T = MTIME * S
# security.capability, VFS_CAP_REVISION_2, effective, permitted = CAP_NET_RAW (bit 13)
CAP = bytes.fromhex("01000002" "00200000" "00000000" "00000000" "00000000")


def row(path: str, kind: str, mode: int, *, uid: int = 0, gid: int = 0, data: bytes | None = None,
        mtime: int = T, link: str = "", xattrs: tuple[tuple[str, bytes], ...] = (),
        rdev: tuple[int, int] = (0, 0), hardlink_of: str = "", size: int | None = None) -> Row:
    content = "" if data is None else hashlib.sha256(data).hexdigest()[:16]
    if size is None:
        size = len(data) if data is not None else len(link)
    return Row(path, kind, mode, uid, gid, size, mtime, link, xattrs, rdev, content, hardlink_of)


LONG = "deep/" + "/".join(["component-" + "x" * 40] * 6) + "/file"


def every_type() -> list[tuple[tarfile.TarInfo, bytes | None]]:
    xattrs = {"SCHILY.xattr.security.capability": CAP.decode("utf-8", "surrogateescape"),
              "SCHILY.xattr.user.mime": "text/x", "SCHILY.xattr.trusted.t": "tv"}
    return [
        d("bin.d/"),
        f("bin.d/su", b"su", mode=0o4755, uid=7, gid=8),
        f("bin.d/wall", b"w", mode=0o2711, gid=5),
        f("bin.d/ping", b"ping", mode=0o755, uid=7, pax_headers=xattrs),
        hard("bin.d/su2", "bin.d/su", mode=0o4755, uid=7, gid=8),
        sym("bin", "bin.d", uid=3, gid=4),
        d("dev/"),
        (member("dev/null", tarfile.CHRTYPE, devmajor=1, devminor=3, mode=0o666), None),
        (member("dev/loop0", tarfile.BLKTYPE, devmajor=7, devminor=0, mode=0o660, gid=6), None),
        (member("dev/fifo", tarfile.FIFOTYPE, mode=0o620, uid=1), None),
        d("tmp/", mode=0o1777),
        d("home/", mode=0o755),
        d("home/u/", mode=0o700, uid=1000, gid=1000),
        f("home/u/.profile", b"PS1=$", mode=0o600, uid=1000, gid=1000, mtime=1.5),
        d("naïve/", mtime=5),
        f("naïve/ünï", b"\xff\x00" * 3000),
        *[d("/".join(LONG.split("/")[: i + 1]) + "/") for i in range(7)],
        f(LONG, b"long"),
    ]


def test_every_entry_type_and_its_metadata(tmp_path: Path,
                                           apply_tar: Callable[..., ApplyResult]) -> None:
    apply_tar(tmp_path, every_type())
    parts = LONG.split("/")
    assert tree(tmp_path) == [
        row("bin", "l", 0o777, uid=3, gid=4, link="bin.d"),
        row("bin.d", "d", 0o755, size=0),
        row("bin.d/ping", "-", 0o755, uid=7, data=b"ping",
            xattrs=(("security.capability", CAP), ("trusted.t", b"tv"), ("user.mime", b"text/x"))),
        row("bin.d/su", "-", 0o4755, uid=7, gid=8, data=b"su", hardlink_of="bin.d/su"),
        row("bin.d/su2", "-", 0o4755, uid=7, gid=8, data=b"su", hardlink_of="bin.d/su"),
        row("bin.d/wall", "-", 0o2711, gid=5, data=b"w"),
        *[row("/".join(parts[: i + 1]), "d", 0o755, size=0) for i in range(7)],
        row(LONG, "-", 0o644, data=b"long"),
        row("dev", "d", 0o755, size=0),
        row("dev/fifo", "p", 0o620, uid=1, size=0),
        row("dev/loop0", "b", 0o660, gid=6, rdev=(7, 0), size=0),
        row("dev/null", "c", 0o666, rdev=(1, 3), size=0),
        row("home", "d", 0o755, size=0),
        row("home/u", "d", 0o700, uid=1000, gid=1000, size=0),
        row("home/u/.profile", "-", 0o600, uid=1000, gid=1000, data=b"PS1=$", mtime=1_500_000_000),
        row("naïve", "d", 0o755, mtime=5 * S, size=0),
        row("naïve/ünï", "-", 0o644, data=b"\xff\x00" * 3000),
        row("tmp", "d", 0o1777, size=0),
    ]


@pytest.mark.parametrize("compression", ["none", "gzip", "zstd"])
def test_result_names_digest_size_and_compression(tmp_path: Path, compression: str) -> None:
    tar = tar_bytes(every_type())
    c = compressor(compression)  # type: ignore[arg-type]
    blob = c.compress(tar) + c.flush()
    result = apply_layer(io.BytesIO(blob), tmp_path, whiteouts="copy", measure=True)
    assert result == ApplyResult(
        Digest.of(tar), len(tar), compression,  # type: ignore[arg-type]
        diff_size=diff_size(io.BytesIO(tar)), usage=disk_usage(tmp_path),
    )


def test_diff_size_counts_files_symlinks_and_each_inode_once(tmp_path: Path) -> None:
    tar = tar_bytes([d("a"), f("a/f", b"x" * 1000), hard("a/h", "a/f"), sym("a/s", "f"),
                     f("a/g", b"y" * 10), f("a/g", b"z" * 3), d("e"), f(".wh.gone")])
    assert apply_layer(io.BytesIO(tar), tmp_path, whiteouts="overlay").diff_size == 1000 + 1 + 3


def test_usage_is_none_where_the_tally_cannot_be_trusted(tmp_path: Path) -> None:
    tar = tar_bytes([d("a"), f("a/f", b"x" * 5000)])
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "old").write_bytes(b"")
    assert apply_layer(io.BytesIO(tar), tmp_path / "full", whiteouts="copy",
                       measure=True).usage is None  # not empty at the start
    (tmp_path / "again").mkdir()
    twice = tar_bytes([d("a"), f("a/f", b"x" * 5000), f("a/f", b"y")])
    assert apply_layer(io.BytesIO(twice), tmp_path / "again", whiteouts="copy",
                       measure=True).usage is None  # the second a/f removed the first
    (tmp_path / "off").mkdir()
    assert apply_layer(io.BytesIO(tar), tmp_path / "off", whiteouts="copy").usage is None


@pytest.mark.parametrize("compression", ["none", "gzip"])
def test_stream_digest_is_the_diff_id_of_an_uncompressed_stream(
    tmp_path: Path, compression: str
) -> None:
    tar = tar_bytes(every_type())
    c = compressor(compression)  # type: ignore[arg-type]
    blob = c.compress(tar) + c.flush()
    told = Digest.of(b"what the caller hashed")
    result = apply_layer(io.BytesIO(blob), tmp_path, whiteouts="copy", stream_digest=lambda: told)
    assert result.diff_id == (told if compression == "none" else Digest.of(tar))


def test_implicit_parents_are_created_0755(tmp_path: Path,
                                           apply_tar: Callable[..., object]) -> None:
    os.umask(old := os.umask(0o077))  # whatever the umask
    try:
        os.umask(0o077)
        apply_tar(tmp_path, [f("a/b/c", b"x", uid=9)])
    finally:
        os.umask(old)
    assert [(r.path, r.type, r.mode, r.uid) for r in tree(tmp_path)] == [
        ("a", "d", 0o755, 0), ("a/b", "d", 0o755, 0), ("a/b/c", "-", 0o644, 9)
    ]


def test_directory_mtimes_are_set_after_their_children(tmp_path: Path,
                                                       apply_tar: Callable[..., object]) -> None:
    apply_tar(tmp_path, [d("a/", mtime=10), d("a/b/", mtime=20), f("a/b/x", mtime=30),
                         f("a/y", mtime=40), d("a/", mtime=50, mode=0o700)])
    assert [(r.path, r.mode, r.mtime_ns // S) for r in tree(tmp_path)] == [
        ("a", 0o700, 50), ("a/b", 0o755, 20), ("a/b/x", 0o644, 30), ("a/y", 0o644, 40)
    ]


def test_root_entry_sets_the_target_metadata(tmp_path: Path,
                                             apply_tar: Callable[..., object]) -> None:
    target = tmp_path / "t"
    target.mkdir()
    apply_tar(target, [d("./", mode=0o700, uid=5, mtime=99), f("./x")])
    st = target.stat()
    assert (st.st_mode & 0o7777, st.st_uid, st.st_mtime_ns) == (0o700, 5, 99 * S)


def test_root_entry_must_be_a_directory(tmp_path: Path, apply_tar: Callable[..., object]) -> None:
    with pytest.raises(InvalidArgument, match=r"layer test: entry '\.' would replace the target"):
        apply_tar(tmp_path, [f(".", b"x")])


def test_replacement_rules(tmp_path: Path, apply_tar: Callable[..., object]) -> None:
    apply_tar(tmp_path, [
        d("dir/", mode=0o700), f("dir/keep", b"k"),
        d("file2dir/"), f("file2dir/gone", b"g"),
        f("sym2file", b"old"), f("node"),
    ], whiteouts="copy")
    apply_tar(tmp_path, [
        d("dir/", mode=0o750, mtime=7),  # merges: keeps its content, takes the new metadata
        f("file2dir", b"now a file"),  # replaces the directory and all in it
        sym("sym2file", "elsewhere"),
        (member("node", tarfile.FIFOTYPE), None),
        f("dir/new", b"n"),
    ], whiteouts="copy")
    assert [(r.path, r.type, r.mode, r.link) for r in tree(tmp_path)] == [
        ("dir", "d", 0o750, ""), ("dir/keep", "-", 0o644, ""), ("dir/new", "-", 0o644, ""),
        ("file2dir", "-", 0o644, ""), ("node", "p", 0o644, ""),
        ("sym2file", "l", 0o777, "elsewhere"),
    ]
    assert (tmp_path / "dir").stat().st_mtime_ns == 7 * S


def test_same_path_twice_in_one_layer(tmp_path: Path, apply_tar: Callable[..., object]) -> None:
    apply_tar(tmp_path, [f("a", b"first"), f("a", b"second"), d("b/"), f("b/x"), f("b", b"f"),
                         d("b/")])
    assert [(r.path, r.type, r.size) for r in tree(tmp_path)] == [
        ("a", "-", 6), ("b", "d", 0)
    ]


def test_hardlink_to_missing_path(tmp_path: Path, apply_tar: Callable[..., object]) -> None:
    with pytest.raises(InvalidArgument, match="hardlink 'h' to 'nope', which does not exist"):
        apply_tar(tmp_path, [hard("h", "nope")])
    with pytest.raises(InvalidArgument, match="entry 'h' needs 'no', which does not exist"):
        apply_tar(tmp_path, [hard("h", "no/pe")])


def test_hardlink_to_directory(tmp_path: Path, apply_tar: Callable[..., object]) -> None:
    with pytest.raises(InvalidArgument, match="hardlink 'h' to a directory"):
        apply_tar(tmp_path, [d("dir/"), hard("h", "dir")])


def test_parent_that_is_a_file(tmp_path: Path, apply_tar: Callable[..., object]) -> None:
    with pytest.raises(InvalidArgument, match="entry 'a/b' needs 'a' to be a directory"):
        apply_tar(tmp_path, [f("a"), f("a/b")])


def test_aufs_metadata_is_skipped(tmp_path: Path, apply_tar: Callable[..., object]) -> None:
    apply_tar(tmp_path, [d(".wh..wh.plnk/"), f(".wh..wh.plnk/1.2", b"x"), f(".wh..wh.aufs"),
                         f("real")])
    assert os.listdir(tmp_path) == ["real"]


def test_gzip_stream_from_a_pipe(tmp_path: Path) -> None:
    tar = tar_bytes([f("x", b"1" * 100_000)])
    blob = gzip.compress(tar, mtime=0)
    read_fd, write_fd = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child
        os.close(read_fd)
        os.write(write_fd, blob)
        os._exit(0)
    os.close(write_fd)
    try:
        with os.fdopen(read_fd, "rb", buffering=0) as pipe:
            result = apply_layer(pipe, tmp_path, whiteouts="overlay", name="piped")
    finally:
        os.waitpid(pid, 0)
    assert (result.diff_id, result.compression) == (Digest.of(tar), "gzip")
    assert (tmp_path / "x").read_bytes() == b"1" * 100_000


def test_unknown_whiteout_mode(tmp_path: Path) -> None:
    with pytest.raises(InvalidArgument, match="unknown whiteout mode 'aufs'"):
        apply_layer(io.BytesIO(b""), tmp_path, whiteouts="aufs")  # type: ignore[arg-type]


def test_directory_over_directory_takes_the_new_xattrs(tmp_path: Path,
                                                       apply_tar: Callable[..., object]) -> None:
    apply_tar(tmp_path, [d("a/", pax_headers={"SCHILY.xattr.user.old": "1",
                                              "SCHILY.xattr.user.both": "1"})], whiteouts="copy")
    apply_tar(tmp_path, [d("a/", pax_headers={"SCHILY.xattr.user.both": "2"})], whiteouts="copy")
    assert tree(tmp_path)[0].xattrs == (("user.both", b"2"),)


@pytest.mark.parametrize(
    ("attrs", "what"),
    [({"uid": 1 << 40}, "uid"), ({"mtime": 10**30}, "mtime"),
     ({"pax_headers": {"SCHILY.xattr.user.a\x00b": "x"}}, "xattr")],
)
def test_out_of_range_values_are_invalid(tmp_path: Path, apply_tar: Callable[..., object],
                                         attrs: dict[str, object], what: str) -> None:
    with pytest.raises(InvalidArgument, match="layer test: entry 'x' is invalid"):
        apply_tar(tmp_path, [f("x", b"1", **attrs)])


def test_overlay_xattrs_in_a_layer_are_ignored(tmp_path: Path,
                                               apply_tar: Callable[..., object]) -> None:
    apply_tar(tmp_path, [d("a/", pax_headers={"SCHILY.xattr.trusted.overlay.opaque": "y",
                                              "SCHILY.xattr.trusted.overlay.redirect": "/x",
                                              "SCHILY.xattr.user.overlay.origin": "o",
                                              "SCHILY.xattr.user.ok": "1"})])
    assert tree(tmp_path)[0].xattrs == (("user.ok", b"1"),)
