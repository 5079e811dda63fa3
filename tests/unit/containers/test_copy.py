"""Copies in and out of a container root on plain directories: dockerd's path rules and
names, stat headers, extraction rules and errors, and no way out of the root, even while
a thread swaps a directory for a symlink during the copy."""

from __future__ import annotations

import base64
import contextlib
import io
import json
import os
import tarfile
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from dockyard.containers.copyin import extract
from dockyard.containers.copyout import (
    PathStat,
    go_file_mode,
    path_stat,
    write_path,
    write_root,
)
from dockyard.containers.inroot import Root, base_name, clean, pseudo_devices
from dockyard.errors import DockyardError, Internal, InvalidArgument, NotFound
from dockyard.sys import real


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    root = tmp_path / "root"
    (root / "d" / "sub").mkdir(parents=True)
    (root / "d" / "f").write_text("hi\n")
    (root / "lnk").symlink_to("/d")
    (root / "d" / "rel").symlink_to("sub")
    (root / "up").symlink_to("../../../..")
    (root / "d" / "hard").hardlink_to(root / "d" / "f")
    return root


@pytest.fixture
def root(tree: Path) -> Iterator[Root]:
    opened = Root.at(str(tree), real(), container="c1")
    yield opened
    opened.close()


def names(data: bytes) -> list[tuple[str, str, str]]:
    with tarfile.open(fileobj=io.BytesIO(data)) as archive:
        return [(m.name, m.type.decode(), m.linkname) for m in archive.getmembers()]


def tar_of(root: Root, path: str) -> tuple[PathStat, bytes]:
    target = root.target(path)
    try:
        found = path_stat(root, path, target)
        out = io.BytesIO()
        write_path(root, path, target, out)
    finally:
        os.close(target.dir_fd)
    return found, out.getvalue()


def test_paths() -> None:
    cases = {"/d/f": "/d/f", "d/f": "/d/f", "/d/": "/d/", "/d/.": "/d/.", "/": "/",
             ".": "/.", "/a/../b/./c": "/b/c", "//x//": "/x/", "/..": "/"}
    assert {p: clean(p) for p in cases} == cases
    assert [base_name(clean(p)) for p in ("/d/f", "/d/", "/d/.", "/")] == ["f", "d", ".", "/"]
    assert go_file_mode(0o40755) == 2147484141  # cp_in.txt: the stat of "/"
    assert go_file_mode(0o100644) == 420
    assert go_file_mode(0o120777) == 134218239
    assert go_file_mode(0o20666) == (1 << 26) | (1 << 21) | 0o666
    assert go_file_mode(0o104755) == (1 << 23) | 0o755


def test_archive_names_as_dockerd(root: Root) -> None:
    stat, data = tar_of(root, "/d/f")
    assert (stat.name, stat.size, stat.mode, stat.link_target) == ("f", 3, 420, "")
    assert names(data) == [("f", "0", "")]
    assert len(data) == 2048  # header, data, two zero blocks: misc.txt's Content-Length
    expected = [("d", "5", ""), ("d/f", "0", ""), ("d/hard", "1", "d/f"), ("d/rel", "2", "sub"),
                ("d/sub", "5", "")]
    assert names(tar_of(root, "/d")[1]) == expected
    assert names(tar_of(root, "/d/")[1]) == expected
    dot = tar_of(root, "/d/.")
    assert dot[0].name == "."
    assert names(dot[1])[:2] == [(".", "5", ""), ("./f", "0", "")]
    link = tar_of(root, "/lnk")
    assert (link[0].name, link[0].link_target, names(link[1])) == \
        ("lnk", "/d", [("lnk", "2", "/d")])
    followed = tar_of(root, "/lnk/")
    assert followed[0].link_target == "" and names(followed[1])[:2] == \
        [("lnk", "5", ""), ("lnk/f", "0", "")]
    assert tar_of(root, "/d/rel")[0].link_target == "/d/sub"
    assert tar_of(root, "/up")[0].link_target == "/"
    top = tar_of(root, "/")
    assert top[0].name == "/"
    with tarfile.open(fileobj=io.BytesIO(top[1])) as archive:
        raw = [m.name for m in archive.getmembers()]
    assert raw[:3] == ["", "/d", "/d/f"]  # tarfile drops the trailing "/" of "/" and "/d/"


