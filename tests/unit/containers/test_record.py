"""Container records: times as Go writes them, and a lossless JSON round trip."""

from __future__ import annotations

import json

from hypothesis import given
from hypothesis import strategies as st

from dockyard.containers.config import ContainerConfig, MountSpec, Ulimit, parse_host_config
from dockyard.containers.record import Container, State, format_time, parse_time


def test_format_time() -> None:
    assert format_time(1795811156_808464513) == "2026-11-27T20:25:56.808464513Z"
    assert format_time(1795811156_100000000) == "2026-11-27T20:25:56.1Z"
    assert format_time(1795811156_000000000) == "2026-11-27T20:25:56Z"


@given(st.integers(min_value=0, max_value=4 * 10**18))
def test_time_round_trip(ns: int) -> None:
    assert parse_time(format_time(ns)) == ns


def test_zero_time() -> None:
    assert parse_time("0001-01-01T00:00:00Z") == 0


def test_round_trip() -> None:
    host = parse_host_config(
        {"Binds": ["/a:/b:ro"], "Tmpfs": {"/t": "size=1m"}, "Memory": 64 << 20,
         "Ulimits": [{"Name": "nofile", "Soft": 10, "Hard": 20}], "CapAdd": ["NET_ADMIN"],
         "ConsoleSize": [24, 80], "PidsLimit": 5, "Sysctls": {"net.core.somaxconn": "10"},
         "Devices": [{"PathOnHost": "/dev/null", "PathInContainer": "/dev/n",
                      "CgroupPermissions": "rw"}], "MaskedPaths": ["/proc/x"]},
        default_runtime="dockyard", runtimes=("dockyard",))
    assert host.ulimits == (Ulimit("nofile", 10, 20),)
    assert host.mounts[0] == MountSpec("bind", "/b", "/a", True, (), "ro")
    container = Container(
        id="a" * 64, name="/n", created=format_time(10**18), image_id="sha256:" + "b" * 64,
        config=ContainerConfig(cmd=("sh",), env=("A=1",), labels={"k": "v"}, tty=True),
        host=host, state=State(status="exited", exit_code=3, oom_killed=True),
        restart_count=2, has_started=True, snapshot="a" * 64)
    again = Container.from_json(json.loads(json.dumps(container.to_json())))
    assert again == container
