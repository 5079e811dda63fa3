"""A container's files through the real docker CLI and docker-py: ``docker cp`` both ways (a
running container with a bind mount, a stopped one, through symlinks, streams), ``docker diff``
and ``docker export``, compared with dockerd where it runs; and ``docker cp`` while the
container swaps a directory for a symlink to / in a loop (CVE-2018-15664): nothing is read
from or written to the host."""

from __future__ import annotations

import contextlib
import io
import os
import tarfile
import time
from pathlib import Path
from typing import Any

import pytest

from ..comparison import make_pair
from ..conftest import Daemon
from .conftest import CLI

pytestmark = [pytest.mark.root, pytest.mark.slow]


def members(data: bytes) -> dict[str, bytes | str]:
    found: dict[str, bytes | str] = {}
    with tarfile.open(fileobj=io.BytesIO(data)) as archive:
        for member in archive.getmembers():
            if member.isfile():
                extracted = archive.extractfile(member)
                assert extracted is not None
                found[member.name] = extracted.read()
            else:
                found[member.name] = member.linkname or member.type.decode()
    return found


def test_cp_both_ways(engine: Daemon, cli: CLI, tmp_path: Path) -> None:
    bind = tmp_path / "bind"
    bind.mkdir()
    code, _, err = cli("run", "-d", "--name", "files", "-v", f"{bind}:/data", "busybox", "sh",
                       "-c", "mkdir -p /d/sub; echo hi > /d/f; ln -s /d /lnk; sleep 1000")
    assert code == 0, err
    time.sleep(0.3)
    source = tmp_path / "hello.txt"
    source.write_text("hello\n")
    for target in ("files:/", "files:/data/", "files:/lnk/", "files:/d/renamed.txt"):
        assert cli("cp", str(source), target)[0] == 0, target
    code, out, _ = cli("exec", "files", "cat", "/hello.txt", "/data/hello.txt", "/d/hello.txt",
                       "/d/renamed.txt")
    assert (code, out) == (0, "hello\n" * 4)
    assert (bind / "hello.txt").read_text() == "hello\n"  # into the bind mount, as dockerd
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    assert cli("cp", "files:/d", str(out_dir))[0] == 0
    assert sorted(p.name for p in (out_dir / "d").iterdir()) == \
        ["f", "hello.txt", "renamed.txt", "sub"]
    assert cli("cp", "files:/lnk", str(out_dir / "lnk"))[0] == 0
    assert os.readlink(out_dir / "lnk") == "/d"
    code, _, err = cli("cp", "files:/nope", str(out_dir))
    assert (code, err.strip()) == (1, "Error response from daemon: Could not find the file "
                                      "/nope in container files")
    # a stopped container: its root is mounted for the copy
    assert cli("stop", "-t", "0", "files")[0] == 0
    assert cli("cp", str(source), "files:/stopped.txt")[0] == 0
    docker = pytest.importorskip("docker")
    client = docker.APIClient(base_url=engine.host)
    try:
        stream, stat = client.get_archive("files", "/stopped.txt")
        assert members(b"".join(stream)) == {"stopped.txt": b"hello\n"}
        assert (stat["name"], stat["size"], stat["mode"], stat["linkTarget"]) == \
            ("stopped.txt", 6, 0o644, "")
        assert client.put_archive("files", "/d", _tar({"put.txt": b"put"}))
    finally:
        client.close()
    assert cli("start", "files")[0] == 0
    assert cli("exec", "files", "cat", "/stopped.txt", "/d/put.txt")[1] == "hello\nput"
    # cp -a: owned by the container's user, looked up on the host as dockerd does
    assert cli("run", "-d", "--name", "nobody", "--user", "65534:65534", "busybox", "sleep",
               "100")[0] == 0
    assert cli("cp", "-a", str(source), "nobody:/tmp/")[0] == 0
    assert cli("exec", "nobody", "stat", "-c", "%u:%g", "/tmp/hello.txt")[1] == "65534:65534\n"


def _tar(files: dict[str, bytes]) -> bytes:
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w") as archive:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size, info.mode = len(data), 0o644
            archive.addfile(info, io.BytesIO(data))
    return out.getvalue()


def test_cp_while_symlinks_are_swapped(engine: Daemon, cli: CLI, tmp_path: Path) -> None:
    """/w flips between a directory and a symlink to / while the CLI copies in and out of
    /w/tmp/<unique>/: the host's directory of the same path is never read or written."""
    unique = f"dyk-cve-{os.getpid()}"
    host_dir = Path("/tmp") / unique
    host_dir.mkdir()
    try:
        (host_dir / "secret").write_text("HOST\n")
        script = (f"mkdir -p /w/tmp/{unique} /tmp/{unique}; echo W > /w/tmp/{unique}/secret; "
                  f"echo ROOT > /tmp/{unique}/secret; "
                  "while true; do mv /w /w.real; ln -s / /w; rm /w; mv /w.real /w; done")
        assert cli("run", "-d", "--name", "swapper", "busybox", "sh", "-c", script)[0] == 0
        time.sleep(0.3)
        source = tmp_path / "payload"
        source.write_text("payload\n")
        seen = set()
        for n in range(40):
            cli("cp", str(source), f"swapper:/w/tmp/{unique}/put-{n}")
            code, out, _ = cli("cp", f"swapper:/w/tmp/{unique}/secret", "-")
            if code == 0:
                seen.add(members(out.encode())["secret"])
        assert sorted(p.name for p in host_dir.iterdir()) == ["secret"]
        assert (host_dir / "secret").read_text() == "HOST\n"
        assert seen and seen <= {b"W\n", b"ROOT\n"}
    finally:
        cli("rm", "-f", "swapper")
        for leftover in host_dir.iterdir():
            leftover.unlink()
        host_dir.rmdir()


