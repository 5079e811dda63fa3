"""rmi and image prune with dockerd's semantics, and the garbage they leave (none)."""

from __future__ import annotations

import io
import threading

import pytest

from dockyard.errors import Conflict, NotFound
from dockyard.gc import Roots
from dockyard.services.images import ImageService, ImageUser
from dockyard.store import DataRoot

from .conftest import Clock, FakeContainers, import_tar, rootfs

pytestmark = pytest.mark.root


def _empty(root: DataRoot) -> None:
    assert root.images.records() == []
    assert list(root.content.walk()) == []
    assert root.snapshotter.walk() == []


def _layer(service: ImageService, name: str) -> str:
    return str(service.get(name).facts.layers[-1].chain_id)


def test_untag_one_name_then_delete_with_the_last(service: ImageService,
                                                  data_root: DataRoot) -> None:
    image = import_tar(service, {"f": b"1"}, "docker.io/library/busybox")
    layer = _layer(service, "busybox")
    service.tag("busybox", "docker.io/tracetest/bb", "v1")
    assert service.delete("tracetest/bb:v1") == [{"Untagged": "tracetest/bb:v1"}]
    assert service.delete("busybox") == [
        {"Untagged": "busybox:latest"}, {"Deleted": str(image)}, {"Deleted": layer}]
    _empty(data_root)


def test_delete_by_id(service: ImageService, data_root: DataRoot) -> None:
    image = import_tar(service, {"f": b"1"}, "docker.io/library/app")
    service.tag("app", "docker.io/library/other")
    with pytest.raises(Conflict) as caught:
        service.delete(image.encoded[:12])
    assert str(caught.value) == (
        f"conflict: unable to delete {image.encoded[:12]} (must be forced) - image is"
        " referenced in multiple repositories")
    service.tag("app", "docker.io/library/app", "v2")  # two tags of one repository: also refused
    service.delete("other")
    with pytest.raises(Conflict):
        service.delete(image.encoded[:12])
    layer = _layer(service, str(image))
    assert service.delete(image.encoded[:12], force=True) == [
        {"Untagged": "app:latest"}, {"Untagged": "app:v2"}, {"Deleted": str(image)},
        {"Deleted": layer}]
    _empty(data_root)


def test_delete_a_single_name_by_id(service: ImageService, data_root: DataRoot) -> None:
    image = import_tar(service, {"f": b"1"}, "docker.io/library/app")
    layer = _layer(service, str(image))
    assert service.delete(str(image)) == [
        {"Untagged": "app:latest"}, {"Deleted": str(image)}, {"Deleted": layer}]
    _empty(data_root)


def test_delete_dangling_by_id(service: ImageService, data_root: DataRoot) -> None:
    image = import_tar(service, {"f": b"1"})
    layer = _layer(service, str(image))
    assert service.delete(image.encoded[:4]) == [{"Deleted": str(image)}, {"Deleted": layer}]
    _empty(data_root)


def test_shared_layers_stay(service: ImageService, data_root: DataRoot) -> None:
    one = import_tar(service, {"f": b"1"}, "docker.io/library/one")
    import_tar(service, {"f": b"1"}, "docker.io/library/two")
    assert service.delete("one") == [{"Untagged": "one:latest"}, {"Deleted": str(one)}]
    assert service.list_images()[0]["RepoTags"] == ["two:latest"]
    assert service.inspect("two")["Size"] == 1
    service.delete("two")
    _empty(data_root)


def test_missing(service: ImageService) -> None:
    with pytest.raises(NotFound) as caught:
        service.delete("nosuchimage")
    assert str(caught.value) == "No such image: nosuchimage:latest"


def test_containers_block_deletion(data_root: DataRoot, containers: FakeContainers) -> None:
    service = ImageService(data_root, containers=containers,
                           gc_roots=lambda: Roots(snapshots=frozenset({"ctr-1"})))
    image = import_tar(service, {"f": b"1"}, "docker.io/library/app")
    data_root.snapshotter.prepare("ctr-1", _layer(service, "app"))  # the container's rootfs
    short = image.encoded[:12]
    containers.users[image] = [ImageUser("c" * 64, running=False)]
    with pytest.raises(Conflict) as caught:
        service.delete("app")
    assert str(caught.value) == (
        f'conflict: unable to remove repository reference "app" (must force) - container'
        f" cccccccccccc is using its referenced image {short}")
    with pytest.raises(Conflict, match="image is being used by stopped container cccccccccccc"):
        service.delete(short)
    containers.users[image] = [ImageUser("d" * 64, running=True)]
    # forced: the name goes; the image stays, dangling, as a running container uses it
    assert service.delete("app", force=True) == [{"Untagged": "app:latest"}]
    assert service.list_images()[0]["RepoTags"] == ["<none>:<none>"]
    with pytest.raises(Conflict) as caught:
        service.delete(short, force=True)
    assert str(caught.value) == (
        f"conflict: unable to delete {short} (cannot be forced) - image is being used by"
        " running container dddddddddddd")
    containers.users[image] = [ImageUser("d" * 64, running=False)]
    # a stopped container does not stop a forced delete; its rootfs keeps the layer
    assert service.delete(short, force=True) == [{"Deleted": str(image)}]
    assert [i.name for i in data_root.snapshotter.walk()] == ["ctr-1", _chain(data_root)]


