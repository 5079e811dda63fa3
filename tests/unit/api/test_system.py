"""The engine endpoints and the system service, with a fixed host and a fake image service."""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from dockyard.api.handlers import system as handlers
from dockyard.api.http import Request
from dockyard.api.router import Router
from dockyard.services.system import (
    Build,
    Host,
    Settings,
    SystemService,
    backing_filesystem,
    rfc3339_nano,
)

BUILD = Build("0.1.0", "abc1234", "2026-05-07T21:09:36.000000000+00:00", "python3.11.7")


def host(data_root: Path, **changes: Any) -> Host:
    values: dict[str, Any] = {
        "kernel": "6.1.0", "operating_system": "Debian GNU/Linux 12 (bookworm)",
        "os_version": "12", "machine": "x86_64", "ncpu": 2, "mem_total": 1 << 30, "name": "vm",
        "cgroup_version": "2", "cgroup_controllers": frozenset({"memory", "cpu", "cpuset", "pids"}),
        "ipv4_forwarding": True, "bridge_nf_iptables": True, "bridge_nf_ip6tables": True,
        "backing_filesystem": "extfs",
    }
    values.update(changes)
    return Host(**values)


class FakeImages:
    def summaries(self) -> list[dict[str, Any]]:
        return [{"Id": "sha256:" + "a" * 64, "Size": 10}, {"Id": "sha256:" + "b" * 64, "Size": 5}]

    def layers_size(self) -> int:
        return 15


def service(tmp_path: Path, images: FakeImages | None = None, **host_changes: Any) -> SystemService:
    settings = Settings("engine-1", tmp_path / "data", tmp_path / "exec", "overlayfs")
    return SystemService(
        BUILD, settings, images, host=lambda root: host(root, **host_changes),
        clock=lambda: 1_795_811_148_371_104_540,
    )


def test_version(tmp_path: Path) -> None:
    version = service(tmp_path).version()
    assert version["Version"] == "0.1.0"
    assert (version["ApiVersion"], version["MinAPIVersion"]) == ("1.41", "1.24")
    assert (version["GoVersion"], version["GitCommit"], version["Os"]) == (
        "python3.11.7", "abc1234", "linux"
    )
    assert version["Arch"] in {"amd64", "arm64", "arm", "386", "ppc64le", "s390x", "riscv64"}
    assert version["Platform"] == {"Name": "dockyard"}
    engine = version["Components"][0]
    assert (engine["Name"], engine["Version"]) == ("Engine", "0.1.0")
    assert engine["Details"]["MinAPIVersion"] == "1.24"


def test_info_counts_images_and_reports_the_host(tmp_path: Path) -> None:
    info = service(tmp_path, FakeImages()).info()
    assert (info["ID"], info["Images"], info["Containers"]) == ("engine-1", 2, 0)
    assert (info["Driver"], info["DriverStatus"]) == (
        "overlayfs", [["Backing Filesystem", "extfs"], ["Supports d_type", "true"]]
    )
    assert info["DockerRootDir"] == str(tmp_path / "data")
    assert (info["NCPU"], info["MemTotal"], info["Architecture"]) == (2, 1 << 30, "x86_64")
    assert info["SystemTime"] == "2026-11-27T20:25:48.37110454Z"
    assert info["IndexServerAddress"] == "https://index.docker.io/v1/"
    assert info["Swarm"]["LocalNodeState"] == "inactive"
    assert info["Warnings"] is None
    assert info["MemoryLimit"] and not info["OomKillDisable"]


def test_info_warnings_as_dockerd(tmp_path: Path) -> None:
    info = service(
        tmp_path, ipv4_forwarding=False, cgroup_version="1", cgroup_controllers=frozenset({"cpu"})
    ).info()
    assert info["Warnings"] == [
        "WARNING: No memory limit support",
        "WARNING: No swap limit support",
        "WARNING: No oom kill disable support",
        "WARNING: No cpuset support",
        "WARNING: IPv4 forwarding is disabled",
    ]


def test_disk_usage(tmp_path: Path) -> None:
    assert service(tmp_path, FakeImages()).disk_usage() == {
        "LayersSize": 15,
        "Images": FakeImages().summaries(),
        "Containers": [],
        "Volumes": [],
        "BuildCache": None,
        "BuilderSize": 0,
    }
    assert service(tmp_path).disk_usage()["Images"] == []


def test_rfc3339_nano_trims_like_go() -> None:
    assert rfc3339_nano(0) == "1970-01-01T00:00:00Z"
    assert rfc3339_nano(1_500_000_000) == "1970-01-01T00:00:01.5Z"


def test_backing_filesystem_takes_the_deepest_mount(tmp_path: Path) -> None:
    mountinfo = tmp_path / "mountinfo"
    mountinfo.write_text(
        "22 1 8:1 / / rw,relatime shared:1 - ext4 /dev/vda rw\n"
        "30 22 0:25 / /var/lib rw shared:2 - xfs /dev/vdb rw\n"
        "31 22 0:26 / /var/lib2 rw shared:3 - tmpfs tmpfs rw\n"
    )
    assert backing_filesystem(Path("/var/lib/dockyard"), mountinfo) == "xfs"
    assert backing_filesystem(Path("/srv"), mountinfo) == "extfs"


@dataclass(frozen=True)
class SystemOnly:
    system: SystemService


def dispatch(tmp_path: Path, method: str, path: str) -> tuple[int, dict[str, str], bytes]:
    router = Router(handlers.routes(SystemOnly(service(tmp_path, FakeImages()))))
    response = asyncio.run(router.dispatch(Request(method, path)))
    assert isinstance(response.body, bytes)
    return response.status, response.headers, response.body


@pytest.mark.parametrize(("method", "body"), [("GET", b"OK"), ("HEAD", b"")])
def test_ping(tmp_path: Path, method: str, body: bytes) -> None:
    assert dispatch(tmp_path, method, "/_ping") == (200, {
        "Cache-Control": "no-cache, no-store, must-revalidate",
        "Pragma": "no-cache",
        "Content-Type": "text/plain; charset=utf-8",
    }, body)


def test_version_info_df_routes(tmp_path: Path) -> None:
    for path in ("/v1.41/version", "/info", "/v1.24/system/df"):
        status, headers, body = dispatch(tmp_path, "GET", path)
        assert (status, headers["Content-Type"]) == (200, "application/json")
        assert isinstance(json.loads(body), dict)


def test_plugin_lookup_is_404_naming_the_plugin(tmp_path: Path) -> None:
    status, _, body = dispatch(tmp_path, "GET", "/v1.41/plugins/vieux/sshfs:latest/json")
    assert (status, json.loads(body)) == (404, {"message": 'plugin "vieux/sshfs:latest" not found'})
