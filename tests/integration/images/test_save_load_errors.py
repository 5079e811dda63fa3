"""docker load of bad input: escapes, corruption, missing pieces; nothing may be left behind."""

from __future__ import annotations

import gzip
import io
import json
import os
from collections.abc import Iterator, Sequence
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dockyard.errors import Breakout, DataCorrupt, DockyardError, InvalidArgument, Unsupported
from dockyard.images.load import load_images
from dockyard.oci.digest import Digest
from dockyard.oci.platform import Platform
from dockyard.store import DataRoot
from dockyard.sys import real

pytestmark = pytest.mark.root

import tarfile  # noqa: E402 - after pytestmark for readability of the helpers below

Entry = tuple[str, bytes | None, str]  # name, data (None: a directory or link), link target


def tar_of(entries: Sequence[Entry], *, fmt: int = tarfile.PAX_FORMAT) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=fmt) as tar:
        for name, data, link in entries:
            info = tarfile.TarInfo(name)
            info.mtime = 1_700_000_000
            if link:
                info.type, info.linkname = tarfile.SYMTYPE, link
                tar.addfile(info)
            elif data is None:
                info.type = tarfile.DIRTYPE
                tar.addfile(info)
            else:
                info.size = len(data)
                tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


LAYER = tar_of([("etc", None, ""), ("etc/passwd", b"root:x:0:0::/:/bin/sh\n", ""),
                ("bin", None, ""), ("bin/tool", os.urandom(30_000), "")])
LAYER2 = tar_of([("srv", None, ""), ("srv/x", b"x" * 5000, "")])


def config(diff_ids: Sequence[Digest], os_name: str = "linux") -> bytes:
    return json.dumps({
        "architecture": Platform.current().architecture, "os": os_name,
        "rootfs": {"type": "layers", "diff_ids": [str(d) for d in diff_ids]},
    }).encode()


def archive(layers: Sequence[bytes] = (LAYER, LAYER2), *, diff_ids: Sequence[Digest] | None = None,
            tags: Sequence[str] = ("bad/image:1",), layer_paths: Sequence[str] | None = None,
            config_path: str | None = None, os_name: str = "linux",
            extra: Sequence[Entry] = ()) -> bytes:
    """A docker-archive with manifest.json last; each piece can be spoiled."""
    cfg = config(diff_ids if diff_ids is not None else [Digest.of(b) for b in layers], os_name)
    paths = list(layer_paths) if layer_paths is not None else [
        f"{i:064x}/layer.tar" for i in range(len(layers))]
    entries: list[Entry] = [(f"{i:064x}/layer.tar", blob, "") for i, blob in enumerate(layers)]
    entries.append((f"{Digest.of(cfg).encoded}.json", cfg, ""))
    entries.extend(extra)
    manifest = [{"Config": config_path or f"{Digest.of(cfg).encoded}.json",
                 "RepoTags": list(tags), "Layers": paths}]
    entries.append(("manifest.json", json.dumps(manifest).encode(), ""))
    return tar_of(entries)


