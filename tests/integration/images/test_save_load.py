"""docker save / docker load at the store layer: archive layout, round trips, skopeo (root)."""

from __future__ import annotations

import bz2
import gzip
import hashlib
import io
import json
import lzma
import os
import shutil
import stat
import subprocess
import tarfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import pytest
import zstandard

from dockyard.errors import NotFound
from dockyard.images.archive import LABEL_UNCOMPRESSED, LABEL_UNCOMPRESSED_SIZE
from dockyard.images.load import Loaded, load_images
from dockyard.images.save import SaveItem, save_images
from dockyard.mount import mount_all, unmount
from dockyard.oci import mediatypes as mt
from dockyard.oci.config import ImageConfig
from dockyard.oci.descriptor import Descriptor
from dockyard.oci.digest import Digest
from dockyard.oci.identity import chain_ids
from dockyard.oci.manifest import Index, Manifest
from dockyard.oci.platform import Platform
from dockyard.store import DataRoot
from dockyard.sys import real

pytestmark = pytest.mark.root

MTIME = 1_700_000_000


# -- building archives -------------------------------------------------------------------------


def layer_tar(files: dict[str, bytes | str | None]) -> bytes:
    """A layer: bytes are files, a str is a symlink target, None a directory."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for name, value in files.items():
            info = tarfile.TarInfo(name)
            info.mtime = MTIME
            if value is None:
                info.type, info.mode = tarfile.DIRTYPE, 0o755
                tar.addfile(info)
            elif isinstance(value, str):
                info.type, info.linkname = tarfile.SYMTYPE, value
                tar.addfile(info)
            else:
                info.size, info.mode = len(value), 0o644
                tar.addfile(info, io.BytesIO(value))
    return buf.getvalue()


BASE = layer_tar({"bin": None, "bin/sh": b"#!shell\n" * 500, "etc": None,
                  "etc/passwd": b"root:x:0:0::/root:/bin/sh\n", "etc/motd": b"hi\n",
                  "bin/ash": "sh"})
MIDDLE = layer_tar({"etc": None, "etc/.wh.motd": b"", "etc/hostname": b"box\n"})
TOP = layer_tar({"srv": None, "srv/data": os.urandom(70_000)})


def diff_id(blob: bytes) -> Digest:
    if blob[:2] == b"\x1f\x8b":
        blob = gzip.decompress(blob)
    elif blob[:4] == b"\x28\xb5\x2f\xfd":
        blob = zstandard.ZstdDecompressor().decompressobj().decompress(blob)
    return Digest.of(blob)


def config_json(layers: Sequence[bytes], cmd: str = "/bin/sh") -> bytes:
    host = Platform.current()
    doc = {
        "architecture": host.architecture, "os": "linux",
        "config": {"Cmd": [cmd], "Env": ["PATH=/bin"]},
        "created": "2024-01-01T00:00:00Z",
        "history": [{"created": "2024-01-01T00:00:00Z", "created_by": f"layer {i}"}
                    for i in range(len(layers))],
        "rootfs": {"type": "layers", "diff_ids": [str(diff_id(b)) for b in layers]},
    }
    return json.dumps(doc, separators=(",", ":")).encode()


@dataclass
class Image:
    tags: list[str]
    layers: list[bytes]  # blobs as the archive holds them: plain, gzip or zstd
    cmd: str = "/bin/sh"

    @property
    def config(self) -> bytes:
        return config_json(self.layers, self.cmd)

    @property
    def image_id(self) -> Digest:
        return Digest.of(self.config)


def _add(tar: tarfile.TarFile, name: str, data: bytes | None = None, link: str = "") -> None:
    info = tarfile.TarInfo(name)
    info.mtime = MTIME
    if link:
        info.type, info.linkname = tarfile.SYMTYPE, link
        tar.addfile(info)
    elif data is None:
        info.type, info.mode = tarfile.DIRTYPE, 0o755
        tar.addfile(info)
    else:
        info.size, info.mode = len(data), 0o644
        tar.addfile(info, io.BytesIO(data))


def docker_archive(images: Sequence[Image], *, manifest_first: bool = False) -> bytes:
    """A docker 20.10 ``docker save``: <v1 id>/{VERSION,json,layer.tar} (a repeated layer as a
    symlink to its first copy), <config hex>.json, manifest.json, repositories."""
    files: dict[str, bytes | str] = {}
    written: dict[bytes, str] = {}
    manifest = []
    repositories: dict[str, dict[str, str]] = {}
    for image in images:
        paths = []
        for index, blob in enumerate(image.layers):
            v1 = hashlib.sha256(image.config + bytes([index])).hexdigest()
            files[f"{v1}/VERSION"] = b"1.0"
            files[f"{v1}/json"] = json.dumps({"id": v1}).encode()
            files[f"{v1}/layer.tar"] = (f"../{written[blob]}" if blob in written else blob)
            written.setdefault(blob, f"{v1}/layer.tar")
            paths.append(f"{v1}/layer.tar")
        files[f"{image.image_id.encoded}.json"] = image.config
        manifest.append({"Config": f"{image.image_id.encoded}.json",
                         "RepoTags": image.tags or None, "Layers": paths})
        for tag in image.tags:
            name, _, t = tag.rpartition(":")
            repositories.setdefault(name, {})[t] = paths[-1].split("/")[0]
    meta = {"manifest.json": json.dumps(manifest).encode(),
            "repositories": json.dumps(repositories).encode()}
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
        if manifest_first:
            _add(tar, "manifest.json", meta.pop("manifest.json"))
        dirs = sorted({name.split("/")[0] for name in files if "/" in name})
        for name in sorted([*files, *(d + "/" for d in dirs)]):
            value = files.get(name)
            if isinstance(value, str):
                _add(tar, name, link=value)
            else:
                _add(tar, name.rstrip("/"), value)
        for name, data in meta.items():
            _add(tar, name, data)
    return buf.getvalue()


def members(archive: bytes) -> dict[str, tarfile.TarInfo]:
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        return {m.name: m for m in tar.getmembers()}


def member_data(archive: bytes, name: str) -> bytes:
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        data = tar.extractfile(name)
        assert data is not None
        return data.read()


# -- fixtures and helpers ------------------------------------------------------------------------


@pytest.fixture(params=["overlayfs", "native"])
def snapshotter(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def roots(tmp_path: Path, snapshotter: str) -> Iterator[list[DataRoot]]:
    made: list[DataRoot] = []
    try:
        yield made
    finally:
        for root in made:
            root.close()


def new_root(roots: list[DataRoot], tmp_path: Path, snapshotter: str) -> DataRoot:
    root = DataRoot(tmp_path / f"root{len(roots)}", real(), snapshotter=snapshotter)
    roots.append(root)
    return root


def load(root: DataRoot, archive: bytes) -> list[Loaded]:
    return load_images(root, io.BytesIO(archive))


def save(root: DataRoot, names: Sequence[str]) -> bytes:
    items = [SaveItem(root.images.get(n).target.digest, (n,)) for n in names]
    out = io.BytesIO()
    save_images(root, items, out)
    return out.getvalue()


def image_ids(root: DataRoot) -> dict[str, Digest]:
    out = {}
    for record in root.images.records():
        manifest = Manifest.from_json(root.content.read_bytes(record.target.digest))
        out[record.name] = manifest.config.digest
    return out


def tree(root: DataRoot, snapshot: str, where: Path) -> dict[str, tuple[object, ...]]:
    """Everything visible in ``snapshot``: path -> (type, mode, uid, gid, content or target)."""
    where.mkdir()
    mount_all(root.snapshotter.view("tree-view", snapshot), str(where), real())
    try:
        found: dict[str, tuple[object, ...]] = {}
        for dirpath, dirnames, filenames in os.walk(where):
            for name in dirnames + filenames:
                path = Path(dirpath) / name
                st = path.lstat()
                if stat.S_ISLNK(st.st_mode):
                    body: object = os.readlink(path)
                elif stat.S_ISREG(st.st_mode):
                    body = hashlib.sha256(path.read_bytes()).hexdigest()
                else:
                    body = None
                found[str(path.relative_to(where))] = (stat.S_IFMT(st.st_mode),
                                                       stat.S_IMODE(st.st_mode), st.st_uid,
                                                       st.st_gid, body)
        return found
    finally:
        unmount(str(where), real())
        where.rmdir()
        root.snapshotter.remove("tree-view")


def nothing_left(root: DataRoot) -> None:
    assert root.images.records() == []
    assert root.snapshotter.walk() == []
    assert list(root.content.walk()) == []
    assert root.content.ingests() == []
    assert root.leases.leases() == []


TWO_IMAGES = [
    Image(["app/one:1", "app/one:latest"], [BASE, gzip.compress(MIDDLE)]),
    Image(["localhost:5000/two:v2"],
          [BASE, gzip.compress(MIDDLE), zstandard.ZstdCompressor().compress(TOP)], cmd="/x"),
]


# -- load ------------------------------------------------------------------------------------------


def test_load_docker_20_archive(roots: list[DataRoot], tmp_path: Path, snapshotter: str) -> None:
    root = new_root(roots, tmp_path, snapshotter)
    loaded = load(root, docker_archive(TWO_IMAGES))
    one, two = (image.image_id for image in TWO_IMAGES)
    assert loaded == [
        Loaded("docker.io/app/one:1", one), Loaded("docker.io/app/one:latest", one),
        Loaded("localhost:5000/two:v2", two),
    ]
    assert [item.message for item in loaded] == [
        "Loaded image: app/one:1", "Loaded image: app/one:latest",
        "Loaded image: localhost:5000/two:v2",
    ]
    assert image_ids(root) == {"docker.io/app/one:1": one, "docker.io/app/one:latest": one,
                               "localhost:5000/two:v2": two}
    chains = [str(c) for c in chain_ids([diff_id(b) for b in TWO_IMAGES[1].layers])]
    assert sorted(info.name for info in root.snapshotter.walk()) == sorted(chains)
    view = tree(root, chains[-1], tmp_path / "v")
    assert view["etc/hostname"][4] == hashlib.sha256(b"box\n").hexdigest()
    assert view["bin/ash"][4] == "sh"
    assert "etc/motd" not in view  # the middle layer's whiteout
    assert root.leases.leases() == []
    assert root.content.ingests() == []


def test_load_writes_schema2_manifest_keeping_blobs(roots: list[DataRoot], tmp_path: Path,
                                                    snapshotter: str) -> None:
    root = new_root(roots, tmp_path, snapshotter)
    load(root, docker_archive(TWO_IMAGES[1:]))
    record = root.images.get("localhost:5000/two:v2")
    manifest = Manifest.from_json(root.content.read_bytes(record.target.digest))
    assert record.target.media_type == "application/vnd.docker.distribution.manifest.v2+json"
    assert [(d.media_type, d.digest) for d in manifest.layers] == [
        ("application/vnd.docker.image.rootfs.diff.tar", Digest.of(BASE)),
        ("application/vnd.docker.image.rootfs.diff.tar.gzip",
         Digest.of(TWO_IMAGES[1].layers[1])),
        ("application/vnd.docker.image.rootfs.diff.tar.zstd",
         Digest.of(TWO_IMAGES[1].layers[2])),
    ]
    # the legacy <v1 id>/json files were not kept, and nothing else either
    expected = {Digest.of(b) for b in TWO_IMAGES[1].layers}
    expected |= {TWO_IMAGES[1].image_id, record.target.digest}
    assert {info.digest for info in root.content.walk()} == expected


def test_load_in_any_order_and_compressed(roots: list[DataRoot], tmp_path: Path,
                                          snapshotter: str) -> None:
    archive = docker_archive(TWO_IMAGES[:1], manifest_first=True)
    for data in (archive, gzip.compress(archive), zstandard.ZstdCompressor().compress(archive),
                 bz2.compress(archive), lzma.compress(archive)):
        root = new_root(roots, tmp_path, snapshotter)
        assert [item.image_id for item in load(root, data)] == [TWO_IMAGES[0].image_id] * 2


def test_load_twice_shares_snapshots(roots: list[DataRoot], tmp_path: Path,
                                     snapshotter: str) -> None:
    root = new_root(roots, tmp_path, snapshotter)
    archive = docker_archive(TWO_IMAGES)
    load(root, archive)
    before = (root.snapshotter.walk(), image_ids(root), list(root.content.walk()))
    seen: list[tuple[Digest, str]] = []
    load_images(root, io.BytesIO(archive), progress=lambda d, s: seen.append((d, s)))
    assert {status for _, status in seen} == {"Already exists"}
    assert (root.snapshotter.walk(), image_ids(root), list(root.content.walk())) == before


def test_load_untagged_is_dangling(roots: list[DataRoot], tmp_path: Path,
                                   snapshotter: str) -> None:
    root = new_root(roots, tmp_path, snapshotter)
    image = Image([], [BASE])
    assert load(root, docker_archive([image])) == [Loaded(None, image.image_id)]
    [record] = root.images.records()
    assert record.name == f"moby-dangling@{record.target.digest}"
    assert Loaded(None, image.image_id).message == f"Loaded image ID: {image.image_id}"


def test_load_moves_a_tag_and_keeps_the_old_image(roots: list[DataRoot], tmp_path: Path,
                                                  snapshotter: str) -> None:
    root = new_root(roots, tmp_path, snapshotter)
    old, new = Image(["a:1"], [BASE]), Image(["a:1"], [BASE], cmd="/new")
    load(root, docker_archive([old]))
    old_target = root.images.get("docker.io/library/a:1").target
    assert load(root, docker_archive([new])) == [
        Loaded("docker.io/library/a:1", new.image_id, replaced=old.image_id)
    ]
    assert image_ids(root) == {"docker.io/library/a:1": new.image_id,
                               f"moby-dangling@{old_target.digest}": old.image_id}


# -- save ------------------------------------------------------------------------------------------


def test_save_layout(roots: list[DataRoot], tmp_path: Path, snapshotter: str) -> None:
    root = new_root(roots, tmp_path, snapshotter)
    load(root, docker_archive(TWO_IMAGES))
    archive = save(root, ["docker.io/app/one:1", "localhost:5000/two:v2"])
    one, two = TWO_IMAGES
    diffs = [diff_id(b) for b in two.layers]
    found = members(archive)
    index = json.loads(member_data(archive, "index.json"))
    manifests = {d["digest"] for d in index["manifests"]}
    blobs = {f"blobs/sha256/{d.encoded}" for d in [*diffs, one.image_id, two.image_id]}
    blobs |= {f"blobs/sha256/{d.split(':')[1]}" for d in manifests}
    assert list(found) == ["blobs", "blobs/sha256", *sorted(blobs), "index.json",
                           "manifest.json", "oci-layout", "repositories"]
    assert {(m.mtime, m.uid, m.gid) for m in found.values()} == {(0, 0, 0)}
    assert json.loads(member_data(archive, "manifest.json")) == [
        {"Config": f"blobs/sha256/{one.image_id.encoded}", "RepoTags": ["app/one:1"],
         "Layers": [f"blobs/sha256/{d.encoded}" for d in diffs[:2]]},
        {"Config": f"blobs/sha256/{two.image_id.encoded}", "RepoTags": ["localhost:5000/two:v2"],
         "Layers": [f"blobs/sha256/{d.encoded}" for d in diffs]},
    ]
    for layer in (BASE, MIDDLE, TOP):  # every layer plain, named by its diffID
        assert member_data(archive, f"blobs/sha256/{Digest.of(layer).encoded}") == layer
    assert [d["annotations"] for d in index["manifests"]] == [
        {"io.containerd.image.name": "docker.io/app/one:1",
         "org.opencontainers.image.ref.name": "1"},
        {"io.containerd.image.name": "localhost:5000/two:v2",
         "org.opencontainers.image.ref.name": "v2"},
    ]
    second_manifest = index["manifests"][1]["digest"].removeprefix("sha256:")
    manifest = json.loads(member_data(archive, f"blobs/sha256/{second_manifest}"))
    assert manifest == {
        "schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
                   "digest": str(two.image_id), "size": len(two.config)},
        "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar",
                    "digest": str(Digest.of(layer)), "size": len(layer)}
                   for layer in (BASE, MIDDLE, TOP)],
    }
    assert member_data(archive, "oci-layout") == b'{"imageLayoutVersion": "1.0.0"}'
    assert json.loads(member_data(archive, "repositories")) == {
        "app/one": {"1": diffs[1].encoded}, "localhost:5000/two": {"v2": diffs[2].encoded}}


def test_save_is_deterministic_and_labels_compressed_layers(
    roots: list[DataRoot], tmp_path: Path, snapshotter: str
) -> None:
    root = new_root(roots, tmp_path, snapshotter)
    load(root, docker_archive(TWO_IMAGES))
    for blob, plain in ((TWO_IMAGES[1].layers[1], MIDDLE), (TWO_IMAGES[1].layers[2], TOP)):
        assert root.content.info(Digest.of(blob)).labels == {
            LABEL_UNCOMPRESSED: str(Digest.of(plain)),
            LABEL_UNCOMPRESSED_SIZE: str(len(plain)),
        }
    first = save(root, ["localhost:5000/two:v2", "docker.io/app/one:latest"])
    for info in root.content.walk():  # without labels, save measures (and labels) again
        if info.labels:
            root.content.update_labels(info.digest, {}, replace=True)
    assert save(root, ["localhost:5000/two:v2", "docker.io/app/one:latest"]) == first
    assert root.content.info(Digest.of(TWO_IMAGES[1].layers[2])).labels[
        LABEL_UNCOMPRESSED_SIZE] == str(len(TOP))


def test_save_merges_names_and_untagged(roots: list[DataRoot], tmp_path: Path,
                                        snapshotter: str) -> None:
    root = new_root(roots, tmp_path, snapshotter)
    load(root, docker_archive(TWO_IMAGES))
    target = root.images.get("docker.io/app/one:1").target.digest
    out = io.BytesIO()
    save_images(root, [SaveItem(target, ("app/one:1",)), SaveItem(target, ("app/one:latest",)),
                       SaveItem(target, ("app/one:1",))], out)
    [item] = json.loads(member_data(out.getvalue(), "manifest.json"))
    assert item["RepoTags"] == ["app/one:1", "app/one:latest"]
    out = io.BytesIO()
    save_images(root, [SaveItem(target)], out)
    [item] = json.loads(member_data(out.getvalue(), "manifest.json"))
    assert item["RepoTags"] is None
    index = json.loads(member_data(out.getvalue(), "index.json"))
    assert [set(d) for d in index["manifests"]] == [{"mediaType", "digest", "size", "platform"}]
    assert "repositories" not in members(out.getvalue())


def test_save_picks_this_platform_from_an_index(roots: list[DataRoot], tmp_path: Path,
                                               snapshotter: str) -> None:
    root = new_root(roots, tmp_path, snapshotter)
    load(root, docker_archive(TWO_IMAGES[:1]))
    manifest = root.images.get("docker.io/app/one:1").target
    here = Platform.current()
    entries = [Descriptor(manifest.media_type, Digest.of(b"elsewhere"), 9,
                          platform=Platform("s390x", "linux")),
               Descriptor(manifest.media_type, manifest.digest, manifest.size,
                          platform=Platform(here.architecture, "linux", variant=here.variant))]
    index = root.content.put_bytes(Index(entries, media_type=mt.OCI_INDEX).canonical_json())
    out = io.BytesIO()
    save_images(root, [SaveItem(index, ("app/one:multi",))], out)
    [item] = json.loads(member_data(out.getvalue(), "manifest.json"))
    assert item["Config"] == f"blobs/sha256/{TWO_IMAGES[0].image_id.encoded}"


def test_save_missing_blob_writes_nothing(roots: list[DataRoot], tmp_path: Path,
                                          snapshotter: str) -> None:
    root = new_root(roots, tmp_path, snapshotter)
    load(root, docker_archive(TWO_IMAGES[1:]))
    root.content.delete(Digest.of(TWO_IMAGES[1].layers[2]))
    out = io.BytesIO()
    with pytest.raises(NotFound, match=r"layer sha256:\w+ is not in the content store"):
        save_images(root, [SaveItem(root.images.get("localhost:5000/two:v2").target.digest)],
                    out)
    assert out.getvalue() == b""


# -- round trips -----------------------------------------------------------------------------------


def test_round_trip_keeps_ids_tags_and_contents(roots: list[DataRoot], tmp_path: Path,
                                                snapshotter: str) -> None:
    first = new_root(roots, tmp_path, snapshotter)
    load(first, docker_archive(TWO_IMAGES))
    names = [r.name for r in first.images.records()]
    archive = save(first, names)
    second = new_root(roots, tmp_path, snapshotter)
    loaded = load(second, archive)
    assert {(item.name, item.image_id) for item in loaded} == set(image_ids(first).items())
    assert image_ids(second) == image_ids(first)
    snapshots = [info.name for info in first.snapshotter.walk()]
    assert [info.name for info in second.snapshotter.walk()] == snapshots
    for index, name in enumerate(snapshots):
        seen = tree(second, name, tmp_path / f"b{index}")
        assert seen == tree(first, name, tmp_path / f"a{index}")
    again = new_root(roots, tmp_path, snapshotter)  # a saved archive saves to the same bytes
    load(again, save(second, names))
    assert save(again, names) == save(second, names)


def _without(archive: bytes, drop: set[str]) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=io.BytesIO(archive)) as src, \
            tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as out:
        for member in src.getmembers():
            if member.name not in drop:
                out.addfile(member, src.extractfile(member) if member.isfile() else None)
    return buf.getvalue()


def test_round_trip_oci_layout_alone(roots: list[DataRoot], tmp_path: Path,
                                     snapshotter: str) -> None:
    first = new_root(roots, tmp_path, snapshotter)
    load(first, docker_archive(TWO_IMAGES))
    archive = _without(save(first, ["localhost:5000/two:v2"]), {"manifest.json", "repositories"})
    second = new_root(roots, tmp_path, snapshotter)
    assert load(second, archive) == [Loaded("localhost:5000/two:v2", TWO_IMAGES[1].image_id)]
    record = second.images.get("localhost:5000/two:v2")
    assert record.target.media_type == "application/vnd.oci.image.manifest.v1+json"


# -- skopeo reads what save writes ----------------------------------------------------------------


@pytest.mark.skipif(shutil.which("skopeo") is None, reason="skopeo is not installed")
@pytest.mark.parametrize("source", ["oci-archive:{tar}:v2", "oci:{dir}:v2",
                                    "docker-archive:{tar}:localhost:5000/two:v2"])
def test_skopeo_reads_the_archive(roots: list[DataRoot], tmp_path: Path, snapshotter: str,
                                  source: str) -> None:
    root = new_root(roots, tmp_path, snapshotter)
    load(root, docker_archive(TWO_IMAGES))
    tar = tmp_path / "saved.tar"
    tar.write_bytes(save(root, ["docker.io/app/one:1", "localhost:5000/two:v2"]))
    layout = tmp_path / "layout"
    layout.mkdir()
    with tarfile.open(tar) as archive:
        archive.extractall(layout, filter="data")
    out = tmp_path / "copied"
    subprocess.run(["skopeo", "copy", "--quiet", source.format(tar=tar, dir=layout),
                    f"dir:{out}"], check=True, capture_output=True, timeout=120)
    manifest = json.loads((out / "manifest.json").read_bytes())
    assert manifest["config"]["digest"] == str(TWO_IMAGES[1].image_id)
    assert [Digest.of((out / d["digest"][7:]).read_bytes()) for d in manifest["layers"]] == [
        diff_id(b) for b in TWO_IMAGES[1].layers]


@pytest.mark.skipif(shutil.which("skopeo") is None, reason="skopeo is not installed")
def test_load_skopeo_oci_archive_with_gzip_layers(roots: list[DataRoot], tmp_path: Path,
                                                  snapshotter: str) -> None:
    source = tmp_path / "docker.tar"
    source.write_bytes(docker_archive(TWO_IMAGES[1:]))
    oci = tmp_path / "oci.tar"
    subprocess.run(["skopeo", "copy", "--quiet", "--dest-compress",
                    "--dest-compress-format", "gzip", f"docker-archive:{source}",
                    f"oci-archive:{oci}:localhost:5000/two:v2"],
                   check=True, capture_output=True, timeout=120)
    root = new_root(roots, tmp_path, snapshotter)
    loaded = load(root, oci.read_bytes())
    record = root.images.get("localhost:5000/two:v2")
    manifest = Manifest.from_json(root.content.read_bytes(record.target.digest))
    # skopeo re-encodes the config when it converts to OCI, so the ID is its config's digest
    assert loaded == [Loaded("localhost:5000/two:v2", manifest.config.digest)]
    config = ImageConfig.from_json(root.content.read_bytes(manifest.config.digest))
    assert config.diff_ids == tuple(diff_id(b) for b in TWO_IMAGES[1].layers)
    assert {d.media_type for d in manifest.layers} == {
        "application/vnd.oci.image.layer.v1.tar+gzip"}
    other = new_root(roots, tmp_path, snapshotter)
    load(other, save(root, ["localhost:5000/two:v2"]))
    assert image_ids(other) == image_ids(root)
