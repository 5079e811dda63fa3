"""The image service over a real data root: list, inspect, history, tag, import with changes."""

from __future__ import annotations

import io
import json
import time

import pytest

from dockyard.errors import InvalidArgument, NotFound
from dockyard.images.assemble import LayerBlob, write_image
from dockyard.images.store import Target
from dockyard.oci.config import ImageConfig
from dockyard.oci.manifest import Manifest
from dockyard.services.images import ImageService
from dockyard.store import DataRoot

from .conftest import import_tar, rootfs

pytestmark = pytest.mark.root

INSPECT_KEYS = [
    "Id", "RepoTags", "RepoDigests", "Parent", "Comment", "Created", "Container",
    "ContainerConfig", "DockerVersion", "Author", "Config", "Architecture", "Os", "Size",
    "VirtualSize", "GraphDriver", "RootFS", "Metadata",
]


def test_import_list_inspect_history(service: ImageService) -> None:
    image = import_tar(service, {"bin/sh": b"x" * 100, "etc/passwd": b"root\n"},
                       "docker.io/dyimg/a", "v1", changes=('CMD ["sh"]', "LABEL k=v"))
    [item] = service.list_images()
    assert item == {
        "Containers": -1, "Created": item["Created"], "Id": str(image), "Labels": {"k": "v"},
        "ParentId": "", "RepoDigests": None, "RepoTags": ["dyimg/a:v1"], "SharedSize": -1,
        "Size": 105, "VirtualSize": 105,
    }
    assert abs(item["Created"] - time.time()) < 60
    inspect = service.inspect("dyimg/a:v1")
    assert list(inspect) == INSPECT_KEYS
    assert inspect["Id"] == str(image)
    assert (inspect["RepoTags"], inspect["RepoDigests"]) == (["dyimg/a:v1"], [])
    assert inspect["Comment"] == "Imported from -"
    assert inspect["Config"]["Cmd"] == ["sh"]
    assert inspect["Config"]["Labels"] == {"k": "v"}
    assert inspect["ContainerConfig"]["Cmd"] is None
    assert (inspect["Size"], inspect["Os"]) == (105, "linux")
    assert inspect["RootFS"]["Type"] == "layers"
    assert len(inspect["RootFS"]["Layers"]) == 1
    assert inspect["Metadata"]["LastTagTime"].endswith("Z")
    assert service.history(image.encoded[:8]) == [{
        "Comment": "Imported from -", "Created": item["Created"], "CreatedBy": "",
        "Id": str(image), "Size": 105, "Tags": ["dyimg/a:v1"],
    }]
    json.dumps(inspect)  # plain JSON values only


def test_graph_driver(service: ImageService, data_root: DataRoot) -> None:
    import_tar(service, {"f": b"1"}, "docker.io/library/g")
    driver = service.inspect("g")["GraphDriver"]
    if data_root.snapshotter_name == "native":
        assert driver == {"Data": None, "Name": "vfs"}
    else:
        assert driver["Name"] == "overlay2"
        assert sorted(driver["Data"]) == ["MergedDir", "UpperDir", "WorkDir"]
        assert (driver["Data"]["UpperDir"] + "/f").endswith("/fs/f")
    assert [i.name for i in data_root.snapshotter.walk() if i.name.startswith("inspect")] == []


def test_untagged_import_is_dangling(service: ImageService) -> None:
    image = import_tar(service, {"f": b"12"}, message="from somewhere")
    [item] = service.list_images()
    assert (item["Id"], item["RepoTags"], item["RepoDigests"]) == (
        str(image), ["<none>:<none>"], ["<none>@<none>"])
    inspect = service.inspect(str(image))
    assert (inspect["RepoTags"], inspect["Comment"]) == ([], "from somewhere")
    assert inspect["Metadata"]["LastTagTime"] == "0001-01-01T00:00:00Z"
    assert service.history(str(image))[0]["Tags"] is None


