"""Flag values as the docker CLI parses them (go-units, Go durations, go-connections ports),
``--since`` timestamps, and the ps columns (strconv.Quote, Ellipsis, port groups)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from dockyard.cli import optvalues
from dockyard.cli.commands.ps import display_ports, go_quote, ps_format
from dockyard.cli.formatter import ellipsis
from dockyard.cli.timestamps import get_timestamp


def test_sizes() -> None:
    assert [optvalues.ram_in_bytes(t) for t in ("100", "64m", "1.5g", "512MiB", "2kb", "7b",
                                                 "1 k")] == [
        100, 64 << 20, 3 << 29, 512 << 20, 2048, 7, 1024]
    for text, message in (("1x", "invalid suffix: 'x'"), ("abc", "invalid size: 'abc'"),
                          ("1kbb", "invalid suffix: 'kbb'"), ("-1", "invalid size: '-1'")):
        with pytest.raises(ValueError, match=message):
            optvalues.ram_in_bytes(text)
    assert optvalues.mem_swap("-1") == -1


def test_durations() -> None:
    assert [optvalues.duration_ns(t) for t in ("0", "5s", "1m30s", "1.5h", "300ms", "-2s",
                                                "1us")] == [
        0, 5 * 10**9, 90 * 10**9, 5400 * 10**9, 3 * 10**8, -2 * 10**9, 1000]
    with pytest.raises(ValueError, match='time: invalid duration "5"'):
        optvalues.duration_ns("5")
    with pytest.raises(ValueError, match='time: unknown unit "x" in duration "5x"'):
        optvalues.duration_ns("5x")


@given(st.integers(min_value=0, max_value=10**6), st.integers(min_value=0, max_value=999999999))
def test_cpus_are_exact_nano_cpus(whole: int, fraction: int) -> None:
    text = f"{whole}.{fraction:09d}"
    assert optvalues.nano_cpus(text) == whole * 10**9 + fraction


def test_cpus_errors() -> None:
    with pytest.raises(ValueError, match="failed to parse abc as a rational number"):
        optvalues.nano_cpus("abc")
    with pytest.raises(ValueError, match="value is too precise"):
        optvalues.nano_cpus("0.0000000001")


def test_ulimits_and_restart_policies() -> None:
    assert optvalues.ulimit("nofile=10:20") == {"Name": "nofile", "Hard": 20, "Soft": 10}
    assert optvalues.ulimit("nproc=5") == {"Name": "nproc", "Hard": 5, "Soft": 5}
    with pytest.raises(ValueError, match="soft limit must be less than or equal to hard"):
        optvalues.ulimit("nofile=20:10")
    assert optvalues.restart_policy("on-failure:3") == {"Name": "on-failure",
                                                        "MaximumRetryCount": 3}
    with pytest.raises(ValueError, match="no policy provided before colon"):
        optvalues.restart_policy(":3")


def test_ports() -> None:
    exposed, bindings = optvalues.port_specs(["8080:80", "127.0.0.1::53/udp", "90-91"])
    assert exposed == {"80/tcp": {}, "53/udp": {}, "90/tcp": {}, "91/tcp": {}}
    assert bindings == {"80/tcp": [{"HostIp": "", "HostPort": "8080"}],
                        "53/udp": [{"HostIp": "127.0.0.1", "HostPort": ""}],
                        "90/tcp": [{"HostIp": "", "HostPort": ""}],
                        "91/tcp": [{"HostIp": "", "HostPort": ""}]}
    with pytest.raises(ValueError, match=r"invalid IP address: 1\.2\.3"):
        optvalues.port_specs(["1.2.3:80:80"])


def test_mounts_and_devices() -> None:
    assert optvalues.mount("type=bind,src=/a,dst=/b,ro,bind-propagation=rshared") == {
        "Type": "bind", "Source": "/a", "Target": "/b", "ReadOnly": True,
        "BindOptions": {"Propagation": "rshared"}}
    with pytest.raises(ValueError, match="cannot mix 'tmpfs-\\*' options with mount type"):
        optvalues.mount("type=bind,dst=/b,tmpfs-size=1m")
    with pytest.raises(ValueError, match="target is required"):
        optvalues.mount("type=tmpfs")
    assert optvalues.device("/dev/fuse") == {"PathOnHost": "/dev/fuse",
                                             "PathInContainer": "/dev/fuse",
                                             "CgroupPermissions": "rwm"}
    assert optvalues.device("/dev/a:rw")["CgroupPermissions"] == "rw"


def test_timestamps() -> None:
    now = 1795811262.5
    assert get_timestamp("10m", now) == str(int(now - 600))
    assert get_timestamp("1795811000", now) == "1795811000"
    assert get_timestamp("2026-11-27T20:26:06.179635556Z", now) == "1795811166.179635556"
    assert get_timestamp("2026-11-27T20:26:06+01:00", now) == "1795807566.000000000"
    with pytest.raises(ValueError):
        get_timestamp("tomorrow", now)


def test_ps_columns() -> None:
    assert go_quote('sh -c "echo\ta"') == '"sh -c \\"echo\\ta\\""'
    assert ellipsis("sleep 3600 && echo done", 20) == "sleep 3600 && echo \u2026"
    assert ellipsis("short", 20) == "short"
    assert ellipsis("中文字符", 5) == "中文…"  # two cells each
    assert ellipsis("abc", 0) == ""
    ports = [{"PrivatePort": 80, "Type": "tcp"}, {"PrivatePort": 81, "Type": "tcp"},
             {"IP": "0.0.0.0", "PrivatePort": 90, "PublicPort": 9090, "Type": "tcp"},
             {"IP": "::", "PrivatePort": 90, "PublicPort": 9090, "Type": "tcp"}]
    assert display_ports(ports) == "80-81/tcp, 0.0.0.0:9090->90/tcp, [::]:9090->90/tcp"
    assert ps_format("", True, False) == "{{.ID}}"
    assert ps_format("table", False, True).endswith("\t{{.Names}}\t{{.Size}}")


def test_ps_image_names_are_familiar() -> None:
    from dockyard.cli.commands.ps import familiar

    assert [familiar(n) for n in (
        "busybox", "busybox:latest", "docker.io/library/busybox:1", "docker.io/me/app",
        "localhost:5000/a/b:t", "busybox@sha256:" + "a" * 64, "b:t@sha256:" + "a" * 64,
        "Bad/Name")] == [
        "busybox", "busybox:latest", "busybox:1", "me/app", "localhost:5000/a/b:t", "busybox",
        "b:t", "Bad/Name"]
