"""The real docker CLI 28 against dockyardd and against dockerd 20.10, fed the same rootfs tar:
``import``, ``images``, ``image inspect``, ``history``, ``tag`` and ``rmi`` must print the same
tables, messages and exit codes, except for what :data:`EXEMPT` lists (with the reason).

dockerd is the one at /var/run/docker.sock (``bash bench/setup.sh`` starts it); without it the
comparisons are skipped. Every image made there has a name starting with ``dyimg-e2e-<pid>-``
and is removed by name at the end.
"""

from __future__ import annotations

import io
import json
import os
import re
import shutil
import socket
import subprocess
import tarfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from .conftest import DOCKER_CLI, Daemon, docker

pytestmark = pytest.mark.root

DOCKERD_SOCKET = Path("/var/run/docker.sock")
BUSYBOX = Path("/bin/busybox")

EXEMPT = {
    "Id": "the image ID digests the config, whose created time differs",
    "Created": "the import time",
    "DockerVersion": "dockerd writes its version into configs it makes; dockyard's importer"
    " writes none",
    "GraphDriver.Data": "paths of each daemon's own layer directories",
    "Metadata.LastTagTime": "the tag time",
}

_AGO = re.compile(r"(Less than a second|About an? (minute|hour)|\d+ (second|minute|hour)s?) ago")

Result = tuple[int, str, str]
Runner = Callable[..., Result]


@dataclass
class Side:
    """One daemon, how to run the CLI against it, and the image IDs it gave, in order."""

    name: str
    run: Runner
    ids: list[str] = field(default_factory=list)

    def normal(self, result: Result) -> Result:
        code, out, err = result
        return code, self._normal(out), self._normal(err)

    def _normal(self, text: str) -> str:
        for index, image in enumerate(self.ids):
            hexid = image.removeprefix("sha256:")
            text = text.replace(hexid, f"<ID{index}>").replace(hexid[:12], f"<ID{index}>")
        text = _AGO.sub("<ago>", text)
        lines = [re.split(r"\s{2,}", line.rstrip()) for line in text.splitlines()]
        return "\n".join("|".join(cells) for cells in lines)


def _alive(path: Path) -> bool:
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
            sock.settimeout(2.0)
            sock.connect(str(path))
            sock.sendall(b"GET /_ping HTTP/1.1\r\nHost: d\r\nConnection: close\r\n\r\n")
            return sock.recv(64).startswith(b"HTTP/1.1 200")
    except OSError:
        return False


def run_dockerd(config: Path) -> Runner:
    def run(*args: str, stdin: bytes | None = None, timeout: float = 60.0) -> Result:
        env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(config),
               "DOCKER_HOST": f"unix://{DOCKERD_SOCKET}", "DOCKER_CONFIG": str(config)}
        done = subprocess.run([str(DOCKER_CLI), *args], input=stdin, capture_output=True,
                              env=env, timeout=timeout, check=False)
        return done.returncode, done.stdout.decode(), done.stderr.decode()

    return run


