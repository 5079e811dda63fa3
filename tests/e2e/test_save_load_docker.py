"""Archives exchanged with the real dockerd (20.10 here): what it saves loads here with the same
image IDs, and what dockyard saves, ``docker load`` takes with the same IDs and tags.

Needs dockerd on /var/run/docker.sock (``bash bench/setup.sh`` starts it), the docker CLI and a
static busybox; skipped, with the reason, without them. Every image made in dockerd carries a
random repository name and is removed by name, however the test ends.
"""

from __future__ import annotations

import gzip
import io
import json
import os
import secrets
import shutil
import subprocess
import tarfile
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from dockyard.images.load import Loaded, load_images
from dockyard.images.save import SaveItem, save_images
from dockyard.mount import mount_all, unmount
from dockyard.oci.config import ImageConfig
from dockyard.oci.digest import Digest
from dockyard.oci.manifest import Manifest
from dockyard.store import DataRoot
from dockyard.sys import real

pytestmark = [pytest.mark.root, pytest.mark.slow]

SOCKET = Path("/var/run/docker.sock")
DOCKER = shutil.which("docker") or "/usr/local/bin/docker"
BUSYBOX = shutil.which("busybox")

Docker = Callable[..., str]


@pytest.fixture(scope="module")
def docker() -> Docker:
    if not SOCKET.exists():
        pytest.skip(f"dockerd is not running ({SOCKET} is absent; bash bench/setup.sh starts it)")
    if not os.path.exists(DOCKER):
        pytest.skip(f"the docker CLI is not installed at {DOCKER}")
    if BUSYBOX is None:
        pytest.skip("no busybox binary on this host to build a test image from")

    def run(*args: str, stdin: bytes | None = None, env: dict[str, str] | None = None) -> str:
        result = subprocess.run([DOCKER, *args], input=stdin, capture_output=True, timeout=300,
                                env={**os.environ, **(env or {})}, check=False)
        if result.returncode != 0:
            raise AssertionError(f"docker {' '.join(args)}: {result.stderr.decode()}")
        return result.stdout.decode()

    try:
        run("version", "--format", "{{.Server.Version}}")
    except (AssertionError, subprocess.TimeoutExpired) as exc:
        pytest.skip(f"dockerd does not answer on {SOCKET}: {exc}")
    return run


@pytest.fixture
def names(docker: Docker) -> Iterator[list[str]]:
    """Names of images the test makes in dockerd; each is removed at the end."""
    made: list[str] = []
    try:
        yield made
    finally:
        for name in made:
            subprocess.run([DOCKER, "rmi", "-f", name], capture_output=True, timeout=120,
                           check=False)


@pytest.fixture
def root(tmp_path: Path) -> Iterator[DataRoot]:
    data_root = DataRoot(tmp_path / "root", real(), snapshotter="auto")
    try:
        yield data_root
    finally:
        data_root.close()


def busybox_tar() -> bytes:
    assert BUSYBOX is not None
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        for name in ("bin", "etc"):
            info = tarfile.TarInfo(name)
            info.type, info.mode, info.mtime = tarfile.DIRTYPE, 0o755, 1_700_000_000
            tar.addfile(info)
        tar.add(BUSYBOX, "bin/busybox")
        link = tarfile.TarInfo("bin/sh")
        link.type, link.linkname, link.mtime = tarfile.SYMTYPE, "busybox", 1_700_000_000
        tar.addfile(link)
        passwd = b"root:x:0:0:root:/root:/bin/sh\n"
        info = tarfile.TarInfo("etc/passwd")
        info.size, info.mode, info.mtime = len(passwd), 0o644, 1_700_000_000
        tar.addfile(info, io.BytesIO(passwd))
    return buf.getvalue()


def docker_id(docker: Docker, name: str) -> Digest:
    return Digest.parse(docker("images", "--no-trunc", "-q", name).strip())


