"""The build context: extraction (nothing leaves the directory), tarsums as moby computes them,
the Dockerfile lookup, .dockerignore removals, and source resolution (no symlink out)."""

from __future__ import annotations

import hashlib
import io
import os
import tarfile
from pathlib import Path

import pytest

from dockyard.build.context import BuildContext, open_context, tarsum_header
from dockyard.build.sources import combined, from_context, go_match, has_wildcards
from dockyard.errors import Breakout, InvalidArgument, NotFound


def _tar(entries: list[tuple[str, bytes | str | None, int]]) -> bytes:
    """(name, data | link target (str) | None for a directory, mode)."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for name, data, mode in entries:
            info = tarfile.TarInfo(name)
            info.mode, info.mtime = mode, 1_600_000_000
            if data is None:
                info.type = tarfile.DIRTYPE
                tar.addfile(info)
            elif isinstance(data, str):
                info.type, info.linkname = tarfile.SYMTYPE, data
                tar.addfile(info)
            else:
                info.size = len(data)
                tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def _context(tmp_path: Path, entries: list[tuple[str, bytes | str | None, int]]) -> BuildContext:
    return BuildContext.receive(io.BytesIO(_tar(entries)), tmp_path / "ctx")


def test_tarsum_is_moby_v1_over_the_sent_header(tmp_path: Path) -> None:
    context = _context(tmp_path, [("hello.txt", b"hello\n", 0o644), ("d", None, 0o755)])
    header = "name" "hello.txt" "mode420uid0gid0size6typeflag0linkname" "uname" "gname" \
        "devmajor0devminor0"
    assert context.sums["hello.txt"] == hashlib.sha256(header.encode() + b"hello\n").hexdigest()
    info = tarfile.TarInfo("d")
    info.type, info.mode = tarfile.DIRTYPE, 0o755
    assert tarsum_header(info).startswith(b"named/mode493")
    assert (tmp_path / "ctx" / "hello.txt").read_bytes() == b"hello\n"
    assert os.stat(tmp_path / "ctx" / "hello.txt").st_mtime == 1_600_000_000
    assert oct(os.stat(tmp_path / "ctx" / "d").st_mode & 0o777) == "0o755"


@pytest.mark.parametrize("entries", [
    [("../evil", b"x", 0o644)],
    [("link", "/etc", 0o777), ("link/passwd", b"x", 0o644)],
    [("a", None, 0o755), ("a/up", "../..", 0o777), ("a/up/escaped", b"x", 0o644)],
])
def test_nothing_is_written_outside(tmp_path: Path, entries: list[tuple[str, bytes | str | None,
                                                                        int]]) -> None:
    with pytest.raises((Breakout, InvalidArgument)):
        open_context(io.BytesIO(_tar(entries)), tmp_path / "ctx")
    assert sorted(p.name for p in tmp_path.iterdir()) == []
    assert not Path("/evil").exists()


def test_not_a_tar(tmp_path: Path) -> None:
    with pytest.raises(InvalidArgument, match="not a valid tar archive"):
        open_context(io.BytesIO(b"hello, this is not a tar" * 50), tmp_path / "ctx")


def test_dockerfile_lookup(tmp_path: Path) -> None:
    context = _context(tmp_path, [("dockerfile", b"FROM scratch\n", 0o644),
                                  ("sub", None, 0o755), ("sub/Build", b"FROM x\n", 0o644)])
    assert context.read_dockerfile("") == ("FROM scratch\n", "dockerfile")
    assert context.read_dockerfile("sub/Build") == ("FROM x\n", "sub/Build")
    with pytest.raises(InvalidArgument, match="Cannot locate specified Dockerfile: nope"):
        context.read_dockerfile("nope")
    with pytest.raises(InvalidArgument, match="is a directory"):
        context.read_dockerfile("sub")


def test_dockerignore_drops_the_build_files_it_names(tmp_path: Path) -> None:
    context = _context(tmp_path, [(".dockerignore", b"Dockerfile\n.dockerignore\n", 0o644),
                                  ("Dockerfile", b"FROM scratch\n", 0o644),
                                  ("keep", b"k", 0o644)])
    context.drop_ignored_build_files("Dockerfile")
    assert sorted(os.listdir(context.root)) == ["keep"]
    assert sorted(context.sums) == ["keep"]


def test_sources_follow_links_inside_and_refuse_links_out(tmp_path: Path) -> None:
    context = _context(tmp_path, [
        ("a.txt", b"a", 0o644), ("in", "a.txt", 0o777), ("abs", "/etc/passwd", 0o777),
        ("up", "../outside", 0o777), ("d", None, 0o755), ("d/b.txt", b"b", 0o644),
    ])
    (source,) = from_context(context, ["in"])
    assert (source.path, source.name, source.checksum) == (
        str(context.root / "a.txt"), "in", "file:" + context.sums["a.txt"])
    for name in ("abs", "up", "../x", "d/../../x"):
        with pytest.raises(Breakout, match="outside the build context"):
            from_context(context, [name])
    with pytest.raises(NotFound, match="stat nothere: file does not exist"):
        from_context(context, ["nothere"])
    with pytest.raises(InvalidArgument, match="no source files were specified"):
        from_context(context, ["*.nomatch"])
    names = [s.name for s in from_context(context, ["*.txt", "d/*"])]
    assert names == ["a.txt", "d/b.txt"]
    (directory,) = from_context(context, ["./d/"])
    assert directory.is_dir and directory.checksum.startswith("dir:")
    assert combined([source]) == source.checksum
    assert combined([source, directory]).startswith("multi:")


def test_wildcards() -> None:
    assert has_wildcards("*.go") and has_wildcards("a?") and has_wildcards("[ab]")
    assert not has_wildcards("plain") and not has_wildcards("esc\\*aped")
    assert go_match("*.go").fullmatch("main.go")
    assert not go_match("*.go").fullmatch("dir/main.go")
    assert go_match("dir/[a-c]?.txt").fullmatch("dir/b1.txt")
    assert not go_match("[^a]").fullmatch("a")
