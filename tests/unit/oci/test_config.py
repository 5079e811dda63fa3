"""Image configs: the deterministic encoding of new configs, building, and strict reading."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from dockyard import errors
from dockyard.oci.config import (
    ContainerConfig,
    Healthcheck,
    History,
    ImageConfig,
    RootFS,
    rfc3339_nano,
)
from dockyard.oci.digest import Digest
from dockyard.oci.identity import chain_id

A = Digest.of(b"a")
B = Digest.of(b"b")


def test_a_built_config_is_written_like_docker_writes_one() -> None:
    config = ImageConfig(
        architecture="amd64",
        os="linux",
        rootfs=RootFS(diff_ids=(A,)),
        config=ContainerConfig(
            env=("PATH=/bin",),
            cmd=("sh",),
            exposed_ports=("80/tcp", "443/tcp"),
            labels={"z": "<&>", "a": "1"},
            healthcheck=Healthcheck(test=("NONE",)),
        ),
        history=(History(created="2024-01-02T03:04:05Z", created_by="ADD rootfs.tar /"),
                 History(created="2024-01-02T03:04:05Z", created_by="CMD [\"sh\"]",
                         empty_layer=True)),
        created="2024-01-02T03:04:05Z",
    )
    assert config.to_json() == (
        '{"architecture":"amd64",'
        '"config":{"ExposedPorts":{"443/tcp":{},"80/tcp":{}},"Env":["PATH=/bin"],"Cmd":["sh"],'
        '"Labels":{"a":"1","z":"\\u003c\\u0026\\u003e"},"Healthcheck":{"Test":["NONE"]}},'
        '"created":"2024-01-02T03:04:05Z",'
        '"history":[{"created":"2024-01-02T03:04:05Z","created_by":"ADD rootfs.tar /"},'
        '{"created":"2024-01-02T03:04:05Z","created_by":"CMD [\\"sh\\"]","empty_layer":true}],'
        '"os":"linux",'
        f'"rootfs":{{"type":"layers","diff_ids":["{A}"]}}}}'
    ).encode()
    assert config.image_id() == Digest.of(config.to_json())


def test_unset_and_empty_commands_differ() -> None:
    unset = ContainerConfig()
    empty = ContainerConfig(entrypoint=(), cmd=())
    assert (unset.to_dict(), empty.to_dict()) == ({}, {"Entrypoint": [], "Cmd": []})
    nulls = b'{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]},' \
            b'"config":{"Cmd":null,"Entrypoint":null,"Volumes":null,"OnBuild":null,"Labels":null}}'
    assert ImageConfig.from_json(nulls).config == ContainerConfig()


def test_with_layer_and_with_empty_layer() -> None:
    base = ImageConfig.from_json(ImageConfig("amd64", "linux", RootFS(diff_ids=(A,))).to_json())
    assert base.raw is not None
    step = History(created="2024-01-01T00:00:00Z", created_by="RUN x", empty_layer=True)
    grown = base.with_layer(B, step).with_empty_layer(History(created_by="ENV a=b"))
    assert grown.raw is None
    assert grown.rootfs == RootFS(diff_ids=(A, B))
    assert [(h.created_by, h.empty_layer) for h in grown.history] == [
        ("RUN x", False), ("ENV a=b", True),
    ]
    assert grown.chain_id() == chain_id([A, B])
    assert ImageConfig.from_json(grown.to_json()) == grown


def test_rfc3339_nano_is_gos_format() -> None:
    cases = {
        datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC): "2024-01-02T03:04:05Z",
        datetime(2024, 1, 2, 3, 4, 5, 120000, tzinfo=UTC): "2024-01-02T03:04:05.12Z",
        datetime(2024, 1, 2, 3, 4, 5, 1, tzinfo=UTC): "2024-01-02T03:04:05.000001Z",
        datetime(2024, 1, 2, 3, 4, 5, tzinfo=timezone(timedelta(hours=-5, minutes=-30))):
            "2024-01-02T03:04:05-05:30",
    }
    assert {moment: rfc3339_nano(moment) for moment in cases} == cases
    with pytest.raises(errors.InvalidArgument, match="has no time zone"):
        rfc3339_nano(datetime(2024, 1, 2))


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b'{"os":"linux","rootfs":{"type":"layers"}}',
         "invalid image config: architecture: missing"),
        (b'{"architecture":"amd64","os":"linux"}', "invalid image config: rootfs: missing"),
        (b'{"architecture":"amd64","os":"linux","rootfs":{"type":"layers+base"}}',
         "invalid image config: rootfs.type: 'layers+base', want 'layers'"),
        (b'{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":["x"]}}',
         "invalid image config: rootfs.diff_ids[0]: invalid digest 'x': want algorithm:hex"),
        (b'{"architecture":"amd64","os":"linux","rootfs":{"type":"layers"},"config":{"Env":"A"}}',
         "invalid image config: config.Env: want array of strings, got string"),
        (b'{"architecture":"amd64","os":"linux","rootfs":{"type":"layers"},'
         b'"config":{"Healthcheck":{"Interval":"30s"}}}',
         "invalid image config: config.Healthcheck.Interval: want integer, got string"),
        (b'{"architecture":"amd64","os":"linux","rootfs":{"type":"layers"},'
         b'"history":[{"empty_layer":"yes"}]}',
         "invalid image config: history[0].empty_layer: want boolean, got string"),
        (b'{"architecture":"amd64","os":"linux","rootfs":{"type":"layers"},'
         b'"config":{"ExposedPorts":["80/tcp"]}}',
         "invalid image config: config.ExposedPorts: want object, got array"),
    ],
)
def test_reading_errors_name_the_field(data: bytes, message: str) -> None:
    with pytest.raises(errors.InvalidArgument) as caught:
        ImageConfig.from_json(data)
    assert str(caught.value) == message


def test_extra_may_not_shadow_known_fields() -> None:
    with pytest.raises(errors.InvalidArgument, match=r"\['os'\] are known fields"):
        ImageConfig("amd64", "linux", extra={"os": "x"})
    with pytest.raises(errors.InvalidArgument, match=r"\['Cmd'\] are known fields"):
        ContainerConfig(extra={"Cmd": []})
