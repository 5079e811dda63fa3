"""The volume service: dockerd 20.10's JSON shapes, filters, prune and disk usage."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from dockyard.errors import Conflict, InvalidArgument, NotFound
from dockyard.services.volumes import VolumeService, render, rfc3339_local
from dockyard.sys.recording import RecordingSyscalls
from dockyard.volumes import VolumeStore

CID = "c" * 64
CREATED = 1_795_811_307_000_000_000  # 2026-11-27T20:28:27Z


@pytest.fixture
def utc() -> Iterator[None]:
    """The daemon's zone set to UTC (CreatedAt is local time), restored afterwards."""
    old = os.environ.get("TZ")
    os.environ["TZ"] = "UTC"
    time.tzset()
    try:
        yield
    finally:
        if old is None:
            del os.environ["TZ"]
        else:
            os.environ["TZ"] = old
        time.tzset()


@pytest.fixture
def service(tmp_path: Path, utc: None) -> VolumeService:
    store = VolumeStore(tmp_path / "volumes", RecordingSyscalls(), clock=lambda: CREATED)
    return VolumeService(store)


def test_create_answers_like_the_trace(service: VolumeService, tmp_path: Path) -> None:
    assert service.create({"Driver": "local", "Name": "tracevol"}) == {
        "CreatedAt": "2026-11-27T20:28:27Z", "Driver": "local", "Labels": None,
        "Mountpoint": f"{tmp_path}/volumes/tracevol/_data", "Name": "tracevol",
        "Options": None, "Scope": "local"}
    created = service.create({"Driver": "local", "Labels": {"k": "v"}, "Name": "tracevol2"})
    assert list(created) == ["CreatedAt", "Driver", "Labels", "Mountpoint", "Name", "Options",
                             "Scope"]
    assert created["Labels"] == {"k": "v"}
    again = service.create({"Name": "tracevol2", "Labels": {"other": "1"}})
    assert again == created


def test_create_keeps_empty_maps_and_sorts_keys(service: VolumeService) -> None:
    made = service.create({"Name": "e1", "Labels": {}, "DriverOpts": {}})
    assert (made["Labels"], made["Options"]) == ({}, {})
    made = service.create({"Name": "e2", "DriverOpts": {"type": "tmpfs", "o": "size=1m",
                                                        "device": "tmpfs"}})
    assert list(made["Options"]) == ["device", "o", "type"]
    anonymous = service.create({})
    assert len(anonymous["Name"]) == 64


@pytest.mark.parametrize(("body", "message"), [
    ({"Name": 5}, "json: cannot unmarshal number into Go struct field VolumeCreateBody.Name "
                  "of type string"),
    ({"Labels": {"a": 1}}, "json: cannot unmarshal number into Go struct field "
                           "VolumeCreateBody.Labels of type string"),
    ({"DriverOpts": ["x"]}, "json: cannot unmarshal array into Go struct field "
                            "VolumeCreateBody.DriverOpts of type map[string]string"),
    ([], "json: cannot unmarshal array into Go value of type volume.VolumeCreateBody"),
])
def test_create_body_errors(service: VolumeService, body: object, message: str) -> None:
    with pytest.raises(InvalidArgument) as caught:
        service.create(body)
    assert str(caught.value) == message


def test_created_at_is_local_time_as_go_prints_it(utc: None) -> None:
    assert rfc3339_local(CREATED + 999_999_999) == "2026-11-27T20:28:27Z"
    for zone, text in (("Asia/Kolkata", "2026-11-28T01:58:27+05:30"),
                       ("America/New_York", "2026-11-27T15:28:27-05:00")):
        os.environ["TZ"] = zone
        time.tzset()
        assert rfc3339_local(CREATED) == text


def names(listed: dict[str, object]) -> list[str]:
    assert listed["Warnings"] is None
    volumes = listed["Volumes"]
    assert isinstance(volumes, list)
    return [v["Name"] for v in volumes]


