"""POST /commit's pure parts: the query as dockerd reads it, dockerd's merge, and changes
applied to a container's config."""

from __future__ import annotations

import pytest

from dockyard.containers.config import ContainerConfig
from dockyard.errors import InvalidArgument
from dockyard.services.container_commit import (
    CommitRequest,
    from_image_config,
    merge,
    parse_request,
    to_image_config,
)
from dockyard.services.image_changes import apply_changes


def test_parse_request() -> None:
    query = {"container": ["tm2"], "repo": ["docker.io/library/tracecommit"], "tag": ["1"],
             "author": [""], "comment": [""]}  # misc.txt
    assert parse_request(query, {}) == CommitRequest("tm2", "docker.io/library/tracecommit", "1")
    assert parse_request({"container": ["c"], "pause": ["0"], "changes": ["ENV A=1", "CMD x"]},
                         {"Cmd": ["y"]}) == CommitRequest(
        "c", pause=False, changes=("ENV A=1", "CMD x"), config={"Cmd": ["y"]})
    with pytest.raises(InvalidArgument):
        parse_request({"container": ["c"], "repo": ["a@sha256:" + "0" * 64]}, {})
    with pytest.raises(InvalidArgument):
        parse_request({"container": ["c"], "repo": ["a"], "tag": ["bad tag"]}, {})


def test_merge_as_dockerd() -> None:
    container = ContainerConfig(env=("A=1", "B=2"), cmd=("sh",), labels={"k": "v"},
                                exposed_ports={"80/tcp": {}}, working_dir="/w", user="u")
    user = ContainerConfig(env=("B=3",), labels={"x": "y"}, exposed_ports={"90/tcp": {}})
    merged = merge(user, container)
    assert merged.env == ("B=3", "A=1")
    assert merged.cmd == ("sh",) and merged.entrypoint is None
    assert merged.labels == {"k": "v", "x": "y"}
    assert set(merged.exposed_ports or {}) == {"80/tcp", "90/tcp"}
    assert (merged.working_dir, merged.user) == ("/w", "u")
    assert merge(ContainerConfig(entrypoint=("e",)), container).cmd is None


def test_changes_keep_the_docker_fields() -> None:
    base = ContainerConfig(hostname="abc", image="busybox", env=("A=1",), cmd=("sh",),
                           attach_stdout=True)
    changed = apply_changes(['CMD ["echo", "x"]', "EXPOSE 8080", "LABEL k=v", "ENV B=2"],
                            to_image_config(base))
    result = from_image_config(base, changed)
    assert result.to_json() == {
        "Hostname": "abc", "Domainname": "", "User": "", "AttachStdin": False,
        "AttachStdout": True, "AttachStderr": False, "ExposedPorts": {"8080/tcp": {}},
        "Tty": False, "OpenStdin": False, "StdinOnce": False, "Env": ["A=1", "B=2"],
        "Cmd": ["echo", "x"], "Image": "busybox", "Volumes": None, "WorkingDir": "",
        "Entrypoint": None, "OnBuild": None, "Labels": {"k": "v"}}
