"""Volume names and driver options, checked and worded as dockerd 20.10's local driver does."""

from __future__ import annotations

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from dockyard.errors import InvalidArgument
from dockyard.sys.flags import MS_BIND, MS_NOEXEC, MS_NOSUID, MS_RDONLY, MS_REC, MS_REMOUNT
from dockyard.sys.recording import Call, RecordingSyscalls
from dockyard.volumes.names import anonymous_name, is_valid_name, validate_name
from dockyard.volumes.options import (
    MS_NOATIME,
    MS_SHARED,
    MountOptions,
    mount_filesystem,
    parse_options,
)

_DOCKER_NAME = re.compile(r"^[a-zA-Z0-9][a-zA-Z0-9_.-]+$")


@pytest.mark.parametrize("name", ["ab", "pgdata", "tracecomp_tdata", "a.b-c_d", "0x", "A1"])
def test_valid_names(name: str) -> None:
    validate_name(name)
    assert is_valid_name(name)


def test_invalid_names_are_worded_as_dockerd() -> None:
    with pytest.raises(InvalidArgument) as short:
        validate_name("x")
    assert str(short.value) == (
        "volume name is too short, names should be at least two alphanumeric characters")
    with pytest.raises(InvalidArgument) as slash:
        validate_name("a/b")
    assert str(slash.value) == (
        '"a/b" includes invalid characters for a local volume name, only '
        '"[a-zA-Z0-9][a-zA-Z0-9_.-]" are allowed. If you intended to pass a host directory, '
        "use absolute path")
    for name in ["", ".hidden", "_x", "-x", "a b", "../x", "a\nb", "é1"]:
        assert not is_valid_name(name)
        with pytest.raises(InvalidArgument):
            validate_name(name)


@given(st.text(max_size=8))
def test_names_match_dockers_pattern(name: str) -> None:
    assert is_valid_name(name) == bool(_DOCKER_NAME.match(name) and "\n" not in name)


def test_anonymous_names_are_64_hex_with_a_non_numeric_short_id() -> None:
    for _ in range(50):
        name = anonymous_name()
        assert re.fullmatch("[0-9a-f]{64}", name)
        assert not name[:12].isdigit()
        assert is_valid_name(name)


def test_options() -> None:
    assert parse_options(None) is None
    assert parse_options({}) is None
    assert parse_options({"size": "0"}) is None
    assert parse_options({"type": "tmpfs", "device": "tmpfs", "o": "size=1m,uid=1000"}) == (
        MountOptions("tmpfs", "tmpfs", "size=1m,uid=1000"))
    assert parse_options({"type": "none", "device": "/srv/x", "o": "bind"}) == (
        MountOptions("none", "/srv/x", "bind"))


@pytest.mark.parametrize(("options", "message"), [
    ({"foo": "1"}, 'invalid option: "foo"'),
    ({"type": "tmpfs", "bar": "1", "abc": "2"}, 'invalid option: "abc"'),
    ({"type": "tmpfs"}, 'missing required option: "device"'),
    ({"device": "tmpfs"}, 'missing required option: "type"'),
    ({"o": "size=1m"}, 'missing required option: "device"'),
    ({"o": "size=1m", "device": "x"}, 'missing required option: "type"'),
    ({"type": "tmpfs", "device": "tmpfs", "size": "1m"},
     "quota size requested but no quota support"),
    ({"size": "lots"}, "invalid size: 'lots'"),
])
def test_option_errors(options: dict[str, str], message: str) -> None:
    with pytest.raises(InvalidArgument) as caught:
        parse_options(options)
    assert str(caught.value) == message


def test_o_splits_into_flags_and_data_as_moby_does() -> None:
    assert MountOptions("tmpfs", "tmpfs", "size=1m,noexec,uid=1000,nosuid").flags_and_data() == (
        MS_NOEXEC | MS_NOSUID, "size=1m,uid=1000")
    assert MountOptions("x", "y", "ro,rw,noatime,atime,noatime").flags_and_data() == (
        MS_NOATIME, "")
    assert MountOptions("x", "y", "rbind,defaults").flags_and_data() == (
        MS_BIND | MS_REC, "defaults")


def test_mount_steps() -> None:
    sys = RecordingSyscalls()
    mount_filesystem(MountOptions("tmpfs", "tmpfs", "size=1m"), "/v/_data", sys)
    assert sys.calls == [Call("mount", ("tmpfs", "/v/_data", "tmpfs", 0, "size=1m"))]

    sys = RecordingSyscalls()
    mount_filesystem(MountOptions("none", "/srv/x", "bind,ro,rshared"), "/v/_data", sys)
    assert sys.calls == [
        Call("mount", ("/srv/x", "/v/_data", "none", MS_BIND | MS_RDONLY | MS_REC, "")),
        Call("mount", ("", "/v/_data", "", MS_SHARED | MS_REC, "")),
        Call("mount", ("", "/v/_data", "", MS_BIND | MS_RDONLY | MS_REC | MS_REMOUNT, "")),
    ]

    with pytest.raises(InvalidArgument, match="missing device in volume options"):
        mount_filesystem(MountOptions("tmpfs", "", ""), "/v/_data", RecordingSyscalls())
