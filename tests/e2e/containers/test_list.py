"""``docker ps`` filters, ``-s`` and ``docker container prune`` against dockyardd and dockerd:
the same containers on both, the same names selected by every filter."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import pytest

from ..comparison import make_pair
from ..conftest import Daemon
from .test_files import runnable_rootfs

pytestmark = [pytest.mark.root, pytest.mark.slow]

FILTERS = ("status=exited", "status=created", "status=running", "exited=3", "exited=0",
           "label=k", "label=k=v", "label=app", "before={p}c", "since={p}b", "name={p}[ab]",
           "name=^/{p}c", "id=", "expose=80", "expose=80/udp", "expose=70-90/tcp",
           "ancestor={image}", "health=none", "is-task=true", "volume=/data")


def test_filters_as_dockerd(engine: Daemon, tmp_path: Path) -> None:
    pairs = make_pair(engine, tmp_path)
    pair: Any = next(pairs)
    pair.tar = runnable_rootfs(pair.prefix + tmp_path.name)
    p = pair.prefix.replace("-", "") + "ps"
    image = pair.prefix + "list:1"
    try:
        pair.import_both(image)
        for side in (pair.ours, pair.theirs):
            side.run("run", "--name", f"{p}a", "-l", "k=v", "-l", "app=x", image,
                     "/bin/sh", "-c", "exit 3")
            side.run("create", "--name", f"{p}b", "-l", "k=w", "-v", "/data", image, "true")
            side.run("run", "-d", "--name", f"{p}c", "--expose", "80", image, "sleep", "100")
            side.run("run", "--name", f"{p}d", image, "true")
        results = {}
        for name, side in (("ours", pair.ours), ("theirs", pair.theirs)):
            found = {}
            cid = side.run("inspect", "-f", "{{.Id}}", f"{p}b")[1].strip()
            for template in FILTERS:
                spec = template.format(p=p, image=image) + \
                    (cid[:10] if template == "id=" else "")
                code, out, err = side.run("ps", "-a", "--filter", f"name={p}", "--filter",
                                          spec, "--format", "{{.Names}}")
                found[template] = (code, sorted(out.split()), err)
            found["no -a, exited=3"] = side.run("ps", "--filter", f"name={p}", "--filter",
                                                "exited=3", "--format", "{{.Names}}")
            found["-n 2"] = side.run("ps", "-n", "2", "--filter", f"name={p}",
                                     "--format", "{{.Names}}")
            found["-s"] = side.run("ps", "-as", "--filter", f"name={p}d", "--format",
                                   "{{.Size}}")
            found["bad"] = side.run("ps", "--filter", "status=nope")
            found["prune"] = side.run("container", "prune", "-f", "--filter", "label=k=v")
            found["after"] = side.run("ps", "-a", "--filter", f"name={p}", "--format",
                                      "{{.Names}}")
            results[name] = found
        ours, theirs = results["ours"], results["theirs"]
        for key in ours:
            if key == "prune":  # the deleted ID differs
                assert ours[key][1].splitlines()[0] == theirs[key][1].splitlines()[0]
                assert ours[key][1].splitlines()[-1] == theirs[key][1].splitlines()[-1]
                continue
            assert ours[key] == theirs[key], key
    finally:
        for side in (pair.ours, pair.theirs):
            _, out, _ = side.run("ps", "-aq", "--filter", f"name={p}")
            if out.split():
                side.run("rm", "-f", "-v", *out.split())
        next(pairs, None)


def test_prune_until(engine: Daemon) -> None:
    def cli(*args: str) -> tuple[int, str, str]:
        done = subprocess.run(["docker", "-H", engine.host, *args], capture_output=True,
                              text=True, check=False)
        return done.returncode, done.stdout, done.stderr

    assert cli("create", "--name", "old", "busybox", "true")[0] == 0
    code, out, _ = cli("container", "prune", "-f", "--filter", "until=1h")
    assert (code, out) == (0, "Total reclaimed space: 0B\n")
    code, out, _ = cli("container", "prune", "-f", "--filter", "until=0s")
    assert code == 0 and out.startswith("Deleted Containers:\n")
    assert cli("ps", "-aq")[1] == ""
    code, _, err = cli("container", "prune", "-f", "--filter", "name=x")
    assert (code, err) == (1, "Error response from daemon: Invalid filter 'name'\n")
