"""Credentials against registries that want them: our server with basic auth and with bearer
tokens, and docker-registry with htpasswd. Refused without or with wrong credentials (worded as
dockerd words it), accepted with the right ones; login checks them."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import pytest

from dockyard.errors import DockyardError, NotFound, Unauthorized
from dockyard.registry.auth import Credentials
from dockyard.registry.transport import RemoteError

from .engine import DOCKER_REGISTRY, Engine, engine_factory, lines, start_distribution, stop_process
from .remote import layer_tar

pytestmark = pytest.mark.root
__all__ = ["engine_factory"]

ALICE = Credentials("alice", "wonderland")
WRONG = Credentials("alice", "not-her-password")


def prepare(engine: Engine, name: str) -> str:
    engine.images.import_image(io.BytesIO(layer_tar({"secret": b"s" * 1000})),
                               repo=name, tag="1")
    return str(engine.image(f"{name}:1")["RootFS"]["Layers"][0])[7:19]


def check_access(engine_factory: Any, address: str, mode: str) -> None:
    engine = engine_factory()
    name = f"{address}/secure/app"
    layer = prepare(engine, name)

    with pytest.raises(DockyardError) as refused:
        engine.push(name, "1")
    assert lines(engine.messages) == [f"The push refers to repository [{name}]",
                                      f"{layer}: Preparing"]
    if mode == "basic":
        assert str(refused.value) == "no basic auth credentials"
    else:
        assert str(refused.value).startswith("denied: requested access to the resource is "
                                             "denied")

    with pytest.raises(DockyardError) as wrong:
        engine.push(name, "1", WRONG)
    assert "unauthorized" in str(wrong.value)

    engine.push(name, "1", ALICE)
    assert engine.messages[-1]["aux"]["Tag"] == "1"

    reader = engine_factory()
    if mode == "basic":
        with pytest.raises(RemoteError) as anonymous:
            reader.pull(name, "1")
        assert str(anonymous.value) == \
            f'Get "http://{address}/v2/secure/app/manifests/1": no basic auth credentials'
    else:
        with pytest.raises(NotFound) as anonymous_token:
            reader.pull(name, "1")
        assert str(anonymous_token.value).startswith(
            f"pull access denied for {name}, repository does not exist or may require "
            "'docker login': denied: ")
    reader.pull(name, "1", ALICE)
    assert reader.image(f"{name}:1")["Id"] == engine.image(f"{name}:1")["Id"]


def check_login(engine: Engine, address: str, mode: str) -> None:
    service = engine.service
    good = Credentials("alice", "wonderland", server_address=address)
    assert service.login(good) == ""
    with pytest.raises(Unauthorized) as refused:
        service.login(Credentials("alice", "nope", server_address=f"http://{address}/"))
    if mode == "basic":
        assert str(refused.value) == (f"login attempt to http://{address}/v2/ failed with "
                                      "status: 401 Unauthorized")
        assert refused.value.http_status == 500  # as dockerd 20.10 answers it
    else:
        assert str(refused.value).startswith(f'Get "http://{address}/v2/": unauthorized: ')


@pytest.mark.parametrize("mode", ["basic", "token"])
def test_our_registry(registry_factory: Any, htpasswd_file: Path, engine_factory: Any,
                      mode: str) -> None:
    registry = registry_factory("--auth", mode, "--htpasswd", str(htpasswd_file))
    check_access(engine_factory, registry.address, mode)
    check_login(engine_factory(), registry.address, mode)


@pytest.mark.skipif(DOCKER_REGISTRY is None, reason="needs docker-registry")
def test_docker_registry_basic(tmp_path: Path, htpasswd_file: Path,
                               engine_factory: Any) -> None:
    started = start_distribution(tmp_path / "distribution", htpasswd_file)
    try:
        check_access(engine_factory, started.address, "basic")
        check_login(engine_factory(), started.address, "basic")
    finally:
        stop_process(started.process)
