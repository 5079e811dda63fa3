"""The dockyard CLI and the docker CLI print the same for the same images in dockyardd.

The images are built by ``dockyard bootstrap busybox`` through the API. Columns that depend on
the second a command runs ("3 seconds ago") are normalised before comparing. The tests skip,
with the reason, while the daemon does not serve the image endpoints yet.
"""

from __future__ import annotations

import re
import shutil
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from .conftest import Daemon, docker
from .test_cli_system import dockyard

pytestmark = [pytest.mark.root, pytest.mark.slow]

_SPACES = re.compile(r" {2,}")
_AGO = re.compile(r"(Less than a second|About a minute|\d+ (second|minute)s?) ago\s*")


def _serves_images(daemon: Daemon) -> bool:
    with socket.socket(socket.AF_UNIX) as sock:
        sock.connect(str(daemon.socket))
        sock.sendall(b"GET /v1.41/images/json HTTP/1.1\r\nHost: d\r\nConnection: close\r\n\r\n")
        return sock.recv(64).startswith(b"HTTP/1.1 200")


@pytest.fixture
def busybox(daemon: Daemon) -> Iterator[Daemon]:
    if shutil.which("busybox") is None:
        pytest.skip("needs a static busybox (busybox-static)")
    if not _serves_images(daemon):
        pytest.skip("the daemon does not serve GET /images/json yet")
    code, out, err = dockyard(daemon, "bootstrap", "busybox", env={"SOURCE_DATE_EPOCH": "0"})
    assert code == 0, err
    assert re.fullmatch(r"sha256:[0-9a-f]{64}\n", out)
    yield daemon


def same(daemon: Daemon, *args: str) -> tuple[int, str, str]:
    ours = dockyard(daemon, *args)
    theirs = docker(daemon, *args)
    # "Less than a second ago" and "1 second ago" differ in width, which moves the table's
    # columns: compare with the relative time replaced and runs of spaces collapsed.
    normal = [(code, _SPACES.sub("  ", _AGO.sub("AGO ", out)), err.replace("docker", "dockyard"))
              for code, out, err in (ours, theirs)]
    assert normal[0] == normal[1]
    return ours


@pytest.mark.parametrize("args", [
    ("images",), ("images", "-q"), ("images", "--no-trunc"), ("images", "--digests"),
    ("images", "-a"), ("images", "busybox"), ("images", "--format", "{{json .}}"),
    ("images", "--format", "table {{.Repository}}\t{{.ID}}\t{{.Size}}"),
    ("image", "ls", "-f", "reference=busy*"), ("history", "busybox"),
    ("history", "--no-trunc", "-H=false", "busybox"), ("image", "inspect", "busybox"),
    ("image", "inspect", "-f", "{{.Config.Cmd}} {{.Config.Env}} {{json .RootFS}}", "busybox"),
    ("image", "inspect", "nosuch"), ("rmi", "nosuch"), ("system", "df"),
])
def test_same_output(busybox: Daemon, args: tuple[str, ...]) -> None:
    same(busybox, *args)


def test_tag_and_rmi(busybox: Daemon) -> None:
    assert dockyard(busybox, "tag", "busybox", "example.com/a/b:v1") == (0, "", "")
    # docker orders the rows of one image's names by Go map iteration, which is random: compare
    # the header, then the rows as a sorted list.
    ours, theirs = dockyard(busybox, "images"), docker(busybox, "images")
    assert (ours[0], ours[2]) == (theirs[0], theirs[2]) == (0, "")
    rows = [_SPACES.sub("  ", _AGO.sub("AGO ", out)).splitlines() for out in (ours[1], theirs[1])]
    assert rows[0][0] == rows[1][0]
    assert sorted(rows[0][1:]) == sorted(rows[1][1:])
    assert len(rows[0]) == 3
    assert dockyard(busybox, "rmi", "example.com/a/b:v1") == (
        0, "Untagged: example.com/a/b:v1\n", "")


def test_save_load_round_trip_keeps_the_id(busybox: Daemon, tmp_path: Path) -> None:
    image_id = dockyard(busybox, "images", "-q", "--no-trunc", "busybox")[1]
    assert dockyard(busybox, "save", "-o", str(tmp_path / "bb.tar"), "busybox")[0] == 0
    assert dockyard(busybox, "rmi", "busybox")[0] == 0
    code, out, _ = dockyard(busybox, "load", "-i", str(tmp_path / "bb.tar"))
    assert (code, out) == (0, "Loaded image: busybox:latest\n")
    assert dockyard(busybox, "images", "-q", "--no-trunc", "busybox")[1] == image_id


def test_bootstrap_again_keeps_an_up_to_date_image(busybox: Daemon) -> None:
    """The same tar and configuration again: nothing imported, the same ID (what was built
    on it keeps its cache); another epoch makes another tar, which is imported."""
    first = dockyard(busybox, "images", "-q", "--no-trunc", "busybox")[1]
    code, out, err = dockyard(busybox, "bootstrap", "busybox", env={"SOURCE_DATE_EPOCH": "0"})
    assert (code, out, err) == (0, first, "busybox:latest is up to date\n")
    code, out, err = dockyard(busybox, "bootstrap", "busybox", env={"SOURCE_DATE_EPOCH": "7"})
    assert code == 0 and re.fullmatch(r"sha256:[0-9a-f]{64}\n", out) and out != first, err
