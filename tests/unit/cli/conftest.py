"""The scripted fake daemon as a fixture (its socket lives in a short temp dir)."""

from __future__ import annotations

import importlib.util
import shutil
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest


def _load() -> Any:
    name = "dockyard_tests_fake_daemon"
    if name not in sys.modules:
        path = Path(__file__).parents[1] / "client" / "fake_daemon.py"
        spec = importlib.util.spec_from_file_location(name, path)
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    return sys.modules[name]


fake = _load()


@pytest.fixture
def daemon() -> Iterator[Any]:
    workdir = Path(tempfile.mkdtemp(prefix="dy-fake-"))
    server = fake.FakeDaemon(workdir / "d.sock")
    try:
        yield server
    finally:
        server.close()
        shutil.rmtree(workdir, ignore_errors=True)