def _chain(root: DataRoot) -> str:
    return root.snapshotter.stat("ctr-1").parent


def test_gc_holds_what_every_source_holds(data_root: DataRoot,
                                          containers: FakeContainers) -> None:
    # the constructor's source (containers) and one added later (the build cache), as wired
    service = ImageService(data_root, containers=containers,
                           gc_roots=lambda: Roots(snapshots=frozenset({"ctr-1"})))
    service.add_gc_roots(lambda: Roots(snapshots=frozenset({"cache-1"})))
    assert service.gc_roots() == Roots(snapshots=frozenset({"ctr-1", "cache-1"}))
    image = import_tar(service, {"f": b"1"}, "docker.io/library/app")
    layer = _layer(service, "app")
    for key in ("ctr-1", "cache-1", "loose"):
        data_root.snapshotter.prepare(key, layer)
    assert service.delete("app") == [{"Untagged": "app:latest"}, {"Deleted": str(image)}]
    assert sorted(i.name for i in data_root.snapshotter.walk()) == sorted(
        ["cache-1", "ctr-1", layer])


def test_prune_dangling(service: ImageService, data_root: DataRoot) -> None:
    dangling = import_tar(service, {"f": b"123"})
    layer = _layer(service, str(dangling))
    import_tar(service, {"g": b"1"}, "docker.io/library/kept")
    assert service.prune() == {
        "ImagesDeleted": [{"Deleted": str(dangling)}, {"Deleted": layer}],
        "SpaceReclaimed": 3,
    }
    assert [i["RepoTags"] for i in service.list_images()] == [["kept:latest"]]
    assert service.prune() == {"ImagesDeleted": None, "SpaceReclaimed": 0}


def test_prune_all_unused(service: ImageService, data_root: DataRoot,
                          containers: FakeContainers) -> None:
    used = import_tar(service, {"u": b"1"}, "docker.io/library/used")
    import_tar(service, {"g": b"12"}, "docker.io/library/kept", changes=("LABEL keep=1",))
    gone = import_tar(service, {"h": b"123"}, "docker.io/library/gone")
    layer = _layer(service, str(gone))
    containers.users[used] = [ImageUser("e" * 64, running=True)]
    assert service.prune({"dangling": ["false"], "label!": ["keep"]}) == {
        "ImagesDeleted": [{"Untagged": "gone:latest"}, {"Deleted": str(gone)},
                          {"Deleted": layer}],
        "SpaceReclaimed": 3,
    }
    assert sorted(i["RepoTags"][0] for i in service.list_images()) == [
        "kept:latest", "used:latest"]


def test_prune_until(data_root: DataRoot) -> None:
    clock = Clock()
    service = ImageService(data_root, clock)
    image = service.import_image(io.BytesIO(rootfs({"f": b"1"})))
    created = service.get(str(image)).facts.created.unix
    clock.now = created + 30
    assert service.prune({"until": ["1m"]})["ImagesDeleted"] is None
    clock.now = created + 120
    assert service.prune({"until": ["1m"]})["ImagesDeleted"] is not None


class _Gate(io.RawIOBase):
    """A stream that blocks until released, then yields ``data``."""

    def __init__(self, data: bytes) -> None:
        self.data = data
        self.opened = threading.Event()
        self.release = threading.Event()

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
        self.opened.set()
        self.release.wait(30)
        n = min(len(buffer), len(self.data))
        buffer[:n] = self.data[:n]
        self.data = self.data[n:]
        return n


def test_gc_waits_for_running_imports(service: ImageService, data_root: DataRoot) -> None:
    import_tar(service, {"old": b"1"}, "docker.io/library/old")
    gate = _Gate(rootfs({"new": b"2"}))
    result: list[object] = []
    worker = threading.Thread(
        target=lambda: result.append(service.import_image(gate, repo="docker.io/library/new")))
    worker.start()
    try:
        assert gate.opened.wait(30)
        service.delete("old")  # its gc is put off until the import ends
        assert len(list(data_root.content.walk())) >= 3
    finally:
        gate.release.set()
        worker.join(30)
    assert [i["RepoTags"] for i in service.list_images()] == [["new:latest"]]
    assert len(list(data_root.content.walk())) == 3  # layer, config, manifest of "new"
    assert len(data_root.snapshotter.walk()) == 1
