"""config.json as dockerd 20.10 writes it (the fixture), then the HostConfig options."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from dockyard.containers import ocispec
from dockyard.containers.config import ContainerConfig, parse_host_config
from dockyard.containers.record import Container
from dockyard.containers.users import ExecUser
from dockyard.errors import InvalidArgument

FIXTURE = Path(__file__).parents[2] / "fixtures" / "runtime" / "dockerd-busybox-config.json"
ID = "510eaa7ab4a0654b6fe25c091671b7ef7c19c9c8e8d81a8ddafcd5b415e6da18"
PATHS = ocispec.Paths(rootfs="rootfs", hostname="hostname", hosts="hosts",
                      resolv_conf="resolv.conf", netns="/run/dockyard/netns/x")
ROOT = ExecUser(0, 0, (0,))


def container(host: dict[str, Any] | None = None, **config: Any) -> Container:
    config.setdefault("cmd", ("sleep", "60"))
    config.setdefault("env", ("PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",))
    return Container(id=ID, name="/n", created="", image_id="sha256:x",
                     config=ContainerConfig(**config),
                     host=parse_host_config(host or {}, default_runtime="dockyard",
                                            runtimes=("dockyard",)))


def build(c: Container) -> dict[str, Any]:
    return ocispec.build(c, ROOT, PATHS, "510eaa7ab4a0")


def test_like_dockerd() -> None:
    ours = build(container())
    theirs = json.loads(FIXTURE.read_text())
    theirs["linux"]["cgroupsPath"] = f"/dockyard/{ID}"
    for namespace in theirs["linux"]["namespaces"]:
        if namespace["type"] == "network":
            namespace["path"] = PATHS.netns  # the pinned namespace with lo up
    assert ours == theirs  # Docker's seccomp profile included


def test_host_network_and_none() -> None:
    spec = build(container({"NetworkMode": "host"}))
    assert "network" not in [n["type"] for n in spec["linux"]["namespaces"]]
    assert "sysctl" not in spec["linux"]
    spec = build(container({"NetworkMode": "none"}))
    assert {"type": "network", "path": PATHS.netns} in spec["linux"]["namespaces"]


def test_resources_and_limits() -> None:
    spec = build(container({"Memory": 64 << 20, "MemorySwap": 128 << 20, "NanoCpus": 1_500_000_000,
                            "CpuShares": 512, "PidsLimit": 20, "CpusetCpus": "0",
                            "Ulimits": [{"Name": "nofile", "Soft": 100, "Hard": 200}],
                            "OomScoreAdj": 300}))
    resources = spec["linux"]["resources"]
    assert resources["memory"] == {"limit": 64 << 20, "swap": 128 << 20,
                                   "disableOOMKiller": False}
    assert resources["cpu"] == {"shares": 512, "period": 100000, "quota": 150000, "cpus": "0"}
    assert resources["pids"] == {"limit": 20}
    assert spec["process"]["rlimits"] == [{"type": "RLIMIT_NOFILE", "hard": 200, "soft": 100}]
    assert spec["process"]["oomScoreAdj"] == 300
    quota = build(container({"CpuQuota": 50000, "CpuPeriod": 100000}))["linux"]["resources"]
    assert quota["cpu"] == {"shares": 0, "quota": 50000, "period": 100000}


def test_capabilities() -> None:
    caps = build(container({"CapAdd": ["net_admin"], "CapDrop": ["CHOWN", "CAP_KILL"]}))[
        "process"]["capabilities"]["bounding"]
    assert "CAP_NET_ADMIN" in caps and "CAP_CHOWN" not in caps and "CAP_KILL" not in caps
    assert build(container({"CapDrop": ["ALL"], "CapAdd": ["SETUID"]}))["process"][
        "capabilities"]["effective"] == ["CAP_SETUID"]
    with pytest.raises(InvalidArgument, match='unknown capability: "CAP_BOGUS"'):
        build(container({"CapAdd": ["bogus"]}))


def test_privileged() -> None:
    spec = build(container({"Privileged": True}))
    assert "CAP_SYS_ADMIN" in spec["process"]["capabilities"]["bounding"]
    linux = spec["linux"]
    assert "seccomp" not in linux and "maskedPaths" not in linux
    assert linux["resources"]["devices"] == [{"allow": True, "access": "rwm"}]
    sys_mount = next(m for m in spec["mounts"] if m["destination"] == "/sys")
    assert "ro" not in sys_mount["options"]


def test_security_options() -> None:
    spec = build(container({"SecurityOpt": ["no-new-privileges", "seccomp=unconfined"],
                            "ReadonlyRootfs": True}))
    assert spec["process"]["noNewPrivileges"] is True
    assert "seccomp" not in spec["linux"]
    assert spec["root"] == {"path": "rootfs", "readonly": True}
    profile = json.dumps({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": []})
    assert build(container({"SecurityOpt": [f"seccomp={profile}"]}))["linux"]["seccomp"] == {
        "defaultAction": "SCMP_ACT_ALLOW", "architectures": [], "syscalls": []}


def test_mounts_and_init() -> None:
    spec = build(container({"Binds": ["/host/a:/data/deep:ro"], "Tmpfs": {"/run": "size=1m"},
                            "Init": True}))
    extra = [(m["destination"], m["type"], m["options"]) for m in spec["mounts"][7:]]
    assert extra == [
        ("/run", "tmpfs", ["noexec", "nosuid", "nodev", "size=1m"]),
        ("/data/deep", "bind", ["rbind", "rprivate", "ro"]),
        ("/etc/resolv.conf", "bind", ["rbind", "rprivate"]),
        ("/etc/hostname", "bind", ["rbind", "rprivate"]),
        ("/etc/hosts", "bind", ["rbind", "rprivate"]),
        ("/sbin/docker-init", "bind", ["bind", "ro"]),
    ]
    assert spec["process"]["args"] == ["/sbin/docker-init", "--", "sleep", "60"]
    shm = build(container({"Tmpfs": {"/dev/shm": "exec"}}))["mounts"]
    assert [m["options"] for m in shm if m["destination"] == "/dev/shm"] == [["nosuid", "nodev"]]


def test_process() -> None:
    spec = build(container(tty=True, env=("A=1", "PATH=/bin"), working_dir="/w", user="bob",
                           **{}))
    process = spec["process"]
    assert process["env"] == ["PATH=/bin", "HOSTNAME=510eaa7ab4a0", "TERM=xterm", "A=1"]
    assert (process["terminal"], process["cwd"]) == (True, "/w")
    assert "terminal" not in build(container())["process"]
    sized = build(container({"ConsoleSize": [25, 90]}, tty=True))["process"]
    assert sized["consoleSize"] == {"height": 25, "width": 90}
