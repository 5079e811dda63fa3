"""The parser's golden Dockerfiles (``tests/golden/build``), built for real: where dockerd 20.10
built one (FROM scratch), dockyard's image has the same container config; where dockerd
refused one, dockyard's build fails too."""

from __future__ import annotations

import io
import json
import tarfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from dockyard.build.job import BuildOptions
from dockyard.errors import DockyardError
from dockyard.services.build import BuildRequest, BuildService
from dockyard.services.images import ImageService
from dockyard.store import DataRoot
from dockyard.sys import real

pytestmark = pytest.mark.root

PARSER_CASES = Path(__file__).parents[1] / "build"
CASES = sorted(p.parent.name for p in PARSER_CASES.glob("*/expected.json")
               if "dockerd" in json.loads(p.read_text()))


@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BuildService]:
    root = DataRoot(tmp_path_factory.mktemp("parser-cases") / "root", real())
    try:
        yield BuildService(root, ImageService(root), real())
    finally:
        root.close()


def _context(case: Path) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        for path in sorted(case.iterdir()):
            if path.name != "expected.json" and path.is_file():
                tar.add(str(path), path.name)
    return buf.getvalue()


@pytest.mark.parametrize("name", CASES)
def test_builds_like_dockerd(service: BuildService, name: str) -> None:
    dockerd: dict[str, Any] = json.loads((PARSER_CASES / name / "expected.json").read_text())[
        "dockerd"]
    options = BuildOptions(build_args=dockerd["build_args"], no_cache=True)
    build = lambda: service.build(io.BytesIO(_context(PARSER_CASES / name)),  # noqa: E731
                                  BuildRequest(options), lambda message: None)
    if "error" in dockerd:
        with pytest.raises(DockyardError):
            build()
        return
    image = service.images.get(str(build()))
    config = json.loads(service.root.content.read_bytes(image.id))["config"]
    got = {k: v for k, v in config.items() if v not in (None, "", [], {}, False)}
    assert got == dockerd["config"]
