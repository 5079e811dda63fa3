"""config.json parsing: the documents runc and dockerd write load whole; errors name the field."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from dockyard.errors import InvalidArgument
from dockyard.runtime.spec import (
    Capabilities,
    Hooks,
    Linux,
    Mount,
    Namespace,
    Process,
    Rlimit,
    Root,
    Spec,
    User,
    parse,
    parse_process,
)
from dockyard.runtime.specread import read_teardown

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "runtime"

RUNC_SPEC = {
    "ociVersion": "1.0.2-dev",
    "process": {
        "terminal": True, "user": {"uid": 0, "gid": 0}, "args": ["sh"],
        "env": ["PATH=/usr/bin:/bin", "TERM=xterm"], "cwd": "/",
        "capabilities": {"bounding": ["CAP_KILL"], "effective": ["CAP_KILL"],
                         "permitted": ["CAP_KILL"], "ambient": ["CAP_KILL"]},
        "rlimits": [{"type": "RLIMIT_NOFILE", "hard": 1024, "soft": 1024}],
        "noNewPrivileges": True,
    },
    "root": {"path": "rootfs", "readonly": True},
    "hostname": "runc",
    "mounts": [
        {"destination": "/proc", "type": "proc", "source": "proc"},
        {"destination": "/dev", "type": "tmpfs", "source": "tmpfs",
         "options": ["nosuid", "strictatime", "mode=755", "size=65536k"]},
    ],
    "linux": {
        "resources": {"devices": [{"allow": False, "access": "rwm"}]},
        "namespaces": [{"type": "pid"}, {"type": "network"}, {"type": "mount"}],
        "maskedPaths": ["/proc/kcore"],
        "readonlyPaths": ["/proc/sys"],
    },
}  # fmt: skip


def load(document: object) -> Spec:
    return parse(json.dumps(document).encode())


def test_runc_spec_loads_whole() -> None:
    spec = load(RUNC_SPEC)
    assert spec.process == Process(
        args=("sh",), cwd="/", terminal=True, user=User(uid=0, gid=0),
        env=("PATH=/usr/bin:/bin", "TERM=xterm"),
        capabilities=Capabilities(bounding=("CAP_KILL",), effective=("CAP_KILL",),
                                  permitted=("CAP_KILL",), ambient=("CAP_KILL",)),
        rlimits=(Rlimit(type="RLIMIT_NOFILE", soft=1024, hard=1024),),
        no_new_privileges=True,
    )
    assert spec.root == Root(path="rootfs", readonly=True)
    assert spec.mounts == (
        Mount(destination="/proc", type="proc", source="proc"),
        Mount(destination="/dev", type="tmpfs", source="tmpfs",
              options=("nosuid", "strictatime", "mode=755", "size=65536k")),
    )
    assert spec.linux.namespaces == (Namespace(type="pid"), Namespace(type="network"),
                                     Namespace(type="mount"))
    assert spec.linux.masked_paths == ("/proc/kcore",)
    assert spec.hooks == Hooks()


def test_dockerd_config_loads_whole() -> None:
    spec = parse((FIXTURES / "dockerd-busybox-config.json").read_bytes())
    assert spec.process is not None and spec.linux.seccomp is not None
    assert spec.linux.seccomp.default_action == "SCMP_ACT_ERRNO"
    assert len(spec.linux.seccomp.syscalls) > 10
    assert [m.type for m in spec.mounts][:3] == ["proc", "tmpfs", "devpts"]
    assert spec.linux.cgroups_path.startswith("/docker/")
    assert spec.linux.resources is not None
    assert spec.process.oom_score_adj == 0


def test_delete_reads_only_hooks_annotations_and_namespaces() -> None:
    document = {**RUNC_SPEC, "annotations": {"a": "b"},
                "hooks": {"poststop": [{"path": "/bin/true", "args": ["true", "x"]}]}}
    full = load(document)
    assert read_teardown(json.dumps(document).encode()) == Spec(
        oci_version="1.0.2-dev", hooks=full.hooks, annotations={"a": "b"},
        linux=Linux(namespaces=full.linux.namespaces))
    docker = read_teardown((FIXTURES / "dockerd-busybox-config.json").read_bytes())
    assert docker.linux.namespace("pid") == Namespace(type="pid")
    with pytest.raises(InvalidArgument, match=r"config\.json: ociVersion: missing"):
        read_teardown(b"{}")


def test_defaults_of_an_empty_spec() -> None:
    assert load({"ociVersion": "1.2.0"}) == Spec(oci_version="1.2.0", linux=Linux())


@pytest.mark.parametrize(("document", "message"), [
    ({}, "config.json: ociVersion: missing"),
    ({"ociVersion": 1}, "config.json: ociVersion: want string, got number"),
    ({"ociVersion": "1", "linux": {"namespaces": [{"type": "pid"}, {"type": "ipc"},
                                                   {"type": "foo"}]}},
     'config.json: linux.namespaces[2].type: unknown namespace type "foo"'),
    ({"ociVersion": "1", "linux": {"namespaces": [{"type": "pid"}, {"type": "pid"}]}},
     'config.json: linux.namespaces[1].type: duplicate namespace type "pid"'),
    ({"ociVersion": "1", "process": {"args": [], "cwd": "/"}},
     "config.json: process.args: must not be empty"),
    ({"ociVersion": "1", "process": {"args": ["x"], "cwd": "tmp"}},
     "config.json: process.cwd: 'tmp' is not an absolute path"),
    ({"ociVersion": "1", "process": {"args": ["x"], "cwd": "/", "user": {"uid": -1}}},
     "config.json: process.user.uid: -1 is out of range [0, 4294967295]"),
    ({"ociVersion": "1", "process": {"args": ["x", 3], "cwd": "/"}},
     "config.json: process.args[1]: want string"),
    ({"ociVersion": "1", "process": {"args": ["x"], "cwd": "/",
                                     "rlimits": [{"type": "RLIMIT_FOO", "soft": 1, "hard": 1}]}},
     "config.json: process.rlimits[0].type: unknown rlimit type 'RLIMIT_FOO'"),
    ({"ociVersion": "1", "mounts": [{"destination": "proc", "type": "proc"}]},
     "config.json: mounts[0].destination: 'proc' is not an absolute path"),
    ({"ociVersion": "1", "linux": {"rootfsPropagation": "sideways"}},
     "config.json: linux.rootfsPropagation: unsupported propagation 'sideways'"),
    ({"ociVersion": "1", "linux": {"resources": {"devices": [{"access": "rwx",
                                                              "allow": True}]}}},
     "config.json: linux.resources.devices[0].access: 'rwx' is not a combination of r, w "
     "and m"),
    ({"ociVersion": "1", "linux": {"seccomp": {"defaultAction": "SCMP_ACT_ALLOW",
                                               "syscalls": [{"names": [], "action": "x"}]}}},
     "config.json: linux.seccomp.syscalls[0].names: must not be empty"),
    ({"ociVersion": "1", "annotations": {"a": 1}},
     "config.json: annotations['a']: want string"),
    ({"ociVersion": "1", "hostname": True}, "config.json: hostname: want string, got boolean"),
])  # fmt: skip
def test_errors_name_the_field(document: object, message: str) -> None:
    with pytest.raises(InvalidArgument) as caught:
        load(document)
    assert str(caught.value) == message


@pytest.mark.parametrize(("data", "message"), [
    (b'{"ociVersion": "1", "ociVersion": "2"}', "config.json: duplicate key 'ociVersion'"),
    (b'{"ociVersion": NaN}', "config.json: NaN is not JSON"),
    (b'{"ociVersion": "1"} {}', "config.json: extra data after the JSON value at offset 19"),
    (b"\xff", "config.json: not UTF-8 at byte 0"),
    (b"[1]", "config.json: want a JSON object"),
])  # fmt: skip
def test_malformed_documents(data: bytes, message: str) -> None:
    with pytest.raises(InvalidArgument) as caught:
        parse(data)
    assert str(caught.value) == message


def test_unknown_fields_are_ignored_as_runc_ignores_them() -> None:
    assert load({"ociVersion": "1", "vm": {"x": 1}, "linux": {"intelRdt": {}}}) == load(
        {"ociVersion": "1"})


def test_process_json_of_exec_names_its_file() -> None:
    with pytest.raises(InvalidArgument) as caught:
        parse_process(b'{"args": ["sh"]}', "/tmp/p.json")
    assert str(caught.value) == "/tmp/p.json: cwd: missing"
    assert parse_process(b'{"args": ["sh"], "cwd": "/"}', "p").args == ("sh",)


JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=5),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner,
                                                                 max_size=4),
    max_leaves=12,
)
KEYS = st.sampled_from(["ociVersion", "process", "root", "mounts", "linux", "hooks",
                        "hostname", "annotations"])


@given(st.dictionaries(KEYS, JSON_VALUES, max_size=6))
def test_any_document_parses_or_fails_with_invalid_argument(document: dict[str, object]) -> None:
    try:
        load(document)
    except InvalidArgument as exc:
        assert str(exc).startswith("config.json: ")


@pytest.mark.parametrize(("version", "domainname"), [
    ("1.0.2-dev", ""), ("1.0.0", ""), ("1.1.0", "example.org"), ("1.2.0-rc.1", "example.org"),
    ("bogus", ""),
])  # fmt: skip
def test_domainname_is_a_field_from_1_1_on(version: str, domainname: str) -> None:
    spec = load({"ociVersion": version, "domainname": "example.org"})
    assert spec.domainname == domainname
