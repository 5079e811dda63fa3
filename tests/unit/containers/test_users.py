"""Config.User resolved in the image's files, never through a link out of the root."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from dockyard.containers.users import ExecUser, open_in_root, resolve
from dockyard.errors import InvalidArgument

PASSWD = "root:x:0:0:root:/root:/bin/sh\nbob:x:1000:1000::/home/bob:/bin/sh\n"
GROUP = "root:x:0:\nbob:x:1000:\nwheel:x:10:bob,eve\naudio:x:29:\n"


@pytest.fixture
def root(tmp_path: Path) -> Path:
    (tmp_path / "etc").mkdir()
    (tmp_path / "etc" / "passwd").write_text(PASSWD)
    (tmp_path / "etc" / "group").write_text(GROUP)
    return tmp_path


@pytest.mark.parametrize(("user", "expected"), [
    ("", ExecUser(0, 0, (0,), "/root")),
    ("bob", ExecUser(1000, 1000, (1000, 10), "/home/bob")),
    ("1000", ExecUser(1000, 1000, (1000, 10), "/home/bob")),
    ("bob:audio", ExecUser(1000, 29, (29,), "/home/bob")),
    ("4242", ExecUser(4242, 0, (0,), "/")),
    ("4242:4343", ExecUser(4242, 4343, (4343,), "/")),
])
def test_resolve(root: Path, user: str, expected: ExecUser) -> None:
    assert resolve(str(root), user) == expected


def test_group_add(root: Path) -> None:
    assert resolve(str(root), "", ["audio", "77"]).additional_gids == (0, 29, 77)


def test_unknown(root: Path) -> None:
    with pytest.raises(InvalidArgument, match="unable to find user nobody"):
        resolve(str(root), "nobody")
    with pytest.raises(InvalidArgument, match="unable to find group nogroup"):
        resolve(str(root), "bob:nogroup")


def test_links_stay_inside(tmp_path: Path) -> None:
    root = tmp_path / "root"
    (root / "etc").mkdir(parents=True)
    secret = tmp_path / "secret"
    secret.write_text("bob:x:0:0::/:/bin/sh\n")
    os.symlink(str(secret), root / "etc" / "passwd")  # absolute: means root/<tmp>/secret
    assert open_in_root(str(root), "/etc/passwd") is None
    os.unlink(root / "etc" / "passwd")
    os.symlink("../../../../../../secret", root / "etc" / "passwd")
    assert open_in_root(str(root), "/etc/passwd") is None
    (root / "secret").write_text("inside\n")
    fd = open_in_root(str(root), "/etc/passwd")
    assert fd is not None
    with os.fdopen(fd) as handle:
        assert handle.read() == "inside\n"
    with pytest.raises(InvalidArgument, match="unable to find user bob"):
        resolve(str(root), "bob")


def test_link_loop(tmp_path: Path) -> None:
    (tmp_path / "etc").mkdir()
    os.symlink("passwd", tmp_path / "etc" / "passwd")
    with pytest.raises(InvalidArgument, match="too many levels"):
        open_in_root(str(tmp_path), "/etc/passwd")
