from __future__ import annotations

from pathlib import Path

import pytest

from dockyard.errors import DataCorrupt, NotFound
from dockyard.images.store import ImageRecord, ImageStore, Target
from dockyard.oci.digest import Digest

M = "application/vnd.oci.image.manifest.v1+json"


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        self.now += 1
        return self.now


def target(n: int) -> Target:
    return Target(M, Digest.of(str(n).encode()), 100 + n)


def test_set_get_list_delete(tmp_path: Path) -> None:
    store = ImageStore(tmp_path, clock=Clock())
    store.set("docker.io/library/busybox:latest", target(1))
    store.set("docker.io/library/alpine:3", target(2), labels={"a": "b"})
    assert store.get("docker.io/library/alpine:3") == ImageRecord(
        "docker.io/library/alpine:3", target(2), 1002.0, 1002.0, {"a": "b"}
    )
    assert [r.name for r in store.records()] == [
        "docker.io/library/alpine:3",
        "docker.io/library/busybox:latest",
    ]
    store.delete("docker.io/library/alpine:3")
    with pytest.raises(NotFound, match=r"no such image: docker\.io/library/alpine:3"):
        store.get("docker.io/library/alpine:3")


def test_retag_keeps_created_and_labels(tmp_path: Path) -> None:
    store = ImageStore(tmp_path, clock=Clock())
    store.set("x:1", target(1), labels={"k": "v"})
    moved = store.set("x:1", target(2))
    assert moved == ImageRecord("x:1", target(2), 1001.0, 1002.0, {"k": "v"})


def test_persists_across_instances(tmp_path: Path) -> None:
    ImageStore(tmp_path, clock=Clock()).set("x:1", target(1))
    again = ImageStore(tmp_path)
    assert again.get("x:1").target == target(1)
    assert again.by_target(target(1).digest)[0].name == "x:1"


def test_delete_missing_names_the_image(tmp_path: Path) -> None:
    with pytest.raises(NotFound, match="no such image: nope"):
        ImageStore(tmp_path).delete("nope")


def test_corrupt_index_is_reported(tmp_path: Path) -> None:
    (tmp_path / "index.json").write_text("{not json")
    with pytest.raises(DataCorrupt, match=r"index\.json is unreadable"):
        ImageStore(tmp_path)


def test_recover_removes_stray_temp_files(tmp_path: Path) -> None:
    store = ImageStore(tmp_path)
    store.set("x:1", target(1))
    (tmp_path / "index.json.tmp-1-2").write_text("half")
    store.recover()
    assert sorted(p.name for p in tmp_path.iterdir()) == [".lock", "index.json"]
