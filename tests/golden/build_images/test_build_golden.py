"""dockyard's builder against dockerd 20.10's classic builder, case by case.

Each case's ``expected.json`` holds what dockerd made of it (``record.py``): the build's
output lines, the image's container config, the history entries the build added and the
layers it added (entries, modes, owners, sizes, link targets, content digests, and mtimes
except those of entries the build itself made). dockyard builds the same context, packed as
the docker CLI 20.10 packs it, from the same busybox rootfs, and must give the same.
"""

from __future__ import annotations

import io
import json
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).parent))
from cases import CASES, HERE, case, context_tar, layer_listing, prepare

from dockyard.build.job import BuildOptions
from dockyard.oci.config import ContainerConfig
from dockyard.services.build import BuildRequest, BuildService
from dockyard.services.build_executor import RuntimeExecutor, runtime_command
from dockyard.services.images import ImageService
from dockyard.store import DataRoot
from dockyard.sys import real

pytestmark = pytest.mark.root

_ID = re.compile(r"\b[0-9a-f]{12}\b")
_BASE = re.compile(r"dyimg-build-golden-[0-9a-f-]+:busybox")
_LOCATION = re.compile(r"^\S+:\d+: ")  # dockyard names the Dockerfile and line; dockerd does not
_DAEMON = "Error response from daemon: "
RECORDED = [name for name in CASES if (HERE / name / "expected.json").exists()]


def busybox_tar() -> bytes:
    from dockyard.cli.rootfs import busybox_tar as make

    listing = subprocess.run(["/bin/busybox", "--list-full"], capture_output=True, text=True,
                             check=True).stdout.splitlines()
    out = io.BytesIO()
    make(Path("/bin/busybox").read_bytes(), listing, out, 0)
    return out.getvalue()


@pytest.fixture(scope="module", params=["overlayfs", "native"])
def service(request: pytest.FixtureRequest,
            tmp_path_factory: pytest.TempPathFactory) -> Iterator[BuildService]:
    """A data root with the busybox image, on each snapshotter."""
    top = tmp_path_factory.mktemp("build-golden")
    root = DataRoot(top / "root", real(), snapshotter=request.param)
    try:
        root.importer.import_rootfs(io.BytesIO(busybox_tar()), "docker.io/library/busybox:latest",
                                    config=ContainerConfig(cmd=("sh",)))
        images = ImageService(root)
        executor = RuntimeExecutor(top / "exec", real(), runtime_command("dockyard", {}))
        yield BuildService(root, images, real(), executor=executor, docker_version="test")
    finally:
        root.close()


def output_lines(messages: list[dict[str, Any]]) -> list[str]:
    text = "".join(m.get("stream", "") for m in messages)
    return [_ID.sub("<id>", line) for line in text.splitlines() if line.strip()]


def ours(service: BuildService, name: str, tmp_path: Path) -> dict[str, Any]:
    spec = case(name)
    context = prepare(name, tmp_path / "ctx")
    options = BuildOptions(build_args=spec.get("build_args", {}),
                           labels=spec.get("labels", {}), target=spec.get("target", ""),
                           no_cache=True)
    messages: list[dict[str, Any]] = []
    try:
        image_id = service.build(io.BytesIO(context_tar(context)), BuildRequest(options),
                                 messages.append)
    except Exception as exc:
        error = _LOCATION.sub("", str(exc))
        return {"output": [*output_lines(messages), error], "error": error}
    content = service.root.content
    manifest = json.loads(content.read_bytes(_manifest(service, str(image_id))))
    config = json.loads(content.read_bytes(image_id))
    layers = [content.read_bytes(_digest(d["digest"])) for d in manifest["layers"]]
    container = {k: v for k, v in config["config"].items()
                 if v not in (None, "", [], {}, False) and k != "Image"}
    history = [[h.get("created_by", ""), h.get("empty_layer", False), h.get("author", ""),
                h.get("comment", "")] for h in config["history"][1:]]
    return {"output": output_lines(messages), "config": container,
            "author": config.get("author", ""), "history": history,
            "layers": [layer_listing(layer) for layer in layers[1:]]}


def _digest(text: str) -> Any:
    from dockyard.oci.digest import Digest

    return Digest.parse(text)


def _manifest(service: BuildService, image_id: str) -> Any:
    image = service.images.get(image_id)
    return image.facts.manifest


def theirs(name: str) -> dict[str, Any]:
    expected: dict[str, Any] = json.loads((HERE / name / "expected.json").read_text())["dockerd"]
    lines = [_BASE.sub("busybox", line).removeprefix(_DAEMON) for line in expected["output"]]
    expected["output"] = without_stages(lines, case(name).get("skipped", []))
    if "error" in expected:
        expected["error"] = expected["error"].removeprefix(_DAEMON)
    return expected


_STEP = re.compile(r"^Step (\d+)/(\d+) : (.*)$")


def without_stages(lines: list[str], skipped: list[str]) -> list[str]:
    """dockerd's output without the stages dockyard skips (nothing needs them), the steps
    numbered again."""
    kept: list[str] = []
    skipping = False
    for line in lines:
        step = _STEP.match(line)
        if step and step.group(3).upper().startswith("FROM "):
            words = step.group(3).split()
            skipping = len(words) == 4 and words[3].lower() in skipped
        if not skipping:
            kept.append(line)
    total = sum(1 for line in kept if _STEP.match(line))
    number = 0
    out = []
    for line in kept:
        step = _STEP.match(line)
        if step:
            number += 1
        out.append(f"Step {number}/{total} : {step.group(3)}" if step else line)
    return out


def _whiteouts_without_links(summary: dict[str, Any]) -> dict[str, Any]:
    """dockerd writes the second whiteout of a layer with the link target of the first
    (overlayfs shares one whiteout inode, and moby's tar writer takes it for a hard link);
    that target means nothing, so it is not compared."""
    for layer in summary.get("layers", []):
        for entry in layer:
            if entry[0].rpartition("/")[2].startswith(".wh."):
                entry[5] = ""
    return summary


@pytest.mark.parametrize("name", RECORDED)
def test_same_image_as_dockerd(service: BuildService, name: str, tmp_path: Path) -> None:
    got = ours(service, name, tmp_path)
    want = theirs(name)
    assert _whiteouts_without_links(got) == _whiteouts_without_links(want)
