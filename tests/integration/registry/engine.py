"""Fixtures for the client tests: a data root with the distribution service over it (no daemon),
and Debian's docker-registry (CNCF distribution 2.8) on a free port, stopped by its PID."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from dockyard.registry.auth import ANONYMOUS, Credentials
from dockyard.registry.endpoints import RegistrySettings
from dockyard.services.image_distribution import DistributionService
from dockyard.services.images import ImageService
from dockyard.store import DataRoot
from dockyard.sys import real

DOCKER_REGISTRY = shutil.which("docker-registry")


@dataclass
class Engine:
    """A data root, its image service and its distribution service, and the messages of the
    last operation."""

    root: DataRoot
    images: ImageService
    service: DistributionService
    messages: list[dict[str, Any]] = field(default_factory=list)

    def pull(self, name: str, tag: str = "", credentials: Credentials = ANONYMOUS,
             platform: str = "") -> list[dict[str, Any]]:
        self.messages = []
        self.service.pull(name, tag, credentials, self.messages.append, platform=platform)
        return self.messages

    def push(self, name: str, tag: str = "", credentials: Credentials = ANONYMOUS,
             ) -> list[dict[str, Any]]:
        self.messages = []
        self.service.push(name, tag, credentials, self.messages.append)
        return self.messages

    def image(self, name: str) -> dict[str, Any]:
        return self.images.inspect(name)


def lines(messages: list[dict[str, Any]]) -> list[str]:
    """What the docker CLI prints without a terminal: progress messages dropped."""
    out = []
    for message in messages:
        if "aux" in message or message.get("progress"):
            continue
        prefix = f"{message['id']}: " if message.get("id") else ""
        out.append(prefix + message["status"])
    return out


def make_engine(path: Path, settings: RegistrySettings | None = None) -> Engine:
    root = DataRoot(path, real())
    images = ImageService(root)
    return Engine(root, images, DistributionService(root, images, settings or RegistrySettings()))


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[Engine]:
    made = make_engine(tmp_path / "engine")
    try:
        yield made
    finally:
        made.service.close()
        made.root.close()


@pytest.fixture
def engine_factory(tmp_path: Path) -> Iterator[Any]:
    made: list[Engine] = []

    def make(settings: RegistrySettings | None = None) -> Engine:
        engine = make_engine(tmp_path / f"engine{len(made)}", settings)
        made.append(engine)
        return engine

    try:
        yield make
    finally:
        for engine in made:
            engine.service.close()
            engine.root.close()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Distribution:
    process: subprocess.Popen[bytes]
    address: str
    root: Path


def start_distribution(root: Path, htpasswd: Path | None = None) -> Distribution:
    """docker-registry with filesystem storage under ``root``; basic auth with ``htpasswd``."""
    root.mkdir(parents=True, exist_ok=True)
    port = free_port()
    auth = ""
    if htpasswd is not None:
        auth = f"auth:\n  htpasswd:\n    realm: test\n    path: {htpasswd}\n"
    config = root / "config.yml"
    config.write_text(f"version: 0.1\nlog:\n  level: error\nstorage:\n  filesystem:\n"
                      f"    rootdirectory: {root / 'data'}\n  delete:\n    enabled: true\n"
                      f"http:\n  addr: 127.0.0.1:{port}\n{auth}")
    assert DOCKER_REGISTRY is not None
    process = subprocess.Popen([DOCKER_REGISTRY, "serve", str(config)],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/v2/", timeout=1).close()
            break
        except urllib.error.HTTPError:
            break  # 401: it answers
        except OSError:
            time.sleep(0.05)
    else:
        stop_process(process)
        raise AssertionError("docker-registry did not start")
    return Distribution(process, f"127.0.0.1:{port}", root)


def stop_process(process: subprocess.Popen[Any]) -> None:
    """Stop by PID: SIGTERM, then SIGKILL after 15 s."""
    if process.poll() is None:
        os.kill(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.kill(process.pid, signal.SIGKILL)
            process.wait(timeout=15)


@pytest.fixture
def distribution(tmp_path: Path) -> Iterator[Distribution]:
    if DOCKER_REGISTRY is None:
        pytest.skip("needs docker-registry (Debian's CNCF distribution)")
    started = start_distribution(tmp_path / "distribution")
    try:
        yield started
    finally:
        stop_process(started.process)
