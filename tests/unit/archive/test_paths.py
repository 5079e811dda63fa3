"""Entry names cleaned into target-relative paths, and whiteout names read."""

from __future__ import annotations

import posixpath
import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from dockyard.archive.paths import (
    Whiteout,
    clean_path,
    is_aufs_metadata,
    join,
    parent_of,
    parse_whiteout,
)
from dockyard.errors import Breakout, InvalidArgument


@pytest.mark.parametrize(
    ("name", "cleaned"),
    [
        ("a/b", "a/b"),
        ("./a/./b/", "a/b"),
        ("a//b", "a/b"),
        ("/abs", "abs"),
        ("//abs/x", "abs/x"),
        ("///abs", "abs"),
        ("/../x", "x"),
        ("/a/../../x", "x"),
        ("a/../b", "b"),
        ("a/b/..", "a"),
        (".", ""),
        ("./", ""),
        ("/", ""),
        ("", ""),
        ("..a/b", "..a/b"),
        ("a/..b", "a/..b"),
        ("...", "..."),
    ],
)
def test_clean_path(name: str, cleaned: str) -> None:
    assert clean_path(name) == cleaned


@pytest.mark.parametrize("name", ["..", "../", "../x", "a/../../x", "./../x", "a/b/../../../x"])
def test_clean_path_refuses_climbing(name: str) -> None:
    with pytest.raises(Breakout, match=r"layer base: entry .* points outside the target"):
        clean_path(name, "base")


def test_clean_path_refuses_nul() -> None:
    with pytest.raises(InvalidArgument, match="NUL"):
        clean_path("a\0b")


@given(st.lists(st.sampled_from(["a", "b", ".", "..", "", "/", ".wh.x"]), max_size=8))
def test_clean_path_stays_inside(parts: list[str]) -> None:
    name = "/".join(parts)
    try:
        path = clean_path(name)
    except Breakout:
        # Only a name that climbs above its start, read as relative, is refused.
        assert posixpath.normpath(name.lstrip("/")).split("/")[0] == ".."
        return
    assert not path.startswith("/")
    assert ".." not in path.split("/") and "." not in path.split("/")
    assert "" not in path.split("/") or path == ""
    assert posixpath.normpath(posixpath.join("/target", path)).startswith("/target")


def test_parent_and_join() -> None:
    assert (parent_of("a/b/c"), parent_of("a"), join("", "a"), join("a/b", "c")) == (
        "a/b", "", "a", "a/b/c"
    )


@pytest.mark.parametrize(
    ("path", "whiteout"),
    [
        ("a/b", None),
        ("a/.whx", None),
        ("a/x.wh.b", None),
        (".wh.etc", Whiteout("remove", "etc")),
        ("a/b/.wh.c", Whiteout("remove", "a/b/c")),
        ("a/.wh..hidden", Whiteout("remove", "a/.hidden")),
        ("a/.wh..wh..opq", Whiteout("opaque", "a")),
        (".wh..wh..opq", Whiteout("opaque", "")),
        ("a/.wh..wh.plnk", Whiteout("skip", "a/.wh..wh.plnk")),
        (".wh..wh.aufs", Whiteout("skip", ".wh..wh.aufs")),
    ],
)
def test_parse_whiteout(path: str, whiteout: Whiteout | None) -> None:
    assert parse_whiteout(path) == whiteout


def test_whiteout_of_parent_is_a_breakout() -> None:
    with pytest.raises(Breakout, match=re.escape("layer l1: whiteout 'a/.wh...'")):
        parse_whiteout("a/.wh...", "l1")


@pytest.mark.parametrize("path", ["a/.wh.", "a/.wh..", ".wh."])
def test_whiteout_naming_nothing_is_invalid(path: str) -> None:
    with pytest.raises(InvalidArgument, match="names no entry"):
        parse_whiteout(path)


@pytest.mark.parametrize(
    ("path", "meta"),
    [(".wh..wh.plnk/123.456", True), (".wh..wh.aufs", True), (".wh..wh..opq", False),
     ("a/.wh..wh.plnk/x", False), ("etc", False)],
)
def test_aufs_metadata(path: str, meta: bool) -> None:
    assert is_aufs_metadata(path) is meta