def test_stat_header_is_base64_json(root: Root) -> None:
    found = tar_of(root, "/d/f")[0]
    decoded = json.loads(base64.b64decode(found.header()))
    assert list(decoded) == ["name", "size", "mode", "mtime", "linkTarget"]
    assert decoded["mtime"].endswith("Z")


def test_lookup_errors(root: Root) -> None:
    with pytest.raises(NotFound, match=r"^Could not find the file /nope in container c1$"):
        root.target("/nope")
    with pytest.raises(Internal, match="not a directory"):
        root.target("/d/f/")
    # a symlink that climbs out of the root stays in it: /up/d is /d
    assert tar_of(root, "/up/d/f")[0].name == "f"


def test_pseudo_filesystems_are_refused(tree: Path) -> None:
    info = "36 35 98:0 / /proc rw - proc proc rw\n37 35 0:5 / /sys rw - sysfs sysfs rw\n" \
           "38 35 0:44 / /data rw - ext4 /dev/sda1 rw\n"
    assert pseudo_devices(info) == {os.makedev(98, 0), os.makedev(0, 5)}
    dev = os.stat(tree / "d").st_dev
    with Root.at(str(tree), real(), container="c1", pseudo=frozenset({dev})) as pseudo, \
            pytest.raises(NotFound):
        pseudo.dir("/d")


def make_tar(*members: tuple[str, str, bytes | str]) -> io.BytesIO:
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w", format=tarfile.PAX_FORMAT) as archive:
        for name, kind, value in members:
            info = tarfile.TarInfo(name)
            info.mtime = 1_000_000
            if kind == "dir":
                info.type, info.mode = tarfile.DIRTYPE, 0o750
                archive.addfile(info)
            elif kind == "sym":
                info.type, info.linkname = tarfile.SYMTYPE, str(value)
                archive.addfile(info)
            elif kind == "link":
                info.type, info.linkname = tarfile.LNKTYPE, str(value)
                archive.addfile(info)
            else:
                data = value if isinstance(value, bytes) else value.encode()
                info.size, info.mode = len(data), 0o640
                archive.addfile(info, io.BytesIO(data))
    out.seek(0)
    return out


def test_extract(root: Root, tree: Path) -> None:
    extract(root, "/d", make_tar(("new/", "dir", ""), ("new/a", "file", "A"),
                                 ("new/b", "link", "new/a"), ("new/c", "sym", "a"),
                                 ("deep/x/y", "file", "Y")))
    assert (tree / "d/new/a").read_text() == "A"
    assert (tree / "d/new/a").stat().st_mode & 0o777 == 0o640
    assert (tree / "d/new/b").stat().st_ino == (tree / "d/new/a").stat().st_ino
    assert os.readlink(tree / "d/new/c") == "a"
    assert (tree / "d/deep/x/y").read_text() == "Y"
    assert (tree / "d/new").stat().st_mtime == 1_000_000  # set after its contents
    # through the symlink /lnk (-> /d), and a file replacing a file
    extract(root, "/lnk/", make_tar(("f", "file", "replaced")))
    assert (tree / "d/f").read_text() == "replaced"


