"""Docker's create options parsed and checked as dockerd does."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from dockyard.containers.config import (
    ContainerConfig,
    MountSpec,
    check_name,
    check_network,
    parse_bind,
    parse_host_config,
)
from dockyard.errors import InvalidArgument, NotFound

TRACES = Path("/work/shared/docs/api-traces")

# The body docker CLI 28 sends for `docker run --rm busybox echo hi` (run_rm_echo.txt).
CLI_BODY = {
    "Hostname": "", "Domainname": "", "User": "", "AttachStdin": False, "AttachStdout": True,
    "AttachStderr": True, "Tty": False, "OpenStdin": False, "StdinOnce": False, "Env": None,
    "Cmd": ["echo", "hi"], "Image": "busybox", "Volumes": {}, "WorkingDir": "",
    "Entrypoint": None, "OnBuild": None, "Labels": {},
    "HostConfig": {"Binds": None, "ContainerIDFile": "", "LogConfig": {"Type": "", "Config": {}},
                   "NetworkMode": "default", "PortBindings": {},
                   "RestartPolicy": {"Name": "no", "MaximumRetryCount": 0}, "AutoRemove": True,
                   "ConsoleSize": [0, 0], "CapAdd": None, "CapDrop": None, "Dns": [],
                   "ShmSize": 0, "CpuShares": 0, "Memory": 0, "NanoCpus": 0, "PidsLimit": 0,
                   "Ulimits": [], "MemorySwappiness": -1, "OomKillDisable": False,
                   "MaskedPaths": None, "ReadonlyPaths": None},
    "NetworkingConfig": {"EndpointsConfig": {"default": {}}},
}


def host(obj: dict[str, object]):  # type: ignore[no-untyped-def]
    return parse_host_config(obj, default_runtime="dockyard", runtimes=("dockyard", "runc"),
                             ncpu=2)


def test_cli_body() -> None:
    config = ContainerConfig.from_json(CLI_BODY)
    assert (config.cmd, config.image, config.attach_stdout, config.env) == (
        ("echo", "hi"), "busybox", True, None)
    hc = host(CLI_BODY["HostConfig"])  # type: ignore[arg-type]
    assert (hc.auto_remove, hc.network_mode, hc.log_type, hc.runtime, hc.shm_size,
            hc.pids_limit, hc.memory_swappiness) == (
        True, "default", "json-file", "dockyard", 64 << 20, None, None)


def test_trace_bodies_parse() -> None:
    if not TRACES.is_dir():
        pytest.skip("no api traces here")
    bodies = 0
    for trace in TRACES.glob("*.txt"):
        for line in trace.read_text().splitlines():
            if line.startswith('{"Hostname"'):
                body = json.loads(line.replace("\\\\", "\\").removesuffix("\\n"))
                ContainerConfig.from_json(body)
                bodies += 1
    assert bodies > 5


def test_image_defaults() -> None:
    image = {"Env": ["PATH=/bin", "A=1"], "Cmd": ["sh"], "WorkingDir": "/w", "User": "u",
             "Labels": {"l": "image", "m": "x"}, "Entrypoint": None, "StopSignal": "SIGQUIT"}
    mine = ContainerConfig(env=("A=2", "B=3"), labels={"l": "mine"}, image="i")
    merged = mine.with_image_defaults(image)
    assert merged.env == ("PATH=/bin", "A=2", "B=3")
    assert (merged.cmd, merged.working_dir, merged.user, merged.stop_signal) == (
        ("sh",), "/w", "u", "SIGQUIT")
    assert merged.labels == {"l": "mine", "m": "x"}
    # a container's entrypoint drops the image's cmd, as dockerd does
    assert ContainerConfig(entrypoint=("ls",)).with_image_defaults(image).cmd is None
    assert ContainerConfig(cmd=("true",)).with_image_defaults(image).command() == ("true",)


def test_no_command() -> None:
    with pytest.raises(InvalidArgument, match=r"^No command specified$"):
        ContainerConfig().with_image_defaults({}).command()


@pytest.mark.parametrize(("obj", "message"), [
    ({"Memory": 1024}, "Minimum memory limit allowed is 6MB"),
    ({"Memory": 10 << 20, "MemorySwap": 8 << 20}, "Minimum memoryswap limit"),
    ({"NanoCpus": 5 * 10**9}, "Range of CPUs is from 0.01 to 2.00"),
    ({"NanoCpus": 10**9, "CpuPeriod": 100000}, "Nano CPUs and CPU Period"),
    ({"AutoRemove": True, "RestartPolicy": {"Name": "always"}}, "AutoRemove"),
    ({"RestartPolicy": {"Name": "sometimes"}}, "invalid restart policy 'sometimes'"),
    ({"RestartPolicy": {"Name": "always", "MaximumRetryCount": 2}}, "maximum retry count"),
    ({"OomScoreAdj": 5000}, "range for oom score adj"),
    ({"Runtime": "kata"}, "Unknown runtime specified kata"),
    ({"LogConfig": {"Type": "syslog"}}, "no log driver named 'syslog'"),
    ({"SecurityOpt": ["bogus"]}, "invalid --security-opt"),
    ({"Binds": ["vol:/x:rshared"]}, "propagation is not supported for volumes"),
    ({"Binds": ["/h:/x:nocopy"]}, "field VolumeOptions must not be specified"),
    ({"Binds": ["vol:/x:ro,rw"]}, "invalid mode: ro,rw"),
    ({"Binds": ["/a:/x", "/b:/x"]}, "Duplicate mount point: /x"),
    ({"Tmpfs": {"rel": ""}}, "mount path must be absolute"),
    ({"Ulimits": [{"Name": "nofile", "Soft": 10, "Hard": 5}]}, "soft limit"),
    ({"LogConfig": {"Type": "json-file", "Config": {"max-size": "lots"}}}, "invalid size"),
    ({"LogConfig": {"Type": "json-file", "Config": {"max-file": "0"}}}, "max-file cannot"),
    ({"LogConfig": {"Type": "json-file", "Config": {"bogus": "1"}}},
     "unknown log opt 'bogus' for json-file log driver"),
])
def test_bad_host_config(obj: dict[str, object], message: str) -> None:
    with pytest.raises(InvalidArgument, match=message):
        host(obj)


def test_unknown_network() -> None:
    assert host({"NetworkMode": "nosuch"}).network_mode == "nosuch"  # looked up at start
    with pytest.raises(NotFound, match=r"^network nosuch not found$"):
        check_network("nosuch")
    assert host({"NetworkMode": "none"}).network_mode == "none"
    assert host({"NetworkMode": "host"}).host_network


def test_binds_and_tmpfs() -> None:
    hc = host({"Binds": ["/src:/dst:ro,rslave"], "Tmpfs": {"/run": "size=1m,exec"},
               "Mounts": [{"Type": "tmpfs", "Target": "/t",
                           "TmpfsOptions": {"SizeBytes": 4096, "Mode": 0o700}}]})
    assert hc.mounts == (
        MountSpec("bind", "/dst", "/src", True, ("rslave",), "ro,rslave"),
        MountSpec("tmpfs", "/t", options=("size=4096", "mode=700")),
        MountSpec("tmpfs", "/run", options=("size=1m", "exec")),
    )
    with pytest.raises(InvalidArgument, match="invalid mode: rw,bogus"):
        parse_bind("/a:/b:rw,bogus")


def test_inspect_echo() -> None:
    out = host(CLI_BODY["HostConfig"]).to_json()  # type: ignore[arg-type]
    assert (out["LogConfig"], out["ShmSize"], out["Runtime"], out["MemorySwappiness"],
            out["PidsLimit"], out["IpcMode"], out["CgroupnsMode"]) == (
        {"Type": "json-file", "Config": {}}, 67108864, "dockyard", None, None, "private",
        "host")


@pytest.mark.parametrize("name", ["ab", "/ab", "a.b-c_d", "A1"])
def test_good_names(name: str) -> None:
    assert check_name(name) == "/" + name.lstrip("/")


@pytest.mark.parametrize("name", ["x", "-ab", "a b", "a/b", ""])
def test_bad_names(name: str) -> None:
    with pytest.raises(InvalidArgument, match="Invalid container name"):
        check_name(name)


def test_volume_mounts() -> None:
    host = parse_host_config({
        "Binds": ["data:/data", "/h:/h:ro", "ro-vol:/r:ro,nocopy", "/anon"],
        "Mounts": [{"Type": "volume", "Source": "m", "Target": "/m", "ReadOnly": True},
                   {"Type": "volume", "Target": "/n", "VolumeOptions": {"NoCopy": True}}],
        "VolumesFrom": ["other:ro"],
    }, default_runtime="dockyard", runtimes=("dockyard",))
    assert host.mounts == (
        MountSpec("volume", "/data", mode="z", name="data"),
        MountSpec("bind", "/h", "/h", True, (), "ro"),
        MountSpec("volume", "/r", readonly=True, mode="ro,nocopy", name="ro-vol", nocopy=True),
        MountSpec("volume", "/anon"),
        MountSpec("volume", "/m", readonly=True, mode="z", name="m"),
        MountSpec("volume", "/n", mode="z", nocopy=True),
    )
    assert host.volumes_from == ("other:ro",)