def rootfs_tar(marker: str) -> bytes:
    """A small busybox rootfs: hard links, a symlink, /etc files, and a unique marker file (so
    its layer is this test's alone on the shared dockerd)."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for name in ("bin", "etc", "tmp"):
            info = tarfile.TarInfo(name)
            info.type, info.mode = tarfile.DIRTYPE, 0o1777 if name == "tmp" else 0o755
            tar.addfile(info)
        tar.add(str(BUSYBOX), arcname="bin/busybox")
        for applet in ("sh", "ls", "cat"):
            link = tarfile.TarInfo(f"bin/{applet}")
            link.type, link.linkname = tarfile.LNKTYPE, "bin/busybox"
            tar.addfile(link)
        symlink = tarfile.TarInfo("bin/vi")
        symlink.type, symlink.linkname = tarfile.SYMTYPE, "busybox"
        tar.addfile(symlink)
        for name, text in (("etc/passwd", "root:x:0:0:root:/root:/bin/sh\n"),
                           ("etc/group", "root:x:0:\n"), ("etc/marker", marker)):
            data = text.encode()
            info = tarfile.TarInfo(name)
            info.size, info.mode = len(data), 0o644
            tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


@dataclass
class Pair:
    ours: Side
    theirs: Side
    prefix: str
    tar: bytes

    def both(self, *args: str, stdin: bytes | None = None) -> tuple[Result, Result]:
        """Run on both sides; ``{id}`` in an argument is that side's last image's short ID."""
        return tuple(  # type: ignore[return-value]
            side.run(*(a.replace("{id}", side.ids[-1][7:19] if side.ids else "") for a in args),
                     stdin=stdin)
            for side in (self.ours, self.theirs)
        )

    def same(self, *args: str, stdin: bytes | None = None) -> Result:
        """Run on both; the normalised outputs must be equal. Returns ours (raw)."""
        ours, theirs = self.both(*args, stdin=stdin)
        assert self.ours.normal(ours) == self.theirs.normal(theirs), args
        return ours

    def same_rows(self, *args: str) -> None:
        """As :meth:`same`, comparing only the header and the rows of this test's images (the
        shared dockerd lists other images too)."""
        ours, theirs = self.both(*args)
        assert ours[0] == theirs[0] == 0, (ours, theirs)

        def rows(side: Side, result: Result) -> list[str]:
            lines = side.normal(result)[1].splitlines()
            return lines[:1] + [line for line in lines[1:] if "<ID" in line]

        assert rows(self.ours, ours) == rows(self.theirs, theirs), args

    def import_both(self, name: str, *options: str) -> None:
        ours, theirs = self.both("import", *options, "-", *([name] if name else []),
                                 stdin=self.tar)
        assert ours[0] == theirs[0] == 0, (ours, theirs)
        self.ours.ids.append(ours[1].strip())
        self.theirs.ids.append(theirs[1].strip())
        assert self.ours.normal(ours) == self.theirs.normal(theirs)


def _keys(value: Any, path: str = "") -> set[str]:
    if not isinstance(value, dict):
        return set()
    found = set()
    for key, inner in value.items():
        where = f"{path}.{key}" if path else key
        found.add(where)
        if where not in EXEMPT:
            found |= _keys(inner, where)
    return found


def _without_exempt(value: Any, path: str = "") -> Any:
    if isinstance(value, list):
        return [_without_exempt(v, path) for v in value]
    if not isinstance(value, dict):
        return value
    return {k: _without_exempt(v, f"{path}.{k}" if path else k)
            for k, v in value.items() if (f"{path}.{k}" if path else k) not in EXEMPT}


# -- scenarios (each takes a Pair, so they also run against a hand-started daemon) -----------


def scenario_import_and_list(pair: Pair) -> None:
    repo = f"{pair.prefix}bb"
    pair.import_both(f"{repo}:v1", "-c", 'CMD ["sh"]', "-c", "ENV A=1", "-c", "LABEL dyimg=1")
    pair.same("images", repo)
    pair.same("images", "--digests", repo)
    pair.same("images", "-q", repo)
    pair.same("images", "--no-trunc", repo)
    pair.same("images", "--filter", f"reference={repo}:*")
    pair.same("images", "--filter", f"reference={repo}", "--filter", "label=dyimg=1")
    pair.same("images", "--format", "{{.Repository}}:{{.Tag}} {{.Size}}", repo)
    pair.same("images", "--filter", "foo=bar")
    pair.same("images", "--filter", "dangling=maybe")


def scenario_inspect_and_history(pair: Pair) -> None:
    repo = f"{pair.prefix}hist"
    pair.import_both(f"{repo}:v1", "-m", "from the e2e test", "-c", "EXPOSE 80")
    ours, theirs = pair.both("image", "inspect", f"{repo}:v1")
    assert ours[0] == theirs[0] == 0
    [mine], [real] = json.loads(ours[1]), json.loads(theirs[1])
    assert _keys(mine) == _keys(real)
    assert list(mine) == list(real)
    assert _without_exempt(mine) == _without_exempt(real)
    pair.same("image", "inspect", "--format", "{{.Id}} {{.Config.Cmd}} {{.Size}}", f"{repo}:v1")
    pair.same("history", f"{repo}:v1")
    pair.same("history", "--no-trunc", f"{repo}:v1")
    pair.same("history", "-H=false", f"{repo}:v1")
    pair.same("image", "inspect", "nosuchimage")
    pair.same("history", "nosuchimage")


def scenario_tag_and_rmi(pair: Pair) -> None:
    repo = f"{pair.prefix}tag"
    pair.import_both(f"{repo}:v1")
    pair.same("tag", f"{repo}:v1", f"{repo}:v2")
    pair.same("tag", "{id}", f"localhost:5000/{repo}:v3")
    pair.same("images", repo)
    pair.same("images", f"localhost:5000/{repo}")
    pair.same("image", "inspect", "--format", "{{.RepoTags}}", f"{repo}:v1")
    pair.same("rmi", f"{repo}:v2")
    pair.same("rmi", f"{repo}:nosuch")
    assert pair.same("rmi", "{id}")[0] == 1  # two repositories: must be forced
    assert pair.same("rmi", "-f", "{id}")[0] == 0
    pair.same("images", repo)
    pair.same("rmi", "nosuchimage")
    pair.same("tag", "nosuchimage", f"{repo}:x")


def scenario_untag_last_name_deletes(pair: Pair) -> None:
    repo = f"{pair.prefix}last"
    pair.import_both(f"{repo}:v1")
    pair.same("tag", f"{repo}:v1", f"{repo}:v2")
    pair.same("rmi", f"{repo}:v1", f"{repo}:v2")
    pair.same("image", "inspect", "--format", "{{.Id}}", "{id}")


def scenario_dangling(pair: Pair) -> None:
    pair.import_both("")
    pair.same_rows("images", "--filter", "dangling=true")
    pair.same_rows("images", "-a")
    pair.same("image", "inspect", "--format", "{{.RepoTags}} {{.RepoDigests}} {{.Comment}}", "{id}")
    pair.same("history", "{id}")
    pair.same("tag", "{id}", f"{pair.prefix}named")
    pair.same("images", f"{pair.prefix}named")
    pair.same("rmi", f"{pair.prefix}named")
    pair.same("image", "inspect", "--format", "{{.Id}}", "{id}")


SCENARIOS = [scenario_import_and_list, scenario_inspect_and_history, scenario_tag_and_rmi,
             scenario_untag_last_name_deletes, scenario_dangling]


@pytest.fixture
def pair(daemon: Daemon, tmp_path: Path) -> Iterator[Pair]:
    if not _alive(DOCKERD_SOCKET):
        pytest.skip("no dockerd at /var/run/docker.sock to compare with (bash bench/setup.sh)")
    if not BUSYBOX.exists():
        pytest.skip("no /bin/busybox for the test rootfs (apt-get install busybox-static)")
    _, _, err = docker(daemon, "images")
    if "page not found" in err:
        pytest.skip("this dockyardd does not serve the image endpoints yet")
    prefix = f"dyimg-e2e-{os.getpid()}-"
    config = tmp_path / "dockerd-config"
    config.mkdir()
    ours = Side("dockyardd", lambda *a, **k: docker(daemon, *a, **k))
    theirs = Side("dockerd", run_dockerd(config))
    try:
        yield Pair(ours, theirs, prefix, rootfs_tar(f"{prefix}{tmp_path.name}\n"))
    finally:
        _clean_dockerd(theirs, prefix)
        shutil.rmtree(config, ignore_errors=True)


def _clean_dockerd(side: Side, prefix: str) -> None:
    _, out, _ = side.run("images", "--format", "{{.Repository}}:{{.Tag}}")
    names = [line for line in out.splitlines() if prefix in line]
    if names:
        side.run("rmi", "-f", *names)
    for image in side.ids:
        side.run("rmi", "-f", image)


@pytest.mark.parametrize("scenario", SCENARIOS, ids=lambda s: s.__name__)
def test_same_output_as_dockerd(pair: Pair, scenario: Callable[[Pair], None]) -> None:
    scenario(pair)


def test_prune_prints_what_dockerd_prints(daemon: Daemon, tmp_path: Path) -> None:
    """Prune on the shared dockerd would remove other people's images, so dockyardd's output is
    compared with the text dockerd 20.10 printed in the same situation (api-traces)."""
    if not BUSYBOX.exists():
        pytest.skip("no /bin/busybox for the test rootfs (apt-get install busybox-static)")
    if "page not found" in docker(daemon, "images")[2]:
        pytest.skip("this dockyardd does not serve the image endpoints yet")
    assert docker(daemon, "image", "prune", "-f") == (0, "Total reclaimed space: 0B\n", "")
    code, out, _ = docker(daemon, "import", "-", stdin=rootfs_tar(tmp_path.name))
    assert code == 0
    image = out.strip()
    layer = json.loads(docker(daemon, "image", "inspect", image)[1])[0]["RootFS"]["Layers"][0]
    assert docker(daemon, "image", "prune", "-f") == (
        0,
        # the CLI prints SpaceReclaimed with four significant digits (units.HumanSize)
        f"Deleted Images:\ndeleted: {image}\ndeleted: {layer}\n\nTotal reclaimed space: 1.982MB\n",
        "",
    )
    assert docker(daemon, "images", "-q") == (0, "", "")