@pytest.fixture(params=["overlayfs", "native"])
def root(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[DataRoot]:
    data_root = DataRoot(tmp_path / "root", real(), snapshotter=request.param)
    try:
        yield data_root
    finally:
        data_root.close()


def nothing_left(root: DataRoot) -> None:
    assert root.images.records() == []
    assert root.snapshotter.walk() == []
    assert list(root.content.walk()) == []
    assert root.content.ingests() == []
    assert root.leases.leases() == []


def refused(root: DataRoot, data: bytes, error: type[DockyardError], match: str) -> None:
    with pytest.raises(error, match=match):
        load_images(root, io.BytesIO(data))
    nothing_left(root)


def test_a_good_archive_loads(root: DataRoot) -> None:
    [loaded] = load_images(root, io.BytesIO(archive()))
    assert loaded.name == "docker.io/bad/image:1"


# -- not an archive ----------------------------------------------------------------------------


@pytest.mark.parametrize("data", [b"", os.urandom(3000), b'{"not": "a tar"}\n' * 40,
                                  gzip.compress(b"plain text, not a tar" * 40)])
def test_not_a_tar(root: DataRoot, data: bytes) -> None:
    refused(root, data, InvalidArgument, "not an image archive")


def test_a_rootfs_tar_is_not_an_image_archive(root: DataRoot) -> None:
    refused(root, LAYER, InvalidArgument, "neither manifest.json nor index.json")


def test_an_empty_tar(root: DataRoot) -> None:
    refused(root, tar_of([]), InvalidArgument, "neither manifest.json nor index.json")


# -- corruption ----------------------------------------------------------------------------------


def test_truncated_between_entries(root: DataRoot) -> None:
    data = archive()
    cut = data.index(b"manifest.json\0")  # the manifest.json header
    assert cut % 512 == 0
    refused(root, data[:cut], DataCorrupt, "truncated archive")


def test_truncated_inside_a_file(root: DataRoot) -> None:
    data = archive()
    refused(root, data[:len(data) // 3], DataCorrupt, "corrupt archive|truncated")


def test_truncated_gzip_archive(root: DataRoot) -> None:
    refused(root, gzip.compress(archive())[:-200], DataCorrupt, "truncated gzip")


def test_bad_header_checksum_in_the_middle(root: DataRoot) -> None:
    data = bytearray(archive())
    at = data.index(b"manifest.json\0")
    data[at + 100] ^= 0xFF  # the mode field of the manifest.json header
    refused(root, bytes(data), DataCorrupt, "bad tar header at offset")


def test_blob_not_matching_its_name(root: DataRoot) -> None:
    wrong = Digest.of(b"something else")
    data = archive(extra=[(f"blobs/sha256/{wrong.encoded}", b"not it", "")])
    refused(root, data, DataCorrupt, f"blobs/sha256/{wrong.encoded}.*digest mismatch")


def test_diff_id_mismatch(root: DataRoot) -> None:
    data = archive(diff_ids=[Digest.of(LAYER), Digest.of(b"another layer")])
    refused(root, data, DataCorrupt, "invalid diffID for layer 1 of image sha256:")


def test_diff_id_mismatch_of_an_existing_layer(root: DataRoot) -> None:
    load_images(root, io.BytesIO(archive([LAYER], tags=["good:1"])))
    before = (root.images.records(), root.snapshotter.walk(), list(root.content.walk()))
    spoiled = gzip.compress(LAYER2)  # a blob that is not the layer the config names
    with pytest.raises(DataCorrupt, match="invalid diffID for layer 0"):
        load_images(root, io.BytesIO(archive([spoiled], diff_ids=[Digest.of(LAYER)])))
    assert (root.images.records(), root.snapshotter.walk(), list(root.content.walk())) == before
    assert root.leases.leases() == []


def test_a_layer_that_is_not_a_tar(root: DataRoot) -> None:
    junk = os.urandom(2000)
    refused(root, archive([junk]), DataCorrupt, r"layer sha256:\w+: corrupt tar header")


# -- missing and malformed pieces -----------------------------------------------------------------


def test_missing_layer(root: DataRoot) -> None:
    data = archive(layer_paths=[f"{0:064x}/layer.tar", "nowhere/layer.tar"])
    refused(root, data, InvalidArgument, "layer 1 of image sha256:.* 'nowhere/layer.tar' is not")


def test_missing_config(root: DataRoot) -> None:
    refused(root, archive(config_path="gone.json"), InvalidArgument, "'gone.json' is not in")


def test_layer_count_mismatch(root: DataRoot) -> None:
    data = archive(diff_ids=[Digest.of(LAYER)])
    refused(root, data, InvalidArgument, "layers length mismatch: expected 2, got 1")


@pytest.mark.parametrize("tag", ["busybox", "UPPER:1", "a@sha256:" + "0" * 64])
def test_invalid_tag(root: DataRoot, tag: str) -> None:
    refused(root, archive(tags=[tag]), InvalidArgument, "invalid tag")


def test_foreign_os(root: DataRoot) -> None:
    refused(root, archive(os_name="windows"), Unsupported, "operating system 'windows'")


def test_bad_manifest_json(root: DataRoot) -> None:
    data = tar_of([("manifest.json", b'{"Config": 1}', "")])
    refused(root, data, InvalidArgument, "invalid manifest.json")


# -- escapes --------------------------------------------------------------------------------------


def test_entry_climbing_out(root: DataRoot, tmp_path: Path) -> None:
    data = archive(extra=[("../../escaped", b"gotcha", "")])
    refused(root, data, Breakout, "'../../escaped' points outside the archive")
    assert not (tmp_path / "escaped").exists()


def test_manifest_path_climbing_out(root: DataRoot) -> None:
    data = archive(layer_paths=["../layer.tar", f"{1:064x}/layer.tar"])
    refused(root, data, Breakout, "'../layer.tar' points outside the archive")


def test_symlink_climbing_out(root: DataRoot) -> None:
    data = archive(extra=[("link/layer.tar", None, "../../../etc/passwd")])
    refused(root, data, Breakout, "archive link 'link/layer.tar'")


def test_absolute_names_stay_inside(root: DataRoot) -> None:
    """A leading / is relative to the archive, as docker's chrooted extraction has it."""
    data = archive(layer_paths=[f"/{0:064x}/layer.tar", f"{1:064x}/./layer.tar"])
    [loaded] = load_images(root, io.BytesIO(data))
    assert loaded.name == "docker.io/bad/image:1"


def test_link_loop(root: DataRoot) -> None:
    data = archive(extra=[("a/layer.tar", None, "../b/layer.tar"),
                          ("b/layer.tar", None, "../a/layer.tar")],
                   layer_paths=["a/layer.tar", f"{1:064x}/layer.tar"])
    refused(root, data, InvalidArgument, "too many levels of links")


# -- a failure after work was done undoes it -------------------------------------------------------


def test_failure_in_a_later_image_rolls_back_the_first(root: DataRoot) -> None:
    good_cfg = config([Digest.of(LAYER)])
    bad_cfg = config([Digest.of(LAYER2), Digest.of(b"nope")])
    manifest = [
        {"Config": "good.json", "RepoTags": ["a:1"], "Layers": ["l1/layer.tar"]},
        {"Config": "bad.json", "RepoTags": ["b:1"], "Layers": ["l2/layer.tar", "l1/layer.tar"]},
    ]
    data = tar_of([("l1/layer.tar", LAYER, ""), ("l2/layer.tar", LAYER2, ""),
                   ("good.json", good_cfg, ""), ("bad.json", bad_cfg, ""),
                   ("manifest.json", json.dumps(manifest).encode(), "")])
    refused(root, data, DataCorrupt, "invalid diffID for layer 1")


@settings(max_examples=40, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.data())
def test_spoiled_archives_load_whole_or_not_at_all(root: DataRoot, data: st.DataObject) -> None:
    good = gzip.compress(archive(), mtime=0) if data.draw(st.booleans()) else archive()
    spoiled = bytearray(good)
    for _ in range(data.draw(st.integers(1, 4))):
        at = data.draw(st.integers(0, len(spoiled) - 1))
        spoiled[at] = data.draw(st.integers(0, 255))
    if data.draw(st.booleans()):
        spoiled = spoiled[: data.draw(st.integers(0, len(spoiled)))]
    try:
        loaded = load_images(root, io.BytesIO(bytes(spoiled)))
    except DockyardError:
        nothing_left(root)
        return
    assert [item.name for item in loaded] == ["docker.io/bad/image:1"]
    assert root.leases.leases() == []
    root.images.delete("docker.io/bad/image:1")
    root.gc()
    nothing_left(root)
