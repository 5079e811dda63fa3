"""The volume store without root: records on disk, references, mounts through a fake kernel."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from dockyard.errors import Conflict, InvalidArgument, NotFound
from dockyard.sys.flags import MNT_DETACH
from dockyard.sys.recording import Call, RecordingSyscalls
from dockyard.volumes import Volume, VolumeStore

CID1, CID2 = "a" * 64, "b" * 64
TMPFS = {"type": "tmpfs", "device": "tmpfs", "o": "size=1m"}


@dataclass
class FakeKernel(RecordingSyscalls):
    """Records mount calls and keeps a mountinfo file as the kernel would."""

    mountinfo: Path = Path("/nonexistent")
    points: list[str] = field(default_factory=list)

    def mount(self, source: str, target: str, fstype: str, flags: int = 0,
              data: str = "") -> None:
        super().mount(source, target, fstype, flags, data)
        self.points.append(target)
        self._write()

    def umount(self, target: str, flags: int = 0) -> None:
        super().umount(target, flags)
        self.points.remove(target)
        self._write()

    def _write(self) -> None:
        lines = [f"{i} 1 0:1 / {p.replace(' ', chr(92) + '040')} rw - tmpfs tmpfs rw"
                 for i, p in enumerate(self.points)]
        self.mountinfo.write_text("".join(line + "\n" for line in lines))


class Clock:
    def __init__(self) -> None:
        self.now = 1_795_811_307_000_000_000

    def __call__(self) -> int:
        self.now += 1_000_000_000
        return self.now


@pytest.fixture
def kernel(tmp_path: Path) -> FakeKernel:
    fake = FakeKernel(mountinfo=tmp_path / "mountinfo")
    fake.mountinfo.write_text("")
    return fake


def open_store(tmp_path: Path, kernel: FakeKernel) -> VolumeStore:
    return VolumeStore(tmp_path / "volumes", kernel, clock=Clock(), mountinfo=kernel.mountinfo)


@pytest.fixture
def store(tmp_path: Path, kernel: FakeKernel) -> Iterator[VolumeStore]:
    yield open_store(tmp_path, kernel)


def test_create_writes_the_tree_and_the_record(store: VolumeStore, tmp_path: Path) -> None:
    volume = store.create("pgdata", labels={"k": "v"})
    root = tmp_path / "volumes"
    assert volume == Volume("pgdata", root / "pgdata" / "_data", 1_795_811_308_000_000_000,
                            {"k": "v"}, None)
    assert sorted(os.listdir(root / "pgdata")) == ["_data", "meta.json"]
    assert oct(os.stat(root).st_mode & 0o777) == "0o701"
    assert oct(os.stat(root / "pgdata").st_mode & 0o777) == "0o701"
    assert oct(os.stat(volume.mountpoint).st_mode & 0o777) == "0o755"
    assert json.loads((root / "pgdata" / "meta.json").read_text()) == {
        "Name": "pgdata", "Driver": "local", "Scope": "local",
        "CreatedAt": 1_795_811_308_000_000_000, "Labels": {"k": "v"}, "Options": None,
        "Anonymous": False}
    assert store.get("pgdata") == volume
    assert store.list() == [volume]


def test_a_repeated_create_returns_the_volume_as_it_is(store: VolumeStore) -> None:
    first = store.create("v1", labels={"k": "v"})
    assert store.create("v1", labels={"k": "other"}, options=TMPFS, driver="local") == first
    assert store.list() == [first]


def test_anonymous_volumes(store: VolumeStore) -> None:
    volume = store.create("", reference=CID1)
    assert len(volume.name) == 64 and volume.anonymous
    assert store.users(volume.name) == (CID1,)


def test_create_errors_name_the_volume(store: VolumeStore) -> None:
    cases = [
        ("x", "", None, InvalidArgument, "create x: volume name is too short, names should be "
         "at least two alphanumeric characters"),
        ("a/b", "", None, InvalidArgument, 'create a/b: "a/b" includes invalid characters'),
        ("ok", "nosuch", None, NotFound,
         'create ok: error looking up volume plugin nosuch: plugin "nosuch" not found'),
        ("ok", "", {"foo": "1"}, InvalidArgument, 'create ok: invalid option: "foo"'),
    ]
    for name, driver, options, kind, message in cases:
        with pytest.raises(kind) as caught:
            store.create(name, driver=driver, options=options)
        assert str(caught.value).startswith(message)
    assert store.list() == []


def test_missing_volumes(store: VolumeStore) -> None:
    for call in (lambda: store.get("nosuch"), lambda: store.remove("nosuch"),
                 lambda: store.use("nosuch", CID1), lambda: store.users("nosuch"),
                 lambda: store.mount("nosuch", CID1)):
        with pytest.raises(NotFound) as caught:
            call()
        assert str(caught.value) == "get nosuch: no such volume"
    store.remove("nosuch", force=True)
    store.release("nosuch", CID1)
    store.unmount("nosuch", CID1)


def test_remove_is_refused_while_in_use(store: VolumeStore, tmp_path: Path) -> None:
    store.create("data", reference=CID1)
    store.use("data", CID2)
    store.use("data", CID1)
    for force in (False, True):
        with pytest.raises(Conflict) as caught:
            store.remove("data", force=force)
        assert str(caught.value) == f"remove data: volume is in use - [{CID1}, {CID2}]"
    store.release("data", CID1)
    store.release("data", CID1)
    assert store.users("data") == (CID2,)
    assert store.in_use() == {"data": 1}
    store.release("data", CID2)
    (store.get("data").mountpoint / "file").write_text("x")
    store.remove("data")
    assert store.list() == [] and os.listdir(tmp_path / "volumes") == []


def test_references_survive_a_restart_until_reconciled(tmp_path: Path,
                                                       kernel: FakeKernel) -> None:
    store = open_store(tmp_path, kernel)
    store.create("a1", reference=CID1)
    store.create("a2", reference=CID2)
    again = open_store(tmp_path, kernel)
    assert (again.users("a1"), again.users("a2")) == ((CID1,), (CID2,))
    with pytest.raises(Conflict):
        again.remove("a1")
    again.reconcile(containers={CID2}, running=set())
    assert (again.users("a1"), again.users("a2")) == ((), (CID2,))
    assert open_store(tmp_path, kernel).users("a1") == ()


def test_option_volumes_are_mounted_by_the_first_holder_and_unmounted_by_the_last(
        store: VolumeStore, kernel: FakeKernel) -> None:
    path = store.create("tm", options=TMPFS).mountpoint
    assert store.mount("tm", CID1) == path
    assert store.mount("tm", CID2) == path
    assert store.mount("tm", CID2) == path
    store.unmount("tm", CID1)
    assert kernel.points == [str(path)]
    store.unmount("tm", CID2)
    store.unmount("tm", CID2)
    assert kernel.calls == [Call("mount", ("tmpfs", str(path), "tmpfs", 0, "size=1m")),
                            Call("umount", (str(path), MNT_DETACH))]


def test_a_plain_volume_mounts_nothing(store: VolumeStore, kernel: FakeKernel) -> None:
    path = store.create("plain").mountpoint
    assert store.mount("plain", CID1) == path
    store.unmount("plain", CID1)
    assert kernel.calls == []


def test_mounts_across_a_restart(tmp_path: Path, kernel: FakeKernel) -> None:
    store = open_store(tmp_path, kernel)
    path = str(store.create("tm", options=TMPFS).mountpoint)
    store.mount("tm", CID1)
    again = open_store(tmp_path, kernel)
    again.reconcile(containers={CID1}, running={CID1})
    assert kernel.points == [path]  # the container outlived the daemon: stays mounted
    again.reconcile(containers={CID1}, running=set())
    assert kernel.points == []
    kernel.calls.clear()
    again.reconcile(containers={CID1}, running={CID1})  # holders dropped: nothing to mount
    assert kernel.calls == []


def test_remove_unmounts_what_is_left_first(store: VolumeStore, kernel: FakeKernel) -> None:
    path = str(store.create("tm", options=TMPFS).mountpoint)
    kernel.mount("tmpfs", path, "tmpfs")  # left by a crash
    store.remove("tm")
    assert kernel.points == []
    assert kernel.calls[-1] == Call("umount", (path, MNT_DETACH))


def test_loading_tidies_up(tmp_path: Path, kernel: FakeKernel) -> None:
    root = tmp_path / "volumes"
    (root / ".trash-0123").mkdir(parents=True)
    (root / ".trash-0123" / "f").write_text("x")
    (root / "byhand" / "_data").mkdir(parents=True)
    (root / "not a volume").mkdir()
    store = open_store(tmp_path, kernel)
    store.create("kept")
    (root / "kept" / ".meta.json.1.tmp").write_text("{")
    store = open_store(tmp_path, kernel)
    assert [v.name for v in store.list()] == ["byhand", "kept"]
    assert store.get("byhand").labels is None
    assert sorted(os.listdir(root)) == ["byhand", "kept", "not a volume"]
    assert sorted(os.listdir(root / "kept")) == ["_data", "meta.json"]


def test_size_counts_files_once(store: VolumeStore) -> None:
    path = store.create("sized").mountpoint
    (path / "d").mkdir()
    (path / "d" / "f").write_bytes(b"12345")
    os.link(path / "d" / "f", path / "hard")
    os.symlink("d/f", path / "link")
    assert store.size("sized") == 5 + 3
