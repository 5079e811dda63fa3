"""The real docker CLI 28 pulls and pushes through dockyardd: its output lines are dockerd's for
the same registry and image; a real dockerd pushes what dockyardd then pulls (same image ID);
docker login checks credentials through dockyardd; and a dockyardd killed with SIGKILL in the
middle of a pull leaves no image, and the next pull resumes the blob it was fetching."""

from __future__ import annotations

import importlib.util
import io
import os
import re
import shutil
import signal
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from .conftest import DOCKER_CLI, REPO, Daemon, _unmount_under, docker, start_daemon, stop
from .test_cli_system import dockyard

pytestmark = [pytest.mark.root, pytest.mark.slow]


def _load(name: str, path: Path) -> ModuleType:
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


remote = _load("registry_remote", REPO / "tests" / "integration" / "registry" / "remote.py")


def _dockerd_answers() -> bool:
    result = subprocess.run([str(DOCKER_CLI), "version", "--format", "{{.Server.Version}}"],
                            capture_output=True, text=True, timeout=30, check=False,
                            env={**os.environ, "DOCKER_HOST": "unix:///var/run/docker.sock"})
    return result.returncode == 0


def dockerd(*args: str, stdin: bytes | None = None,
            config: Path | None = None) -> tuple[int, str, str]:
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"),
           "DOCKER_HOST": "unix:///var/run/docker.sock"}
    if config is not None:
        env["DOCKER_CONFIG"] = str(config)
    result = subprocess.run([str(DOCKER_CLI), *args], input=stdin, capture_output=True,
                            env=env, timeout=120, check=False)
    return result.returncode, result.stdout.decode(), result.stderr.decode()


def rootfs_tar(text: str) -> bytes:
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w") as tar:
        for name, data in (("hello.txt", text.encode()), ("bin/blob", os.urandom(300_000))):
            info = tarfile.TarInfo(name)
            info.size, info.mtime = len(data), 1_700_000_000
            tar.addfile(info, io.BytesIO(data))
    return out.getvalue()


def normal(text: str) -> list[str]:
    """Output lines with manifest digests and sizes blanked (each daemon gzips by itself)."""
    text = re.sub(r"sha256:[0-9a-f]{64}", "sha256:<digest>", text)
    return re.sub(r"size: \d+", "size: <n>", text).splitlines()


def settled(text: str) -> list[str]:
    """Lines without "Verifying Checksum": dockerd's transfer manager keeps only the latest
    status of a layer, so a quick "Download complete" often hides it."""
    return [line for line in text.splitlines() if not line.endswith(": Verifying Checksum")]


@pytest.mark.skipif(not _dockerd_answers(), reason="no dockerd answering (bench/setup.sh)")
def test_push_and_pull_print_what_dockerd_prints(daemon: Daemon, registry: str) -> None:
    tar = rootfs_tar("same for both")
    ours, theirs = f"{registry}/e2e/ours:1", f"{registry}/e2e/theirs:1"
    assert docker(daemon, "import", "-", ours, stdin=tar)[0] == 0
    assert dockerd("import", "-", theirs, stdin=tar)[0] == 0
    try:
        code, pushed_ours, err = docker(daemon, "push", ours)
        assert code == 0, err
        code, pushed_theirs, err = dockerd("push", theirs)
        assert code == 0, err
        assert normal(pushed_ours) == [line.replace("e2e/theirs", "e2e/ours")
                                       for line in normal(pushed_theirs)]
        assert normal(docker(daemon, "push", ours)[1]) == [
            line.replace("e2e/theirs", "e2e/ours") for line in normal(dockerd("push", theirs)[1])]
        # both pull what dockyardd pushed: the same lines, byte for byte
        assert docker(daemon, "rmi", ours)[0] == 0
        code, pulled_ours, err = docker(daemon, "pull", ours)
        assert code == 0, err
        code, pulled_theirs, err = dockerd("pull", ours)
        assert code == 0, err
        assert settled(pulled_ours) == settled(pulled_theirs)
        assert docker(daemon, "pull", ours)[1] == dockerd("pull", ours)[1]  # up to date
        wanted = docker(daemon, "image", "inspect", "--format", "{{.Id}}", ours)[1]
        assert wanted == dockerd("image", "inspect", "--format", "{{.Id}}", ours)[1]
    finally:
        dockerd("rmi", "-f", theirs, ours)


