"""Whiteouts and opaque directories, as overlay upper-dir markers and as deletions in a copy."""

from __future__ import annotations

import os
import stat
from collections.abc import Callable
from pathlib import Path

import pytest

from dockyard.archive.apply import OPAQUE_XATTR
from dockyard.errors import Breakout

from .conftest import d, f, sym, tree

pytestmark = pytest.mark.root

Apply = Callable[..., object]


def listing(root: Path) -> list[tuple[str, str]]:
    """(path, type) pairs; a 0:0 character device shows as "w", an opaque directory as "o"."""
    out = []
    for r in tree(root):
        kind = r.type
        if kind == "c" and r.rdev == (0, 0):
            kind = "w"
        if kind == "d" and (OPAQUE_XATTR, b"y") in r.xattrs:
            kind = "o"
        out.append((r.path, kind))
    return out


LOWER = [d("a/"), f("a/1"), f("a/2"), f("b"), d("c/"), d("c/sub/"), f("c/sub/z"), f("c/x"),
         d("e/"), f("e/old")]


def test_overlay_whiteouts_become_devices_and_xattrs(tmp_path: Path, apply_tar: Apply) -> None:
    apply_tar(tmp_path, [
        f(".wh.b", uid=3, gid=4, mtime=77),
        d("a/"), f("a/.wh.1"),
        d("c/"), f("c/new"), f("c/.wh..wh..opq"),
        f("missing/.wh..wh..opq"),  # its directory is created
        f("deep/er/.wh.x"),
    ])
    assert listing(tmp_path) == [
        ("a", "d"), ("a/1", "w"), ("b", "w"), ("c", "o"), ("c/new", "-"),
        ("deep", "d"), ("deep/er", "d"), ("deep/er/x", "w"), ("missing", "o"),
    ]
    st = os.lstat(tmp_path / "b")
    assert (stat.S_IMODE(st.st_mode), st.st_uid, st.st_gid, st.st_mtime) == (0, 3, 4, 77)


def test_copy_whiteouts_delete(tmp_path: Path, apply_tar: Apply) -> None:
    apply_tar(tmp_path, LOWER, whiteouts="copy")
    apply_tar(tmp_path, [
        f(".wh.b"), f("a/.wh.1"),
        d("c/"), d("c/sub/"), f("c/sub/new"),  # written before the marker: they stay
        f("c/.wh..wh..opq"),
        f(".wh.e"),  # a whole directory
        f(".wh.nothing"),  # nothing to delete: no error
    ], whiteouts="copy")
    assert listing(tmp_path) == [
        ("a", "d"), ("a/2", "-"), ("c", "d"), ("c/sub", "d"), ("c/sub/new", "-")
    ]


def test_copy_opaque_keeps_implicit_parents_of_written_entries(tmp_path: Path,
                                                                apply_tar: Apply) -> None:
    apply_tar(tmp_path, LOWER, whiteouts="copy")
    apply_tar(tmp_path, [f("c/sub/new"), f("c/.wh..wh..opq")], whiteouts="copy")
    assert listing(tmp_path) == [
        ("a", "d"), ("a/1", "-"), ("a/2", "-"), ("b", "-"),
        ("c", "d"), ("c/sub", "d"), ("c/sub/new", "-"), ("e", "d"), ("e/old", "-"),
    ]


def test_whiteout_of_this_layers_file_hides_only_lower_content(tmp_path: Path,
                                                               apply_tar: Apply) -> None:
    for mode in ("overlay", "copy"):
        target = tmp_path / mode
        target.mkdir()
        apply_tar(target, [d("e/"), f("e/old")], whiteouts=mode)
        apply_tar(target, [f("x", b"mine"), f(".wh.x"), d("e/"), f("e/new"), f(".wh.e")],
                  whiteouts=mode)
        if mode == "copy":
            assert listing(target) == [("e", "d"), ("e/new", "-"), ("x", "-")]
        else:  # the lower e/old is hidden by making e opaque
            assert listing(target) == [("e", "o"), ("e/new", "-"), ("e/old", "-"), ("x", "-")]


def test_whiteout_then_recreate_in_the_same_layer(tmp_path: Path, apply_tar: Apply) -> None:
    overlay, copy = tmp_path / "o", tmp_path / "c"
    overlay.mkdir()
    copy.mkdir()
    apply_tar(overlay, [f(".wh.e"), d("e/"), f("e/new")])
    assert listing(overlay) == [("e", "o"), ("e/new", "-")]
    apply_tar(copy, [d("e/"), f("e/old")], whiteouts="copy")
    apply_tar(copy, [f(".wh.e"), d("e/"), f("e/new")], whiteouts="copy")
    assert listing(copy) == [("e", "d"), ("e/new", "-")]


def test_opaque_root(tmp_path: Path, apply_tar: Apply) -> None:
    apply_tar(tmp_path, LOWER, whiteouts="copy")
    apply_tar(tmp_path, [f("keep"), f(".wh..wh..opq")], whiteouts="copy")
    assert listing(tmp_path) == [("keep", "-")]


def test_whiteout_removes_a_symlink_not_its_target(tmp_path: Path, apply_tar: Apply) -> None:
    target, outside = tmp_path / "t", tmp_path / "outside"
    target.mkdir()
    outside.mkdir()
    (outside / "keep").write_bytes(b"k")
    apply_tar(target, [sym("link", str(outside))], whiteouts="copy")
    apply_tar(target, [f(".wh.link")], whiteouts="copy")
    assert (os.listdir(target), os.listdir(outside)) == ([], ["keep"])


def test_whiteout_through_a_symlink_is_a_breakout(tmp_path: Path, apply_tar: Apply) -> None:
    target, outside = tmp_path / "t", tmp_path / "outside"
    target.mkdir()
    outside.mkdir()
    (outside / "keep").write_bytes(b"k")
    apply_tar(target, [sym("link", str(outside))], whiteouts="copy")
    for entry in ("link/.wh.keep", "link/.wh..wh..opq"):
        with pytest.raises(Breakout, match=f"entry '{entry}' goes through the symlink 'link'"):
            apply_tar(target, [f(entry)], whiteouts="copy")
    assert os.listdir(outside) == ["keep"]


def test_whiteout_entries_never_appear_as_files(tmp_path: Path, apply_tar: Apply) -> None:
    apply_tar(tmp_path, [f(".wh.x"), f("d/.wh..wh..opq"), f("d/.wh.y")], whiteouts="copy")
    assert listing(tmp_path) == [("d", "d")]


def test_whiteout_of_a_very_deep_tree(tmp_path: Path, apply_tar: Apply) -> None:
    path = tmp_path / "deep"
    path.mkdir()
    for _ in range(1500):  # deeper than Python's recursion limit
        path = path / "d"
        path.mkdir()
    apply_tar(tmp_path, [f(".wh.deep")], whiteouts="copy")
    assert os.listdir(tmp_path) == []
