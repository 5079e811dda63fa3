"""The same ``docker save`` archive loaded into dockerd 20.10 and into dockyardd: the real docker
CLI 28 and docker-py see the same images, IDs included, except what ``EXEMPT`` in
tests/e2e/comparison.py lists with its reason (here only paths and tag times can differ).

The archive is made by dockerd itself (import with changes, two tags, ``docker save``), then
removed there, and loaded into both daemons through the CLI.
"""

from __future__ import annotations

import json
import os
import subprocess
import tempfile
from typing import Any

import pytest

from .comparison import DOCKER_CLI, DOCKERD_SOCKET, Pair, _keys, _without_exempt

pytestmark = [pytest.mark.root, pytest.mark.slow]


def _saved_by_dockerd(pair: Pair, repo: str) -> bytes:
    theirs = pair.theirs.run
    code, _, err = theirs("import", "-m", "saved by dockerd", "-c", 'CMD ["sh"]', "-c",
                            "ENV A=1", "-c", "EXPOSE 80", "-", f"{repo}:v1", stdin=pair.tar)
    assert code == 0, err
    assert theirs("tag", f"{repo}:v1", f"{repo}:v2")[0] == 0
    done = _raw(pair, "save", f"{repo}:v1", f"{repo}:v2")
    assert theirs("rmi", f"{repo}:v1", f"{repo}:v2")[0] == 0
    return done


def _raw(pair: Pair, *args: str) -> bytes:
    env = {"PATH": os.environ.get("PATH", ""), "DOCKER_HOST": f"unix://{DOCKERD_SOCKET}",
           "HOME": "/nonexistent"}
    done = subprocess.run([str(DOCKER_CLI), *args], capture_output=True, env=env, check=True,
                          timeout=60)
    return done.stdout


def _ids(pair: Pair, name: str) -> tuple[str, str]:
    ours, theirs = pair.both("images", "-q", "--no-trunc", name)
    return ours[1], theirs[1]


def test_loaded_archive_looks_the_same(pair: Pair) -> None:
    repo = f"{pair.prefix}saved"
    archive = _saved_by_dockerd(pair, repo)
    ours, theirs = pair.both("load", stdin=archive)
    assert ours == theirs
    assert ours[0] == 0 and f"Loaded image: {repo}:v1" in ours[1]
    ours_id, theirs_id = _ids(pair, f"{repo}:v1")
    assert ours_id == theirs_id != ""
    pair.ours.ids.append(ours_id.strip())
    pair.theirs.ids.append(theirs_id.strip())
    pair.same("images", repo)
    pair.same("images", "--no-trunc", repo)
    pair.same("history", f"{repo}:v1")
    pair.same("history", "--no-trunc", f"{repo}:v1")
    mine, real = (json.loads(r[1]) for r in pair.both("image", "inspect", f"{repo}:v1"))
    assert _keys(mine[0]) == _keys(real[0])
    assert {k: v for k, v in _without_exempt(mine[0]).items()} == _without_exempt(real[0])
    assert mine[0]["Id"] == real[0]["Id"] and mine[0]["Created"] == real[0]["Created"]
    pair.same("tag", f"{repo}:v1", f"{repo}:v3")
    pair.same("images", "--format", "{{.Tag}} {{.ID}} {{.Size}}", repo)
    pair.same("rmi", f"{repo}:v3")
    pair.same("rmi", f"{repo}:v2")
    # A save/load round trip on each side keeps the ID.
    with tempfile.TemporaryDirectory() as scratch:
        archive_path = f"{scratch}/again.tar"
        for side in (pair.ours, pair.theirs):
            assert side.run("save", "-o", archive_path, f"{repo}:v1")[0] == 0
            assert side.run("rmi", f"{repo}:v1")[0] == 0
            assert side.run("load", "-i", archive_path)[0] == 0
    assert _ids(pair, f"{repo}:v1") == (ours_id, ours_id)
    pair.same("rmi", f"{repo}:v1")


def test_docker_py_sees_the_same_images(pair: Pair) -> None:
    docker = pytest.importorskip("docker")
    repo = f"{pair.prefix}sdk"
    archive = _saved_by_dockerd(pair, repo)
    host = pair.ours.run("version", "--format", "{{.Server.Version}}")  # the daemon answers
    assert host[0] == 0
    ours_url = _our_url(pair)
    clients = [docker.DockerClient(base_url=url, version="1.41")
               for url in (ours_url, f"unix://{DOCKERD_SOCKET}")]
    try:
        loaded = [[image.id for image in client.images.load(archive)] for client in clients]
        assert loaded[0] == loaded[1] != []
        views: list[dict[str, Any]] = []
        for client in clients:
            image = client.images.get(f"{repo}:v1")
            views.append({
                "attrs": _without_exempt(image.attrs),
                "tags": sorted(image.tags),
                "history": [{k: v for k, v in h.items() if k != "Created"} | {"Created": 0}
                            for h in image.history()],
                "listed": sorted(i.id for i in client.images.list(name=repo)),
            })
            assert image.tag(repo, "sdk") is True
            client.images.remove(f"{repo}:sdk")
            saved = b"".join(image.save(named=True))
            client.images.remove(f"{repo}:v1", force=True)
            client.images.remove(f"{repo}:v2", force=True)
            again = client.images.load(saved)
            assert {i.id for i in again} == set(loaded[0])
            client.images.remove(f"{repo}:v1", force=True)
        assert views[0] == views[1]
    finally:
        for client in clients:
            client.close()


def _our_url(pair: Pair) -> str:
    code, out, _ = pair.ours.run("context", "inspect", "--format", "{{.Endpoints.docker.Host}}")
    assert code == 0, out
    return out.strip()
