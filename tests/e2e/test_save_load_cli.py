"""``docker save`` / ``docker load`` with the real docker CLI 28: between dockyardd and itself, and
between dockyardd and a real dockerd 20.10 (skipped, with the reason, when none answers)."""

from __future__ import annotations

import io
import os
import subprocess
import tarfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from .conftest import Daemon, docker

pytestmark = [pytest.mark.root, pytest.mark.slow]

DOCKER = "/usr/local/bin/docker"
DOCKERD_SOCK = Path("/var/run/docker.sock")
TAG = "dockyard-e2e/saveload:v1"


def _rootfs() -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        for name, data in (("etc/hello", b"hello\n"), ("bin/tool", os.urandom(4096))):
            info = tarfile.TarInfo(name)
            info.size = len(data)
            info.mtime = 1_700_000_000
            tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def _dockerd(*args: str, stdin: bytes | None = None) -> subprocess.CompletedProcess[bytes]:
    env = {**os.environ, "DOCKER_HOST": f"unix://{DOCKERD_SOCK}"}
    return subprocess.run(
        [DOCKER, *args], input=stdin, capture_output=True, env=env, timeout=120, check=False
    )


@pytest.fixture
def dockerd() -> Iterator[None]:
    if not DOCKERD_SOCK.exists() or _dockerd("version").returncode != 0:
        pytest.skip("no dockerd answers on /var/run/docker.sock (scripts/test starts one)")
    try:
        yield
    finally:
        _dockerd("rmi", "-f", TAG)




def test_round_trip_through_dockyardd_keeps_id_and_tag(daemon: Daemon, tmp_path: Path) -> None:
    code, out, err = docker(daemon, "import", "-", TAG, stdin=_rootfs())
    assert code == 0, err
    image_id = out.strip()
    archive = tmp_path / "a.tar"
    assert docker(daemon, "save", "-o", str(archive), TAG)[0] == 0
    assert docker(daemon, "rmi", TAG)[0] == 0
    code, out, err = docker(daemon, "load", "-i", str(archive))
    assert (code, out, err) == (0, f"Loaded image: {TAG}\n", "")
    assert docker(daemon, "images", "-q", "--no-trunc", TAG)[1] == f"{image_id}\n"


def test_dockerd_archive_loads_with_the_same_id(
    daemon: Daemon, dockerd: None, tmp_path: Path
) -> None:
    made = _dockerd("import", "-", TAG, stdin=_rootfs())
    assert made.returncode == 0, made.stderr
    image_id = made.stdout.decode().strip()
    archive = tmp_path / "from-dockerd.tar"
    assert _dockerd("save", "-o", str(archive), TAG).returncode == 0
    code, out, err = docker(daemon, "load", "-i", str(archive))
    assert (code, out) == (0, f"Loaded image: {TAG}\n"), err
    assert docker(daemon, "images", "-q", "--no-trunc", TAG)[1] == f"{image_id}\n"
    ours = docker(daemon, "image", "inspect", "-f", "{{json .RootFS}}", TAG)[1]
    theirs = _dockerd("image", "inspect", "-f", "{{json .RootFS}}", TAG).stdout.decode()
    assert ours == theirs


def test_our_archive_loads_into_dockerd_with_the_same_id(
    daemon: Daemon, dockerd: None, tmp_path: Path
) -> None:
    code, out, err = docker(daemon, "import", "-", TAG, stdin=_rootfs())
    assert code == 0, err
    image_id = out.strip()
    archive = tmp_path / "ours.tar"
    assert docker(daemon, "save", "-o", str(archive), TAG)[0] == 0
    _dockerd("rmi", "-f", TAG)
    loaded = _dockerd("load", "-i", str(archive))
    assert loaded.returncode == 0, loaded.stderr
    assert loaded.stdout.decode() == f"Loaded image: {TAG}\n"
    assert _dockerd("images", "-q", "--no-trunc", TAG).stdout.decode() == f"{image_id}\n"