@pytest.mark.skipif(not _dockerd_answers(), reason="no dockerd answering (bench/setup.sh)")
def test_dockyardd_pulls_what_dockerd_pushed(daemon: Daemon, registry: str) -> None:
    name = f"{registry}/e2e/fromdockerd:v2"
    assert dockerd("import", "-", name, stdin=rootfs_tar("from dockerd"))[0] == 0
    try:
        assert dockerd("push", name)[0] == 0
        expected = dockerd("image", "inspect", "--format", "{{.Id}} {{.RootFS.Layers}}", name)
    finally:
        dockerd("rmi", "-f", name)
    code, out, err = docker(daemon, "pull", name)
    assert code == 0, err
    assert out.splitlines()[0] == "v2: Pulling from e2e/fromdockerd"
    assert out.splitlines()[-1] == name
    got = docker(daemon, "image", "inspect", "--format", "{{.Id}} {{.RootFS.Layers}}", name)
    assert got[1] == expected[1]


def test_errors_before_and_inside_the_stream(daemon: Daemon, registry: str) -> None:
    code, out, err = docker(daemon, "pull", f"{registry}/e2e/absent:nosuchtag")
    assert (code, err.splitlines()[-1]) == (1, (
        f"Error response from daemon: manifest for {registry}/e2e/absent:nosuchtag not found: "
        "manifest unknown: manifest nosuchtag unknown to repository e2e/absent"))
    port = remote_port()
    code, out, err = docker(daemon, "pull", f"127.0.0.1:{port}/x/y:1")
    assert (code, err.strip()) == (1, f'Error response from daemon: Get "http://127.0.0.1:{port}'
                                      f'/v2/": dial tcp 127.0.0.1:{port}: connect: connection '
                                      "refused")
    assert docker(daemon, "import", "-", f"127.0.0.1:{port}/x:1", stdin=rootfs_tar("x"))[0] == 0
    code, out, err = docker(daemon, "push", f"127.0.0.1:{port}/x:1")
    assert (code, out, err.strip()) == (
        1, f"The push refers to repository [127.0.0.1:{port}/x]\n",
        f'Get "http://127.0.0.1:{port}/v2/": dial tcp 127.0.0.1:{port}: connect: connection '
        "refused")


def remote_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_docker_login_through_dockyardd(daemon: Daemon, tmp_path: Path) -> None:
    from dockyard.registry.htpasswd import hash_password

    (tmp_path / "htpasswd").write_text(f"alice:{hash_password('wonderland', rounds=4)}\n")
    env = {**os.environ, "PYTHONPATH": str(REPO / "src")}
    process = subprocess.Popen(
        [sys.executable, "-m", "dockyard.registry", "--log-level", "warning", "serve", "--root",
         str(tmp_path / "reg"), "--addr", "127.0.0.1:0", "--htpasswd", str(tmp_path / "htpasswd")],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, env=env)
    assert process.stdout is not None
    try:
        address = process.stdout.readline().split("://")[-1].strip()
        code, out, err = docker(daemon, "login", "-u", "alice", "--password-stdin", address,
                                stdin=b"nope\n")
        assert (code, err.splitlines()[-1]) == (1, (
            f"Error response from daemon: login attempt to http://{address}/v2/ failed with "
            "status: 401 Unauthorized"))
        code, out, err = docker(daemon, "login", "-u", "alice", "--password-stdin", address,
                                stdin=b"wonderland\n")
        assert (code, out.strip()) == (0, "Login Succeeded"), err
        name = f"{address}/secure/app:1"
        assert docker(daemon, "import", "-", name, stdin=rootfs_tar("secret"))[0] == 0
        code, out, err = docker(daemon, "push", name)
        assert code == 0, err
        assert docker(daemon, "logout", address)[0] == 0
        assert docker(daemon, "rmi", name)[0] == 0
        code, out, err = docker(daemon, "pull", name)
        assert (code, err.strip()) == (1, f'Error response from daemon: Get "http://{address}/v2/'
                                          'secure/app/manifests/1": no basic auth credentials')
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=15)
        process.stdout.close()


def _ingest_bytes(data_root: Path) -> int:
    return sum(p.stat().st_size for p in (data_root / "content" / "ingest").glob("*/data"))


