"""A real dockerd pushes to and pulls from our registry: plainly, with basic auth (docker login)
and with bearer tokens, and is refused without or with wrong credentials.

dockerd treats registries on 127.0.0.0/8 as insecure, so plain HTTP works. Each test logs in
with its own ``DOCKER_CONFIG`` directory, so nothing touches the machine's docker credentials,
and removes the images it made.
"""

from __future__ import annotations

import io
import os
import shutil
import subprocess
import tarfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from .conftest import Registry

DOCKER = shutil.which("docker")


def _docker_answers() -> bool:
    if DOCKER is None:
        return False
    result = subprocess.run([DOCKER, "version", "--format", "{{.Server.Version}}"],
                            capture_output=True, text=True, timeout=30, check=False)
    return result.returncode == 0


pytestmark = [
    pytest.mark.root,
    pytest.mark.slow,
    pytest.mark.skipif(not _docker_answers(), reason="no dockerd answering (bench/setup.sh)"),
]


class Docker:
    def __init__(self, config: Path) -> None:
        self.env = {**os.environ, "DOCKER_CONFIG": str(config)}
        self.images: set[str] = set()

    def __call__(self, *args: str, check: bool = True,
                 stdin: bytes | None = None) -> subprocess.CompletedProcess[bytes]:
        assert DOCKER is not None
        result = subprocess.run([DOCKER, *args], input=stdin, capture_output=True,
                                env=self.env, timeout=300, check=False)
        if check and result.returncode != 0:
            raise AssertionError(f"docker {' '.join(args)}: {result.stderr.decode()}")
        return result

    def make_image(self, ref: str, text: str) -> str:
        data = io.BytesIO()
        with tarfile.open(fileobj=data, mode="w") as tar:
            content = text.encode()
            info = tarfile.TarInfo("hello.txt")
            info.size, info.mtime = len(content), 1_700_000_000
            tar.addfile(info, io.BytesIO(content))
        self.images.add(ref)
        return self("import", "-", ref, stdin=data.getvalue()).stdout.decode().strip()

    def image_id(self, ref: str) -> str:
        return self("image", "inspect", "--format", "{{.Id}}", ref).stdout.decode().strip()

    def login(self, registry: Registry, user: str, password: str,
              check: bool = True) -> subprocess.CompletedProcess[bytes]:
        return self("login", registry.address, "-u", user, "--password-stdin",
                    stdin=password.encode(), check=check)

    def cleanup(self) -> None:
        for ref in self.images:
            self("rmi", "-f", ref, check=False)


@pytest.fixture
def docker(tmp_path: Path) -> Iterator[Docker]:
    client = Docker(tmp_path / "docker-config")
    try:
        yield client
    finally:
        client.cleanup()


def is_refusal(stderr: bytes) -> bool:
    """docker's words for a 401/403 (its own when it had no credentials to offer)."""
    text = stderr.lower()
    return any(word in text for word in (b"unauthorized", b"denied", b"no basic auth"))


def push_remove_pull(docker: Docker, registry: Registry, repo: str) -> None:
    ref = f"{registry.address}/{repo}:v1"
    image_id = docker.make_image(ref, f"hello from {repo}")
    pushed = docker("push", ref).stdout.decode()
    assert "v1: digest: sha256:" in pushed
    docker("rmi", ref)
    pulled = docker("pull", ref).stdout.decode()
    assert f"Downloaded newer image for {ref}" in pulled
    assert docker.image_id(ref) == image_id


def test_push_and_pull(docker: Docker, registry: Registry) -> None:
    push_remove_pull(docker, registry, "dock/app")
    other = f"{registry.address}/dock/copy:v1"
    docker.images.add(other)
    docker("tag", f"{registry.address}/dock/app:v1", other)
    assert "Mounted from dock/app" in docker("push", other).stdout.decode()
    tags = registry.request("GET", "/v2/dock/copy/tags/list").json()
    assert tags == {"name": "dock/copy", "tags": ["v1"]}
    missing = docker("pull", f"{registry.address}/dock/absent:v1", check=False)
    assert missing.returncode != 0 and b"not found" in missing.stderr


@pytest.mark.parametrize("mode", ["basic", "token"])
def test_login_push_pull(docker: Docker, registry_factory: Any, htpasswd_file: Path,
                         mode: str) -> None:
    registry = registry_factory("--auth", mode, "--htpasswd", str(htpasswd_file))
    ref = f"{registry.address}/secure/app:v1"
    docker.make_image(ref, "guarded")
    refused = docker("push", ref, check=False)
    assert (refused.returncode, is_refusal(refused.stderr)) == (1, True), refused.stderr
    wrong = docker.login(registry, "alice", "not-her-password", check=False)
    assert wrong.returncode != 0 and b"unauthorized" in wrong.stderr.lower()
    assert b"Login Succeeded" in docker.login(registry, "alice", "wonderland").stdout
    push_remove_pull(docker, registry, "secure/app")
    docker("logout", registry.address)
    docker("rmi", ref)
    anonymous = docker("pull", ref, check=False)
    assert (anonymous.returncode, is_refusal(anonymous.stderr)) == (1, True), anonymous.stderr