def runnable_rootfs(marker: str) -> bytes:
    """busybox with its applets as hardlinks that keep the binary's mode, /etc, /tmp and a
    marker that makes the layer this test's own."""
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w", format=tarfile.PAX_FORMAT) as archive:
        for name in ("bin", "etc", "tmp", "home"):
            info = tarfile.TarInfo(name)
            info.type, info.mode = tarfile.DIRTYPE, 0o1777 if name == "tmp" else 0o755
            archive.addfile(info)
        archive.add("/bin/busybox", arcname="bin/busybox")
        for applet in ("sh", "ls", "cat", "mkdir", "ln", "rm", "touch", "echo", "sleep", "vi"):
            link = tarfile.TarInfo(f"bin/{applet}")
            link.type, link.linkname, link.mode = tarfile.LNKTYPE, "bin/busybox", 0o755
            archive.addfile(link)
        for name, text in (("etc/passwd", "root:x:0:0:root:/root:/bin/sh\n"),
                           ("etc/group", "root:x:0:\n"), ("etc/marker", marker)):
            data = text.encode()
            info = tarfile.TarInfo(name)
            info.size, info.mode = len(data), 0o644
            archive.addfile(info, io.BytesIO(data))
    return out.getvalue()


def test_diff_export_and_archive_as_dockerd(engine: Daemon, tmp_path: Path) -> None:
    docker = pytest.importorskip("docker")
    pairs = make_pair(engine, tmp_path)
    pair: Any = next(pairs)
    pair.tar = runnable_rootfs(pair.prefix + tmp_path.name)
    name = pair.prefix + "files"
    clients = {side: docker.APIClient(base_url=url) for side, url in
               (("ours", engine.host), ("theirs", "unix:///var/run/docker.sock"))}
    try:
        pair.import_both(name + ":1")
        script = ("mkdir -p /d/sub /tmp/x; echo hi > /d/f; ln -s /d /lnk; ln -s sub /d/rel; "
                  "rm /bin/vi; echo >> /etc/passwd; touch /etc/new; sleep 1000")
        results = {}
        for client in clients.values():
            client.create_container(f"{name}:1", ["/bin/sh", "-c", script], name=name,
                                    working_dir="/work/dir",
                                    host_config=client.create_host_config(
                                        binds=[f"{tmp_path}:/mnt/bind"], tmpfs={"/run/t": ""}))
            client.start(name)
        time.sleep(0.5)
        for side, client in clients.items():
            changes = sorted((c["Path"], c["Kind"]) for c in client.diff(name))
            stats = {}
            for path in ("/d/f", "/d", "/d/", "/d/.", "/", "/lnk", "/lnk/", "/d/rel", "/etc"):
                stat = client.stat_container(name, path) if hasattr(client, "stat_container") \
                    else client.get_archive(name, path)[1]
                stats[path] = {k: v for k, v in stat.items() if k != "mtime"} | \
                    {"mtime": bool(stat["mtime"])}
            archives = {path: sorted(members(b"".join(client.get_archive(name, path)[0])))
                        for path in ("/d", "/d/.", "/lnk", "/lnk/", "/d/f")}
            exported = sorted(members(b"".join(client.export(name))))
            errors = []
            for path, data in (("/nope", _tar({"a": b""})), ("/d/f", _tar({"a": b""}))):
                try:
                    client.put_archive(name, path, data)
                except docker.errors.APIError as exc:
                    errors.append((exc.status_code, exc.explanation))
            results[side] = (changes, stats, archives, exported, errors)
        ours, theirs = results["ours"], results["theirs"]
        assert ours[0] == theirs[0]  # changes (dockerd lists them in the file system's order)
        assert ours[1] == theirs[1]  # the stats of each path
        assert ours[2] == theirs[2]  # archive names
        assert ours[4] == [(404, f"Could not find the file /nope in container {name}"),
                           (500, "extraction point is not a directory")] == theirs[4]
        # export: the same files, except what dockerd's init layer adds
        init = {".dockerenv", "dev/console", "dev/pts", "dev/shm", "etc/mtab"}
        assert sorted(set(theirs[3]) - init) == sorted(set(ours[3]) - init)
    finally:
        for client in clients.values():
            with contextlib.suppress(docker.errors.APIError):
                client.remove_container(name, force=True)
            client.close()
        next(pairs, None)