def test_not_found_texts(service: ImageService) -> None:
    with pytest.raises(NotFound) as caught:
        service.inspect("nosuchimage")
    assert str(caught.value) == "no such image: nosuchimage: No such image: nosuchimage:latest"
    with pytest.raises(NotFound) as caught:
        service.history("nosuchimage")
    assert str(caught.value) == "No such image: nosuchimage:latest"
    with pytest.raises(InvalidArgument):
        service.inspect("UPPER")


def test_tag_keeps_names_fully_qualified_and_sorted(service: ImageService,
                                                    data_root: DataRoot) -> None:
    image = import_tar(service, {"f": b"1"}, "docker.io/library/busybox")
    assert service.tag("busybox", "docker.io/tracetest/bb", "v1") == "tracetest/bb:v1"
    named = service.tag(image.encoded[:5], "127.0.0.1:5001/auth/bb")
    assert named == "127.0.0.1:5001/auth/bb:latest"
    assert sorted(r.name for r in data_root.images.records()) == [
        "127.0.0.1:5001/auth/bb:latest", "docker.io/library/busybox:latest",
        "docker.io/tracetest/bb:v1"]
    assert service.inspect("busybox")["RepoTags"] == [
        "127.0.0.1:5001/auth/bb:latest", "busybox:latest", "tracetest/bb:v1"]
    with pytest.raises(NotFound, match="No such image: nosuch:latest"):
        service.tag("nosuch", "docker.io/library/x")
    with pytest.raises(InvalidArgument):
        service.tag("busybox", "docker.io/library/x", "bad tag")


def test_a_tag_already_in_place_writes_nothing(service: ImageService,
                                               data_root: DataRoot) -> None:
    image = import_tar(service, {"f": b"1"}, "docker.io/library/app")
    index = data_root.root / "images" / "index.json"
    before = index.stat()
    assert service.tag(str(image), "docker.io/library/app") == "app:latest"  # as a rebuild does
    after = index.stat()
    assert (after.st_ino, after.st_mtime_ns) == (before.st_ino, before.st_mtime_ns)
    assert service.inspect("app")["RepoTags"] == ["app:latest"]


def test_moving_a_tag_leaves_the_old_image_dangling(service: ImageService) -> None:
    old = import_tar(service, {"f": b"1"}, "docker.io/library/app")
    new = import_tar(service, {"f": b"22"}, "docker.io/library/app")
    by_id = {i["Id"]: i["RepoTags"] for i in service.list_images()}
    assert by_id == {str(new): ["app:latest"], str(old): ["<none>:<none>"]}
    service.tag(str(old), "docker.io/library/app")
    by_id = {i["Id"]: i["RepoTags"] for i in service.list_images()}
    assert by_id == {str(old): ["app:latest"], str(new): ["<none>:<none>"]}


def test_list_filters(service: ImageService) -> None:
    first = import_tar(service, {"a": b"1"}, "docker.io/library/busybox", changes=("LABEL a=1",))
    time.sleep(1.1)  # Created has one-second resolution in the list
    second = import_tar(service, {"b": b"1"}, "docker.io/library/alpine", "3.10")
    time.sleep(1.1)
    third = import_tar(service, {"c": b"1"})

    def ids(**filters: list[str]) -> list[str]:
        return [i["Id"] for i in service.list_images(filters=filters)]

    assert ids() == [str(third), str(second), str(first)]
    assert ids(reference=["busybox"]) == [str(first)]
    assert ids(reference=["alpine:*"]) == [str(second)]
    assert ids(reference=["*"]) == [str(second), str(first)]
    assert ids(dangling=["true"]) == [str(third)]
    assert ids(dangling=["false"]) == [str(second), str(first)]
    assert ids(label=["a=1"]) == [str(first)]
    assert ids(label=["a=2"]) == []
    assert ids(before=["alpine:3.10"]) == [str(first)]
    assert ids(since=["busybox"]) == [str(third), str(second)]
    with pytest.raises(InvalidArgument, match="Invalid filter 'foo'"):
        service.list_images(filters={"foo": ["x"]})
    with pytest.raises(NotFound):
        service.list_images(filters={"before": ["nosuch"]})


