"""Mounts beyond the defaults, compared with runc through the container's mountinfo: binds with
flags and propagation, read-only tmpfs, rootfsPropagation, a destination behind a symlink."""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from .corebundle import DOCKYARD, RUNC, Runtime, make_bundle, runc_spec

pytestmark = pytest.mark.root

# mount point, options, optional fields without their numbers, type, super options
MOUNTINFO = "cut -d' ' -f5- /proc/self/mountinfo; cat /data/file 2>&1; touch /data/new 2>&1; true"


def bind(source: str, destination: str, *options: str) -> Callable[[dict[str, Any]], None]:
    return lambda config: config["mounts"].append(
        {"destination": destination, "type": "bind", "source": source, "options": list(options)})


CASES: dict[str, Callable[[dict[str, Any]], None]] = {
    "bind ro nosuid rslave": bind("DATA", "/data", "rbind", "ro", "nosuid", "rslave"),
    "bind rw rprivate": bind("DATA", "/data", "bind", "rprivate"),
    "bind shared": bind("DATA", "/data", "rbind", "rshared"),
    "tmpfs ro": lambda config: config["mounts"].append(
        {"destination": "/data", "type": "tmpfs", "source": "tmpfs",
         "options": ["ro", "nosuid", "size=1m", "mode=700"]}),
    "rootfs rshared": lambda config: config["linux"].update(rootfsPropagation="rshared"),
    "rootfs rslave": lambda config: config["linux"].update(rootfsPropagation="rslave"),
    "rootfs private": lambda config: config["linux"].update(rootfsPropagation="private"),
    "destination through a symlink": bind("DATA", "/link/inner", "rbind"),
}


def normalized(output: str) -> str:
    """Peer group numbers differ between any two containers: keep only their kind."""
    return re.sub(r"(shared|master|propagate_from):\d+", r"\1", output)


@pytest.fixture
def runtimes(tmp_path: Path) -> Iterator[tuple[Runtime, Runtime]]:
    ours, theirs = Runtime(DOCKYARD, tmp_path / "dy"), Runtime(RUNC, tmp_path / "runc")
    try:
        yield ours, theirs
    finally:
        ours.cleanup()
        theirs.cleanup()


@pytest.mark.parametrize("case", list(CASES))
def test_mounts_as_runc(tmp_path: Path, runtimes: tuple[Runtime, Runtime], case: str) -> None:
    data = tmp_path / "data"
    data.mkdir()
    (data / "file").write_text("content\n")
    outputs = []
    for runtime in runtimes:
        config = runc_spec(args=["sh", "-c", MOUNTINFO])
        CASES[case](config)
        for mount in config["mounts"]:
            if mount["source"] == "DATA":
                mount["source"] = str(data)
        bundle = make_bundle(tmp_path / "bundles" / runtime.root.name, config)
        (bundle / "rootfs/link").symlink_to("/data")  # resolved inside the root: /data
        done = runtime("run", "-b", str(bundle), f"mnt-{uuid.uuid4().hex[:6]}")
        assert done.returncode == 0, done.stderr
        outputs.append(normalized(done.stdout.replace(str(tmp_path), "TMP")))
        assert not (data / "new").exists() or "ro" not in case
    assert outputs[0] == outputs[1]