def test_sigkill_mid_pull_then_the_next_pull_resumes() -> None:
    if os.geteuid() != 0:
        pytest.skip("dockyardd needs root")
    image = remote.build_image([{"fast.txt": b"f" * 200_000},
                                {"slow.bin": os.urandom(3_000_000)}])
    fast, slow = image.layer_digests
    fake: Any = remote.FakeRegistry(slow={slow}, rate=200_000).start()
    fake.add("e2e/slow", "1", image)
    workdir = Path(tempfile.mkdtemp(prefix="dockyard-e2e-"))
    name = f"{fake.address}/e2e/slow:1"
    started = start_daemon(workdir)
    try:
        pull = subprocess.Popen([str(DOCKER_CLI), "pull", name], stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE,
                                env={"PATH": "/usr/bin:/bin", "DOCKER_HOST": started.host,
                                     "DOCKER_CONFIG": str(workdir)})
        deadline = time.monotonic() + 30
        while _ingest_bytes(started.data_root) < 500_000 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert _ingest_bytes(started.data_root) >= 500_000
        started.process.send_signal(signal.SIGKILL)
        started.process.wait(timeout=15)
        pull.communicate(timeout=30)
        assert pull.returncode != 0
        received = fake.requests.copy()

        started = start_daemon(workdir)
        assert docker(started, "images", "-q")[1] == ""  # no broken image
        fake.slow.clear()
        code, _, err = docker(started, "pull", name)
        assert code == 0, err
        assert docker(started, "image", "inspect", "--format", "{{.Id}}", name)[1].strip() \
            == image.image_id
        again = fake.requests[len(received):]
        slow_ranges = [r for _, path, r in again if path.endswith(slow)]
        assert len(slow_ranges) == 1 and slow_ranges[0].startswith("bytes=")
        assert not [p for _, p, _ in again if p.endswith(fast)]  # stored before the kill
    finally:
        stop(started.process)
        fake.stop()
        _unmount_under(workdir)
        shutil.rmtree(workdir, ignore_errors=True)


def test_a_client_that_goes_away_cancels_the_pull(daemon: Daemon) -> None:
    image = remote.build_image([{"slow.bin": os.urandom(4_000_000)}])
    fake: Any = remote.FakeRegistry(slow=set(image.layer_digests), rate=300_000).start()
    fake.add("e2e/cancel", "1", image)
    try:
        pull = subprocess.Popen([str(DOCKER_CLI), "pull", f"{fake.address}/e2e/cancel:1"],
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                env={"PATH": "/usr/bin:/bin", "DOCKER_HOST": daemon.host,
                                     "DOCKER_CONFIG": str(daemon.workdir)})
        deadline = time.monotonic() + 30
        while _ingest_bytes(daemon.data_root) < 100_000 and time.monotonic() < deadline:
            time.sleep(0.05)
        pull.kill()
        pull.wait(timeout=15)
        deadline = time.monotonic() + 15
        while list((daemon.data_root / "leases").glob("*.json")) and \
                time.monotonic() < deadline:
            time.sleep(0.1)
        assert list((daemon.data_root / "leases").glob("*.json")) == []  # the pull stopped
        assert docker(daemon, "images", "-q")[1] == ""
        assert "client went away" in daemon.logs()
    finally:
        fake.stop()


def test_registry_mirror_flag_serves_docker_hub_names(registry: str) -> None:
    if os.geteuid() != 0:
        pytest.skip("dockyardd needs root")
    image = remote.build_image([{"from-the-mirror": b"m" * 1000}])
    remote.Uploader(registry).image("library/mirrored", "7", image)
    workdir = Path(tempfile.mkdtemp(prefix="dockyard-e2e-"))
    started = start_daemon(workdir, "--registry-mirror", f"http://{registry}")
    try:
        code, out, err = docker(started, "pull", "mirrored:7")
        assert code == 0, err
        assert out.splitlines()[0] == "7: Pulling from library/mirrored"
        assert out.splitlines()[-1] == "docker.io/library/mirrored:7"
        assert docker(started, "images", "--format", "{{.Repository}}:{{.Tag}} {{.ID}}")[1] \
            == f"mirrored:7 {image.image_id[7:19]}\n"
    finally:
        stop(started.process)
        _unmount_under(workdir)
        shutil.rmtree(workdir, ignore_errors=True)


def test_run_pulls_a_missing_image(daemon: Daemon, registry: str) -> None:
    """`docker run` of an image that is not local: create answers 404, the CLI pulls it from
    the registry through dockyardd, and the container runs (issue 8: "an image missing at run
    is pulled, as docker does")."""
    if shutil.which("busybox") is None:
        pytest.skip("needs a static busybox (busybox-static)")
    code, _, err = dockyard(daemon, "bootstrap", "busybox", env={"SOURCE_DATE_EPOCH": "0"})
    assert code == 0, err
    name = f"{registry}/e2e/autopull:1"
    assert docker(daemon, "tag", "busybox", name)[0] == 0
    assert docker(daemon, "push", name)[0] == 0
    assert docker(daemon, "rmi", name, "busybox")[0] == 0
    code, out, err = docker(daemon, "run", "--rm", name, "echo", "pulled and ran")
    assert (code, out) == (0, "pulled and ran\n"), err
    assert f"Unable to find image '{name}' locally" in err
    assert "Status: Downloaded newer image for " + name in err
