"""Volumes in containers through the docker CLI 28 and docker-py: named volumes made on the fly
and kept past ``rm``, anonymous ones from ``-v /path``, ``--mount`` and an image's VOLUME,
copy-up of the image's content, ``volume rm`` refused while in use, ``rm -v``,
``--volumes-from``, read-only volumes, ``ps --filter volume=``, ``system df``, and inspect's
``Mounts`` as dockerd 20.10 shows them (compared on the shared dockerd with uniquely named
volumes and containers, removed at the end)."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

from ..comparison import rootfs_tar
from ..conftest import Daemon
from .conftest import CLI

pytestmark = [pytest.mark.root, pytest.mark.slow]


def ok(cli: CLI, *args: str, stdin: bytes | None = None) -> str:
    code, out, err = cli(*args, stdin=stdin)
    assert code == 0, (args, err)
    return out


def mounts(cli: CLI, container: str) -> list[dict[str, Any]]:
    found = json.loads(ok(cli, "inspect", "-f", "{{json .Mounts}}", container))
    return sorted(found, key=lambda m: m["Destination"])


def volumes(cli: CLI) -> set[str]:
    return set(ok(cli, "volume", "ls", "-q").split())


def test_named_volume_outlives_its_container(cli: CLI, engine: Daemon) -> None:
    ok(cli, "run", "--rm", "-v", "keep:/data", "busybox", "sh", "-c", "echo kept > /data/f")
    assert volumes(cli) == {"keep"}
    assert (engine.data_root / "volumes" / "keep" / "_data" / "f").read_text() == "kept\n"
    assert ok(cli, "run", "--rm", "-v", "keep:/other", "busybox", "cat", "/other/f") == "kept\n"
    assert ok(cli, "volume", "rm", "keep") == "keep\n"


def test_copy_up_of_the_image_content(cli: CLI, engine: Daemon) -> None:
    passwd = ok(cli, "run", "--rm", "busybox", "cat", "/etc/passwd")
    assert ok(cli, "run", "--rm", "-v", "etc:/etc", "busybox", "cat", "/etc/passwd") == passwd
    assert (engine.data_root / "volumes" / "etc" / "_data" / "passwd").read_text() == passwd
    # not empty any more: a second container sees what the volume has, not the image's
    ok(cli, "run", "--rm", "-v", "etc:/etc", "busybox", "sh", "-c", "echo x > /etc/passwd")
    assert ok(cli, "run", "--rm", "-v", "etc:/etc", "busybox", "cat", "/etc/passwd") == "x\n"
    listed = ok(cli, "run", "--rm", "--mount", "type=volume,source=bare,target=/etc,"
                "volume-nocopy", "busybox", "ls", "/etc")
    assert listed.split() == ["hostname", "hosts", "resolv.conf"]  # the runtime's mount points
    ok(cli, "volume", "rm", "etc", "bare")


def test_volume_in_use_is_not_removed(cli: CLI) -> None:
    cid = ok(cli, "create", "-v", "busy:/x", "busybox", "true").strip()
    assert cli("volume", "rm", "busy") == (
        1, "", f"Error response from daemon: remove busy: volume is in use - [{cid}]\n")
    assert ok(cli, "system", "df", "-v", "--format", "{{range .Volumes}}{{.Name}} "
              "{{.Links}}{{end}}").strip() == "busy 1"
    assert cli("volume", "prune", "-f")[0] == 0
    assert volumes(cli) == {"busy"}
    ok(cli, "rm", cid)
    assert ok(cli, "volume", "rm", "busy") == "busy\n"


def test_rm_v_removes_anonymous_volumes_only(cli: CLI) -> None:
    cid = ok(cli, "create", "-v", "named:/n", "-v", "/anon", "--mount", "type=volume,target=/m",
             "busybox", "true").strip()
    found = mounts(cli, cid)
    anonymous = {m["Name"] for m in found if m["Name"] != "named"}
    assert len(anonymous) == 2 and volumes(cli) == {"named", *anonymous}
    assert ok(cli, "ps", "-aq", "--no-trunc", "--filter", "volume=named") == cid + "\n"
    assert ok(cli, "ps", "-aq", "--no-trunc", "--filter", "volume=/anon") == cid + "\n"
    assert ok(cli, "ps", "-aq", "--filter", "volume=nosuch") == ""
    ok(cli, "rm", "-v", cid)
    assert volumes(cli) == {"named"}
    # without -v they all stay; --rm removes the anonymous ones as rm -v does
    cid = ok(cli, "create", "-v", "/anon", "busybox", "true").strip()
    left = mounts(cli, cid)[0]["Name"]
    ok(cli, "rm", cid)
    assert volumes(cli) == {"named", left}
    ok(cli, "run", "--rm", "-v", "/anon2", "busybox", "true")
    assert volumes(cli) == {"named", left}
    ok(cli, "volume", "rm", "named", left)


def test_image_volume_makes_an_anonymous_volume(cli: CLI, engine: Daemon) -> None:
    ok(cli, "build", "-q", "-t", "withvol", "-",
       stdin=b"FROM busybox\nRUN echo marked > /etc/marker\nVOLUME /etc /data\n")
    cid = ok(cli, "create", "-v", "given:/data", "withvol", "cat", "/etc/marker").strip()
    found = mounts(cli, cid)
    assert [(m["Destination"], m["Name"] == "given", m["Mode"]) for m in found] == [
        ("/data", True, "z"), ("/etc", False, "")]
    etc = found[1]["Name"]
    assert (engine.data_root / "volumes" / etc / "_data" / "marker").read_text() == "marked\n"
    assert ok(cli, "start", "-a", cid) == "marked\n"
    ok(cli, "rm", "-v", cid)
    assert volumes(cli) == {"given"}
    ok(cli, "volume", "rm", "given")
    ok(cli, "rmi", "withvol")


def test_volumes_from_and_read_only(cli: CLI) -> None:
    ok(cli, "create", "--name", "src", "-v", "shared:/shared", "-v", "/anon", "busybox",
       "true")
    ok(cli, "run", "--rm", "--volumes-from", "src", "busybox", "sh", "-c",
       "echo one > /shared/f; echo two > /anon/g")
    assert ok(cli, "run", "--rm", "--volumes-from", "src:ro", "busybox", "cat", "/shared/f",
              "/anon/g") == "one\ntwo\n"
    code, _, err = cli("run", "--rm", "--volumes-from", "src:ro", "busybox", "touch",
                       "/shared/x")
    assert code == 1 and "Read-only file system" in err
    code, _, err = cli("run", "--rm", "-v", "shared:/s:ro", "busybox", "touch", "/s/x")
    assert code == 1 and "Read-only file system" in err
    code, _, err = cli("run", "--rm", "--volumes-from", "nosuch", "busybox", "true")
    assert code == 125 and "No such container: nosuch" in err
    ok(cli, "rm", "-v", "src")
    assert volumes(cli) == {"shared"}
    ok(cli, "volume", "rm", "shared")


def test_docker_py_volumes(engine: Daemon) -> None:
    import docker as docker_py

    client = docker_py.DockerClient(base_url=engine.host, version="1.41")
    try:
        output = client.containers.run(
            "busybox", ["sh", "-c", "echo py > /v/f; cat /v/f"], remove=True,
            volumes={"pyvol": {"bind": "/v", "mode": "rw"}})
        assert output == b"py\n"
        volume = client.volumes.get("pyvol")
        assert volume.attrs["Mountpoint"].endswith("/volumes/pyvol/_data")
        container = client.containers.create("busybox", "true",
                                              volumes={"pyvol": {"bind": "/v", "mode": "ro"}})
        assert [(m["Name"], m["RW"], m["Mode"]) for m in container.attrs["Mounts"]] == [
            ("pyvol", False, "ro")]
        with pytest.raises(docker_py.errors.APIError, match="volume is in use"):
            volume.remove()
        container.remove()
        volume.remove()
    finally:
        client.close()


# -- compared with dockerd ---------------------------------------------------------------------

def _shape(found: list[dict[str, Any]], prefix: str) -> list[dict[str, Any]]:
    """Mounts without what differs by daemon: the data root and anonymous volumes' names."""
    out = []
    for item in found:
        mount = dict(item)
        if mount["Type"] == "volume":
            name = mount["Name"]
            assert mount["Source"].endswith(f"/volumes/{name}/_data"), mount
            mount["Name"] = name.removeprefix(prefix) if name.startswith(prefix) else "<anon>"
            mount["Source"] = f"<root>/{mount['Name']}/_data"
        out.append(mount)
    return sorted(out, key=lambda m: m["Destination"])


