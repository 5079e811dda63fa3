"""``docker commit`` against dockyardd, compared with dockerd: the new image runs with the
container's changes, its history line, author, comment and config changes; an unchanged
container gives an empty layer; the layer holds what the container changed and none of the
runtime's mount points; the config is dockerd's (keys, order, container_config)."""

from __future__ import annotations

import contextlib
import io
import json
import tarfile
import time
from pathlib import Path
from typing import Any

import pytest

from ..comparison import make_pair
from ..conftest import Daemon
from .conftest import CLI
from .test_files import runnable_rootfs

pytestmark = [pytest.mark.root, pytest.mark.slow]


def test_commit_runs(engine: Daemon, cli: CLI) -> None:
    assert cli("run", "-d", "--name", "tm", "-e", "FOO=bar", "busybox", "sh", "-c",
               "echo hello > /f; rm /bin/vi; sleep 300")[0] == 0
    time.sleep(0.5)
    code, out, err = cli("commit", "-a", "me", "-m", "a message", "-c", 'CMD ["cat", "/f"]',
                         "-c", "ENV X=1", "tm", "committed:1")
    assert code == 0, err
    assert out.startswith("sha256:")
    assert cli("run", "--rm", "committed:1") == (0, "hello\n", "")
    assert cli("run", "--rm", "committed:1", "sh", "-c", "echo $FOO$X; ls /bin/vi") == \
        (1, "bar1\n", "ls: /bin/vi: No such file or directory\n")
    code, out, _ = cli("history", "--format", "{{.CreatedBy}}|{{.Comment}}", "committed:1")
    assert out.splitlines()[0] == "sh -c echo hello > /f; rm /bin/vi; sleep 300|a message"
    code, out, _ = cli("image", "inspect", "-f", "{{.Author}}|{{.Comment}}|{{json .Config.Cmd}}",
                       "committed:1")
    assert out == 'me|a message|["cat","/f"]\n'
    code, _, err = cli("commit", "-c", "BOGUS x", "tm", "x:1")
    assert code == 1 and "invalid change" in err
    assert cli("commit", "nosuch", "x:1")[2] == "Error response from daemon: No such " \
                                               "container: nosuch\n"
    # an unchanged container: an empty layer, as dockerd marks it
    assert cli("create", "--name", "fresh", "busybox", "true")[0] == 0
    assert cli("commit", "fresh", "fresh:1")[0] == 0
    assert cli("image", "inspect", "-f", "{{len .RootFS.Layers}}", "fresh:1")[1] == "1\n"


def layer_names(client: Any, name: str) -> list[str]:
    """The entries of the image's last layer, from ``docker save``."""
    data = b"".join(client.get_image(name))
    with tarfile.open(fileobj=io.BytesIO(data)) as archive:
        manifest = json.loads(_read(archive, "manifest.json"))
        layer = _read(archive, manifest[0]["Layers"][-1])
    with tarfile.open(fileobj=io.BytesIO(layer)) as archive:
        return sorted(m.name for m in archive.getmembers())


def _read(archive: tarfile.TarFile, name: str) -> bytes:
    member = archive.extractfile(name)
    assert member is not None
    return member.read()


def test_commit_as_dockerd(engine: Daemon, tmp_path: Path) -> None:
    docker = pytest.importorskip("docker")
    pairs = make_pair(engine, tmp_path)
    pair: Any = next(pairs)
    pair.tar = runnable_rootfs(pair.prefix + tmp_path.name)
    name = pair.prefix + "commit"
    clients = {"ours": docker.APIClient(base_url=engine.host),
               "theirs": docker.APIClient(base_url="unix:///var/run/docker.sock")}
    try:
        pair.import_both(name + ":1")
        found = {}
        for client in clients.values():
            client.create_container(f"{name}:1", ["/bin/sh", "-c",
                                                  "mkdir /d; echo x > /d/f; rm /bin/vi; "
                                                  "rm -rf /home; mkdir /home; sleep 100"],
                                    name=name, environment=["A=b"], working_dir="/w")
            client.start(name)
        time.sleep(0.5)
        for side, client in clients.items():
            client.commit(name, repository=name, tag="2", message="msg", author="au",
                          changes=["LABEL k=v", "EXPOSE 8080"])
            client.remove_container(name, force=True)
            raw = client.inspect_image(f"{name}:2")
            history = client.history(f"{name}:2")
            found[side] = (raw, history, layer_names(client, f"{name}:2"))
        ours, theirs = found["ours"], found["theirs"]
        for raw in (ours[0], theirs[0]):
            raw["Config"].pop("Hostname")
            raw["ContainerConfig"].pop("Hostname")
        assert ours[0]["Config"] == theirs[0]["Config"]
        assert ours[0]["ContainerConfig"] == theirs[0]["ContainerConfig"]
        assert list(ours[0]["Config"]) == list(theirs[0]["Config"])
        assert (ours[0]["Author"], ours[0]["Comment"]) == (theirs[0]["Author"],
                                                           theirs[0]["Comment"])
        assert [(h["CreatedBy"], h["Comment"], h["Size"]) for h in ours[1]] == \
            [(h["CreatedBy"], h["Comment"], h["Size"]) for h in theirs[1]]
        assert ours[2] == theirs[2]  # the layer: the changes, no mount points
    finally:
        for client in clients.values():
            for image in (f"{name}:2",):
                with contextlib.suppress(docker.errors.APIError):
                    client.remove_image(image, force=True)
            with contextlib.suppress(docker.errors.APIError):
                client.remove_container(name, force=True)
            client.close()
        next(pairs, None)
