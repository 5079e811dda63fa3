"""A real data root on both snapshotters, an image service over it, and rootfs tars."""

from __future__ import annotations

import io
import tarfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from dockyard.oci.digest import Digest
from dockyard.services.images import ImageService, ImageUser
from dockyard.store import DataRoot
from dockyard.sys import real


def rootfs(files: dict[str, bytes]) -> bytes:
    """A tar of regular files (mode 0644, a fixed mtime) with their parent directories."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
        dirs = sorted({n.rsplit("/", i)[0] for n in files for i in range(1, n.count("/") + 1)})
        for name in dirs:
            info = tarfile.TarInfo(name)
            info.type, info.mode, info.mtime = tarfile.DIRTYPE, 0o755, 1_700_000_000
            tar.addfile(info)
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size, info.mode, info.mtime = len(data), 0o644, 1_700_000_000
            tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


@dataclass
class FakeContainers:
    """Containers using images, as the container service would report them."""

    users: dict[Digest, list[ImageUser]] = field(default_factory=dict)

    def containers_using(self, image_id: Digest) -> list[ImageUser]:
        return list(self.users.get(image_id, []))


@dataclass
class Clock:
    now: float = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture(params=["overlayfs", "native"])
def data_root(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[DataRoot]:
    root = DataRoot(tmp_path / "root", real(), snapshotter=request.param)
    try:
        yield root
    finally:
        root.close()


@pytest.fixture
def containers() -> FakeContainers:
    return FakeContainers()


@pytest.fixture
def service(data_root: DataRoot, containers: FakeContainers) -> ImageService:
    return ImageService(data_root, containers=containers)


def import_tar(service: ImageService, files: dict[str, bytes], repo: str = "", tag: str = "",
               changes: tuple[str, ...] = (), message: str = "") -> Digest:
    stream = io.BytesIO(rootfs(files))
    return service.import_image(stream, repo=repo, tag=tag, changes=changes, message=message)