def test_inspect_mounts_as_dockerd(cli: CLI, dockerd: CLI, tmp_path: Path) -> None:
    prefix = f"dyvol-e2e-{os.getpid()}-"
    image, source, user = prefix + "img", prefix + "src", prefix + "user"
    tar = rootfs_tar(prefix + "\n")
    options = ["-v", f"{prefix}a:/a", "-v", f"{prefix}b:/b:ro", "-v", "/anon",
               "-v", f"{tmp_path}:/bound:ro",
               "--mount", f"type=volume,source={prefix}c,target=/c,readonly",
               "--mount", "type=volume,target=/d,volume-nocopy"]
    sides: list[tuple[list[dict[str, Any]], list[dict[str, Any]]]] = []
    try:
        for run in (cli, dockerd):
            assert run("import", "--change", "VOLUME /data", "-", image, stdin=tar)[0] == 0
            code, _, err = run("create", "--name", source, *options, image, "true")
            assert code == 0, err
            code, _, err = run("create", "--name", user, "--volumes-from", f"{source}:ro",
                               image, "true")
            assert code == 0, err
            sides.append((_inspect(run, source), _inspect(run, user)))
    finally:
        for run in (cli, dockerd):
            run("rm", "-v", user, source)
            run("volume", "rm", *(f"{prefix}{n}" for n in "abc"))
            run("rmi", image)
    ours, theirs = sides
    assert [_shape(m, prefix) for m in ours] == [_shape(m, prefix) for m in theirs]


def _inspect(run: CLI, name: str) -> list[dict[str, Any]]:
    code, out, err = run("inspect", "-f", "{{json .Mounts}}", name)
    assert code == 0, err
    return list(json.loads(out))