def test_filtered_names_only(service: ImageService) -> None:
    import_tar(service, {"a": b"1"}, "docker.io/library/busybox")
    service.tag("busybox", "docker.io/library/other", "x")
    [item] = service.list_images(filters={"reference": ["other"]})
    assert item["RepoTags"] == ["other:x"]


def test_import_errors_leave_nothing(service: ImageService, data_root: DataRoot) -> None:
    with pytest.raises(InvalidArgument, match="run is not a valid change command"):
        import_tar(service, {"f": b"1"}, changes=("RUN x",))
    with pytest.raises(InvalidArgument, match="cannot import digest reference"):
        import_tar(service, {"f": b"1"}, repo=f"docker.io/library/a@sha256:{'0' * 64}")
    assert data_root.images.records() == []
    assert list(data_root.content.walk()) == []


def test_import_platform(service: ImageService) -> None:
    image = service.import_image(io.BytesIO(rootfs({"f": b"1"})), platform="linux")
    assert service.inspect(str(image))["Os"] == "linux"
    with pytest.raises(InvalidArgument):
        service.import_image(io.BytesIO(b""), platform="not/a/platform/x")


def test_shared_layers_and_disk_usage(service: ImageService) -> None:
    files = {"f": b"x" * 10}
    one = import_tar(service, files, "docker.io/library/one")
    two = import_tar(service, files, "docker.io/library/two")  # same layer, new config
    assert one != two
    items = {i["Id"]: i for i in service.summaries()}
    assert items[str(one)]["SharedSize"] == items[str(two)]["SharedSize"] == 10
    assert items[str(one)]["Containers"] == 0
    assert service.layers_size() == 10


def _many_images(service: ImageService, data_root: DataRoot, count: int) -> None:
    base = import_tar(service, {"f": b"1"}, "docker.io/library/base")
    record = data_root.images.get("docker.io/library/base:latest")
    manifest = Manifest.from_json(data_root.content.read_bytes(record.target.digest))
    config = ImageConfig.from_json(data_root.content.read_bytes(base))
    layer = LayerBlob(manifest.layers[0].digest, manifest.layers[0].size, "none",
                      config.diff_ids[0])
    for index in range(count - 1):
        variant = ImageConfig(config.architecture, config.os, config.rootfs,
                              created=f"2026-01-01T00:00:{index % 60:02d}.{index:04d}Z")
        new = write_image(data_root.content, variant, [layer])
        data_root.images.set(f"docker.io/library/img{index}:latest",
                             Target(new.manifest.media_type, new.manifest.digest,
                                    new.manifest.size))


def test_listing_200_images(service: ImageService, data_root: DataRoot) -> None:
    """Every image once, newest first; a second listing (from what the first read) is the same.
    How fast it answers is bench/'s images_200 row, beside dockerd."""
    _many_images(service, data_root, 200)
    first = service.list_images()
    expected = ["base:latest", *(f"img{i}:latest" for i in range(199))]
    assert sorted(tag for item in first for tag in item["RepoTags"]) == sorted(expected)
    created = [item["Created"] for item in first]
    assert created == sorted(created, reverse=True)
    assert service.list_images() == first


def test_layer_sizes_are_kept_on_the_blob(service: ImageService, data_root: DataRoot) -> None:
    import_tar(service, {"a": b"x" * 7, "b": b"y" * 5}, "docker.io/library/sized")
    facts = service.get("sized").facts
    blob = facts.layers[0].blob
    assert blob is not None
    assert data_root.content.info(blob).labels == {"dockyard/diff-size": "12"}
    data_root.content.update_labels(blob, {"dockyard/diff-size": "99"})
    fresh = ImageService(data_root)  # a restarted daemon reads the label, not the tar
    assert fresh.list_images()[0]["Size"] == 99
