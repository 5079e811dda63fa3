"""Malicious layers: no entry may create, write, chmod, chown, utime or delete outside the target.

Every test applies a hand-made tar to ``scene.target`` and then checks, besides the error or the
safe result, that the sentinel directory beside the target is exactly as it was.
"""

from __future__ import annotations

import os
import tarfile
from collections.abc import Callable

import pytest

from dockyard.errors import Breakout

from .conftest import Scene, d, f, hard, member, sym

pytestmark = pytest.mark.root

Apply = Callable[..., object]


def test_dotdot_is_a_breakout(scene: Scene, apply_tar: Apply) -> None:
    for name in ("../outside/secret", "a/../../outside/secret", "../x"):
        with pytest.raises(Breakout, match=f"layer test: entry '{name}' points outside"):
            apply_tar(scene.target, [f(name, b"evil")])
    scene.assert_outside_unchanged()


def test_absolute_paths_land_inside(scene: Scene, apply_tar: Apply) -> None:
    apply_tar(scene.target, [f(str(scene.outside / "secret"), b"inside"), f("/abs", b"a"),
                             f("/../up", b"u")])
    inner = scene.target / str(scene.outside / "secret").lstrip("/")
    assert (inner.read_bytes(), (scene.target / "abs").read_bytes()) == (b"inside", b"a")
    assert (scene.target / "up").read_bytes() == b"u"
    scene.assert_outside_unchanged()


def test_symlink_to_root_then_a_path_through_it(scene: Scene, apply_tar: Apply) -> None:
    through = "a/" + str(scene.outside / "secret").lstrip("/")
    with pytest.raises(Breakout, match=f"entry '{through}' goes through the symlink 'a'"):
        apply_tar(scene.target, [sym("a", "/"), f(through, b"evil")])
    with pytest.raises(Breakout, match="entry 'a/etc/passwd' goes through the symlink 'a'"):
        apply_tar(scene.target, [sym("a", "/"), f("a/etc/passwd", b"evil")])
    scene.assert_outside_unchanged()


def test_symlink_to_parent_then_a_path_through_it(scene: Scene, apply_tar: Apply) -> None:
    for members in (
        [sym("a", ".."), f("a/outside/secret", b"evil")],
        [sym("a", "b"), sym("b", ".."), f("a/x")],
        [d("x/"), sym("x/up", "../.."), d("x/up/outside/"), f("x/up/outside/new")],
        [sym("a", ".."), hard("a/outside/new", "x")],
        [sym("a", ".."), sym("a/outside/new", "/")],
        [sym("a", ".."), (member("a/outside/fifo", tarfile.FIFOTYPE), None)],
        [sym("a", str(scene.outside)), d("a/dir/", mode=0o777, mtime=5)],
    ):
        with pytest.raises(Breakout, match="goes through the symlink"):
            apply_tar(scene.target, members)
    scene.assert_outside_unchanged()


def test_symlink_from_an_earlier_layer_in_copy_mode(scene: Scene, apply_tar: Apply) -> None:
    apply_tar(scene.target, [sym("planted", str(scene.outside)), sym("rel", "../outside")],
              whiteouts="copy")
    for members in (
        [f("planted/secret", b"evil")],
        [f("rel/new", b"evil")],
        [d("planted/dir/", mode=0o777)],
        [f("planted/.wh.secret")],
        [f("planted/dir/.wh..wh..opq")],
        [f("ok"), hard("h", "planted/secret")],
    ):
        with pytest.raises(Breakout, match="goes through the symlink"):
            apply_tar(scene.target, members, whiteouts="copy")
    scene.assert_outside_unchanged()


def test_hardlink_outside_is_a_breakout(scene: Scene, apply_tar: Apply) -> None:
    before = os.stat("/etc/passwd")
    for link in ("../../etc/passwd", "../outside/secret", "a/../../outside/secret"):
        with pytest.raises(Breakout, match=f"hardlink 'h' to '{link}' points outside the target"):
            apply_tar(scene.target, [hard("h", link, mode=0o777, uid=1234)])
    assert os.stat("/etc/passwd") == before
    scene.assert_outside_unchanged()


