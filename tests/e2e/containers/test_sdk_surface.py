"""docker-py's high-level calls on the rest of the container API against dockyardd: rename,
top, pause/unpause, diff, export, get/put_archive, commit, list filters, prune, and a live
events stream read while a container runs."""

from __future__ import annotations

import io
import tarfile
import threading
import time
from typing import Any

import pytest

from ..conftest import Daemon

pytestmark = [pytest.mark.root, pytest.mark.slow]


def test_docker_py(engine: Daemon) -> None:
    docker = pytest.importorskip("docker")
    client = docker.DockerClient(base_url=engine.host)
    seen: list[dict[str, Any]] = []
    stream = client.events(decode=True, filters={"type": "container", "label": ["sdk=1"]})
    reader = threading.Thread(target=lambda: seen.extend(_until_destroy(stream)), daemon=True)
    reader.start()
    try:
        container = client.containers.run("busybox", ["sh", "-c", "echo x > /made; sleep 100"],
                                          detach=True, name="sdk", labels={"sdk": "1"})
        time.sleep(0.5)
        container.rename("sdk2")
        container.reload()
        assert container.name == "sdk2"
        top = container.top()
        assert top["Titles"][:2] == ["UID", "PID"] and top["Processes"]
        container.pause()
        container.reload()
        assert container.status == "paused"
        container.unpause()
        assert {"Path": "/made", "Kind": 1} in container.diff()
        exported = b"".join(container.export())
        with tarfile.open(fileobj=io.BytesIO(exported)) as archive:
            assert "made" in archive.getnames()
        data = io.BytesIO()
        with tarfile.open(fileobj=data, mode="w") as archive:
            info = tarfile.TarInfo("put.txt")
            info.size = 3
            archive.addfile(info, io.BytesIO(b"put"))
        assert container.put_archive("/", data.getvalue())
        _bits, stat = container.get_archive("/put.txt")
        assert stat["name"] == "put.txt" and stat["size"] == 3
        image = container.commit("sdkimage", "1", message="m", author="a")
        assert client.containers.run(image.id, ["cat", "/put.txt", "/made"], remove=True) == \
            b"putx\n"
        assert [c.name for c in client.containers.list(filters={"label": "sdk=1"})] == ["sdk2"]
        container.stop(timeout=0)
        assert [c.name for c in client.containers.list(all=True,
                                                       filters={"status": "exited"})] == ["sdk2"]
        pruned = client.containers.prune(filters={"label": "sdk=1"})
        assert pruned["ContainersDeleted"] == [container.id]
        reader.join(10)
        actions = [e["Action"] for e in seen if e["Actor"]["Attributes"]["name"] in
                   ("sdk", "sdk2")]
        assert actions[:3] == ["create", "start", "rename"]
        assert {"top", "pause", "unpause", "commit", "die", "stop", "destroy"} <= set(actions)
    finally:
        stream.close()
        client.close()


def _until_destroy(stream: Any) -> list[dict[str, Any]]:
    found = []
    for event in stream:
        found.append(event)
        if event.get("Action") == "destroy" and \
                event["Actor"]["Attributes"].get("name") == "sdk2":
            break
    return found