def test_extract_follows_links_in_the_root_only(root: Root, tree: Path, tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (tree / "d" / "abs").symlink_to(str(outside))  # absolute: means <root>/<tmp>/outside
    with pytest.raises(NotFound):  # which does not exist (dockerd: "no such file")
        extract(root, "/d", make_tar(("abs/x", "file", "X")))
    (tree / str(outside).lstrip("/")).mkdir(parents=True)
    extract(root, "/d", make_tar(("abs/x", "file", "X")))
    assert list(outside.iterdir()) == []
    assert (tree / str(outside).lstrip("/") / "x").read_text() == "X"
    extract(root, "/", make_tar(("up/escaped", "file", "E")))  # up -> ../../../.. = /
    assert (tree / "escaped").read_text() == "E"


@pytest.mark.parametrize(("members", "message"), [
    ((("../../evil", "file", "x"),), '"../../evil" is outside of "/d"'),
    ((("l", "sym", "../../../x"),), 'invalid symlink "/d/l" -> "../../../x"'),
    ((("h", "link", "../../etc/passwd"),), 'invalid hardlink "/d/h" -> "../../etc/passwd"'),
    ((("f/", "dir", ""),), 'cannot overwrite non-directory "/d/f" with directory "/d"'),
    ((("sub", "file", "x"),), 'cannot overwrite directory "/d/sub" with non-directory "/d"'),
])
def test_extract_refusals(root: Root, members: tuple[tuple[str, str, str], ...],
                          message: str) -> None:
    with pytest.raises(Internal) as caught:
        extract(root, "/d/", make_tar(*members), no_overwrite_dir_non_dir=True)
    assert str(caught.value) == f"Error processing tar file(exit status 1): {message}"


def test_extract_destination_errors(root: Root) -> None:
    with pytest.raises(Internal, match=r"^extraction point is not a directory$"):
        extract(root, "/d/f", make_tar(("x", "file", "x")))
    with pytest.raises(NotFound, match=r"^Could not find the file /nope in container c1$"):
        extract(root, "/nope", make_tar(("x", "file", "x")))
    with pytest.raises(Internal, match=r"^container rootfs is marked read-only$"):
        extract(root, "/d", make_tar(("x", "file", "x")), readonly_rootfs=True)
    with pytest.raises(Internal, match="unexpected EOF"):
        extract(root, "/d", io.BytesIO(b"x" * 100))


def test_no_way_out_while_links_are_swapped(tree: Path, tmp_path: Path) -> None:
    """CVE-2018-15664: /w flips between a directory and a symlink to the host's directory
    ``outside`` while files are copied in and out through /w."""
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret").write_text("HOST")
    w = tree / "w"
    w.mkdir()
    (w / "secret").write_text("W")
    stop = threading.Event()

    def swap() -> None:
        while not stop.is_set():
            os.rename(w, tree / "w.real")
            os.symlink(str(outside), w)
            os.unlink(w)
            os.rename(tree / "w.real", w)

    thread = threading.Thread(target=swap)
    thread.start()
    seen: set[str] = set()
    try:
        with Root.at(str(tree), real(), container="c1") as root:
            for n in range(300):
                with contextlib.suppress(DockyardError):
                    extract(root, "/w", make_tar((f"put-{n}", "file", "x")))
                try:
                    _, data = tar_of(root, "/w/secret")
                    with tarfile.open(fileobj=io.BytesIO(data)) as archive:
                        member = archive.extractfile("secret")
                        assert member is not None
                        seen.add(member.read().decode())
                except DockyardError:
                    pass
    finally:
        stop.set()
        thread.join()
    assert sorted(p.name for p in outside.iterdir()) == ["secret"]
    assert seen <= {"W"}


def test_write_root_skips(root: Root) -> None:
    out = io.BytesIO()
    write_root(root, out, skip=lambda rel: rel == "d")
    assert [n for n, _, _ in names(out.getvalue())] == ["lnk", "up"]


def test_extract_with_an_owner(root: Root, tree: Path) -> None:
    extract(root, "/d", make_tar(("owned/", "dir", ""), ("owned/f", "file", "x"),
                                 ("owned/l", "sym", "f")), owner=(1234, 5678))
    for name in ("owned", "owned/f", "owned/l"):
        st = os.lstat(tree / "d" / name)
        assert (st.st_uid, st.st_gid) == (1234, 5678), name


def test_host_user() -> None:
    from dockyard.services.container_files import host_user

    assert host_user("root") == (0, 0)
    assert host_user("1234") == (1234, 1234)
    assert host_user("1234:55") == (1234, 55)
    assert host_user("0:root") == (0, 0)
    with pytest.raises(InvalidArgument, match='getent unable to find entry "nosuchuser"'):
        host_user("nosuchuser")