def test_hardlink_through_a_symlinked_parent(scene: Scene, apply_tar: Apply) -> None:
    for members in (
        [sym("l", str(scene.outside)), hard("h", "l/secret", mode=0o777, uid=1234)],
        [sym("l", ".."), hard("h", "l/outside/secret", mode=0o777)],
        [sym("l", "/"), hard("h", "l/etc/passwd")],
    ):
        with pytest.raises(Breakout, match="entry 'h' goes through the symlink 'l'"):
            apply_tar(scene.target, members)
    scene.assert_outside_unchanged()


def test_hardlink_to_a_symlink_links_the_symlink(scene: Scene, apply_tar: Apply) -> None:
    secret = str(scene.outside / "secret")
    apply_tar(scene.target, [sym("s", secret), hard("h", "s", mode=0o777, uid=1234, mtime=9)])
    assert (os.readlink(scene.target / "h"), os.lstat(scene.target / "h").st_uid) == (secret, 1234)
    scene.assert_outside_unchanged()


def test_final_symlink_is_replaced_not_written_through(scene: Scene, apply_tar: Apply) -> None:
    secret = str(scene.outside / "secret")
    apply_tar(scene.target, [
        sym("file", secret), f("file", b"replaced", mode=0o777, uid=1234, mtime=3),
        sym("dir", str(scene.outside / "dir")), d("dir/", mode=0o777, uid=1234, mtime=3),
        sym("fifo", secret), (member("fifo", tarfile.FIFOTYPE, mode=0o777), None),
        sym("sym", secret), sym("sym", "/elsewhere", uid=1234, mtime=3),
        sym("node", secret), (member("node", tarfile.CHRTYPE, devmajor=1, devminor=3), None),
    ])
    assert (scene.target / "file").read_bytes() == b"replaced"
    assert not (scene.target / "dir").is_symlink() and (scene.target / "dir").is_dir()
    assert os.readlink(scene.target / "sym") == "/elsewhere"
    scene.assert_outside_unchanged()


def test_symlink_metadata_never_follows(scene: Scene, apply_tar: Apply) -> None:
    apply_tar(scene.target, [
        sym("s", str(scene.outside / "secret"), uid=1234, gid=99, mtime=3, mode=0o777,
            pax_headers={"SCHILY.xattr.trusted.evil": "x", "SCHILY.xattr.user.evil": "x"}),
    ])
    assert os.lstat(scene.target / "s").st_uid == 1234
    scene.assert_outside_unchanged()


def test_directory_replaced_by_a_symlink_then_a_file_under_it(scene: Scene,
                                                              apply_tar: Apply) -> None:
    with pytest.raises(Breakout, match="entry 'd/x' goes through the symlink 'd'"):
        apply_tar(scene.target, [d("d/"), f("d/ok"), sym("d", str(scene.outside)),
                                 f("d/x", b"evil")])
    with pytest.raises(Breakout, match="entry 'd/sub/x' goes through the symlink 'd'"):
        apply_tar(scene.target, [d("d/"), d("d/sub/"), sym("d", "../outside/dir/.."),
                                 f("d/sub/x", b"evil")])
    scene.assert_outside_unchanged()


def test_deferred_directory_metadata_never_follows(scene: Scene, apply_tar: Apply) -> None:
    # The directory's mode and mtime are set at the end: by then it is a symlink.
    apply_tar(scene.target, [d("d/", mode=0o777, mtime=5), sym("d", str(scene.outside / "dir"))])
    assert os.readlink(scene.target / "d") == str(scene.outside / "dir")
    scene.assert_outside_unchanged()


def test_opaque_through_a_symlink_in_overlay_mode(scene: Scene, apply_tar: Apply) -> None:
    with pytest.raises(Breakout, match="goes through the symlink 'l'"):
        apply_tar(scene.target, [sym("l", str(scene.outside)), f("l/.wh..wh..opq")])
    with pytest.raises(Breakout, match="goes through the symlink 'l'"):
        apply_tar(scene.target, [sym("l", str(scene.outside)), f("l/.wh.secret")])
    scene.assert_outside_unchanged()