def docker_layers(docker: Docker, name: str) -> list[str]:
    return list(json.loads(docker("image", "inspect", "--format", "{{json .RootFS.Layers}}",
                                  name)))


def config_of(root: DataRoot, name: str) -> ImageConfig:
    manifest = Manifest.from_json(root.content.read_bytes(root.images.get(name).target.digest))
    return ImageConfig.from_json(root.content.read_bytes(manifest.config.digest))


def read_in_image(root: DataRoot, config: ImageConfig, path: str, where: Path) -> bytes:
    where.mkdir()
    mount_all(root.snapshotter.view("e2e-view", str(config.chain_id())), str(where), real())
    try:
        return (where / path).read_bytes()
    finally:
        unmount(str(where), real())
        where.rmdir()
        root.snapshotter.remove("e2e-view")


def build_in_docker(docker: Docker, names: list[str], tmp_path: Path, repo: str) -> str:
    """An imported busybox base and a three-layer image on it; returns the latter's name."""
    base, image = f"{repo}/base:1", f"{repo}/multi:1"
    names.extend([image, base])
    docker("import", "-", base, stdin=busybox_tar())
    context = tmp_path / "context"
    context.mkdir()
    (context / "f1").write_text("hello\n")
    (context / "f2").write_text("world\n")
    (context / "Dockerfile").write_text(
        f"FROM {base}\nCOPY f1 /a/f1\nCOPY f2 /b/f2\nENV X=1\nCMD [\"/bin/sh\"]\n")
    docker("build", "-q", "-t", image, str(context), env={"DOCKER_BUILDKIT": "0"})
    return image


def test_load_what_dockerd_saved_then_give_it_back(
    docker: Docker, names: list[str], root: DataRoot, tmp_path: Path
) -> None:
    repo = f"dyk-e2e-{secrets.token_hex(4)}"
    image = build_in_docker(docker, names, tmp_path, repo)
    base = f"{repo}/base:1"
    archive = tmp_path / "from-docker.tar"
    docker("save", "-o", str(archive), image, base)
    ids = {image: docker_id(docker, image), base: docker_id(docker, base)}
    with archive.open("rb") as stream:
        loaded = load_images(root, stream)
    assert sorted(loaded, key=lambda item: str(item.name)) == sorted(
        [Loaded(f"docker.io/{name}", ids[name]) for name in ids], key=lambda item: str(item.name))
    config = config_of(root, f"docker.io/{image}")
    assert [str(d) for d in config.diff_ids] == docker_layers(docker, image)
    assert read_in_image(root, config, "a/f1", tmp_path / "view") == b"hello\n"

    out = tmp_path / "from-dockyard.tar"
    with out.open("wb") as stream:
        save_images(root, [SaveItem(root.images.get(f"docker.io/{image}").target.digest,
                                    (image,))], stream)
    docker("rmi", image)
    assert "Loaded image: " + image in docker("load", "-i", str(out))
    assert docker_id(docker, image) == ids[image]


def test_dockerd_loads_what_dockyard_saved(
    docker: Docker, names: list[str], root: DataRoot, tmp_path: Path
) -> None:
    repo = f"dyk-e2e-{secrets.token_hex(4)}"
    first, second = f"{repo}/bb:1", f"localhost:5000/{repo}/bb:latest"
    names.extend([first, second])
    result = root.import_rootfs(io.BytesIO(gzip.compress(busybox_tar())), first)
    archive = tmp_path / "saved.tar"
    with archive.open("wb") as stream:
        save_images(root, [SaveItem(result.manifest, (first, second))], stream)
    output = docker("load", "-i", str(archive))
    assert output.splitlines() == [f"Loaded image: {first}", f"Loaded image: {second}"]
    for name in (first, second):
        assert docker_id(docker, name) == result.image_id
    config = config_of(root, result.name)
    assert docker_layers(docker, first) == [str(d) for d in config.diff_ids]