def test_list_filters(service: VolumeService) -> None:
    service.create({"Name": "app_data", "Labels": {"com.x.project": "app", "tier": "db"}})
    service.create({"Name": "app_logs", "Labels": {"com.x.project": "app"}})
    service.create({"Name": "other"})
    service.store.use("app_logs", CID)
    assert names(service.list_volumes({})) == ["app_data", "app_logs", "other"]
    assert names(service.list_volumes({"label": ["com.x.project=app"]})) == [
        "app_data", "app_logs"]
    assert names(service.list_volumes({"label": ["com.x.project", "tier=db"]})) == ["app_data"]
    assert names(service.list_volumes({"label": ["tier=web"]})) == []
    assert names(service.list_volumes({"name": ["app"]})) == ["app_data", "app_logs"]
    assert names(service.list_volumes({"name": ["^o.*r$", "["]})) == ["other"]
    assert names(service.list_volumes({"name": ["app_data", "zzz"]})) == ["app_data"]
    assert names(service.list_volumes({"driver": ["local"]})) == [
        "app_data", "app_logs", "other"]
    assert names(service.list_volumes({"driver": ["loc"]})) == []
    assert names(service.list_volumes({"dangling": ["true"]})) == ["app_data", "other"]
    assert names(service.list_volumes({"dangling": ["0"]})) == ["app_logs"]
    assert names(service.list_volumes({"dangling": ["1"], "name": ["app"]})) == ["app_data"]


@pytest.mark.parametrize(("filters", "message"), [
    ({"foo": ["x"]}, "Invalid filter 'foo'"),
    ({"label!": ["x"]}, "Invalid filter 'label!'"),
    ({"dangling": ["maybe", "no"]}, "Invalid filter 'dangling=[maybe no]'"),
])
def test_list_filter_errors(service: VolumeService, filters: dict[str, list[str]],
                            message: str) -> None:
    with pytest.raises(InvalidArgument) as caught:
        service.list_volumes(filters)
    assert str(caught.value) == message


def test_inspect_and_remove(service: VolumeService) -> None:
    made = service.create({"Name": "v1"})
    assert service.inspect("v1") == made
    service.store.use("v1", CID)
    with pytest.raises(Conflict) as caught:
        service.remove("v1", force=True)
    assert str(caught.value) == f"remove v1: volume is in use - [{CID}]"
    service.store.release("v1", CID)
    service.remove("v1")
    with pytest.raises(NotFound) as missing:
        service.inspect("v1")
    assert str(missing.value) == "get v1: no such volume"
    service.remove("v1", force=True)


def test_prune_removes_unused_volumes_without_options(service: VolumeService) -> None:
    for name in ("keep_used", "keep_opts", "p1", "p2", "keep_label"):
        service.create({"Name": name, "Labels": {"keep": "1"} if name == "keep_label" else None})
    service.create({"Name": "tm", "DriverOpts": {"type": "tmpfs", "device": "tmpfs"}})
    service.store.use("keep_used", CID)
    (service.store.get("p1").mountpoint / "f").write_bytes(b"123")
    os.symlink("abcd", service.store.get("p2").mountpoint / "l")
    assert service.prune({"label!": ["keep"], "label": []}) == {
        "VolumesDeleted": ["keep_opts", "p1", "p2"], "SpaceReclaimed": 7}
    assert names(service.list_volumes({})) == ["keep_label", "keep_used", "tm"]
    assert service.prune({"label": ["nomatch"]}) == {"VolumesDeleted": [], "SpaceReclaimed": 0}
    assert service.prune({"label": ["keep=1"]}) == {
        "VolumesDeleted": ["keep_label"], "SpaceReclaimed": 0}
    with pytest.raises(InvalidArgument, match="Invalid filter 'all'"):
        service.prune({"all": ["true"]})
    with pytest.raises(InvalidArgument, match="Invalid filter 'dangling'"):
        service.prune({"dangling": ["true"]})


def test_disk_usage(service: VolumeService) -> None:
    service.create({"Name": "used"})
    service.create({"Name": "tm", "DriverOpts": {"type": "tmpfs", "device": "tmpfs"}})
    service.store.use("used", CID)
    (service.store.get("used").mountpoint / "f").write_bytes(b"x" * 10)
    assert service.disk_usage() == [
        {**render(service.store.get("used")), "UsageData": {"RefCount": 1, "Size": 10}}]


def test_system_df_lists_the_volumes(service: VolumeService, tmp_path: Path) -> None:
    from dockyard.services.system import Build, Settings, SystemService

    service.create({"Name": "v1"})
    system = SystemService(Build("0", "x", "t", "py"),
                           Settings("id", tmp_path / "data", tmp_path / "exec", "native"),
                           volumes=service)
    assert system.disk_usage()["Volumes"] == [
        {**render(service.store.get("v1")), "UsageData": {"RefCount": 0, "Size": 0}}]
