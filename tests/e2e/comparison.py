"""Comparing dockyardd with a real dockerd 20.10 through the same docker CLI 28.

:data:`EXEMPT` is the one list of image fields that may differ between the two daemons, each
with its reason. :class:`Pair` runs a CLI command against both and compares the normalised
output; the ``pair`` fixture (in conftest.py) builds one. dockerd is the one at
/var/run/docker.sock (``scripts/peers start`` or ``bash bench/setup.sh`` starts it); without it
the comparisons are skipped. Every image made there has a name starting with
``dyimg-e2e-<pid>-`` and is removed by name at the end.
"""

from __future__ import annotations

import io
import os
import re
import shutil
import subprocess
import tarfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from .conftest import DOCKER_CLI, Daemon, _ping, docker

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
# `history -H=false` prints when each side made its image: equal only when both imports fell in
# the same second. The format must still be the same (RFC 3339 to the second, as dockerd).
_STAMP = re.compile(r"\b\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(Z|[+-]\d\d:\d\d)(?=\s|$)")

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
        text = _STAMP.sub("<time>", text)
        lines = [re.split(r"\s{2,}", line.rstrip()) for line in text.splitlines()]
        return "\n".join("|".join(cells) for cells in lines)


def _alive(path: Path) -> bool:
    """Whether the reference daemon answers (it may be slower to answer than ours)."""
    return _ping(path, timeout=2.0)


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


def make_pair(daemon: Daemon, tmp_path: Path) -> Iterator[Pair]:
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


