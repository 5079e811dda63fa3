"""Fixtures for the bench/ tests: `bench_module("bench.x")` imports a module of the bench tree,
which lives at the repository root rather than in the installed package."""

from __future__ import annotations

import importlib
from collections.abc import Callable
from pathlib import Path
from types import ModuleType

import pytest

REPO = Path(__file__).resolve().parents[3]


def import_bench(name: str) -> ModuleType:
    with pytest.MonkeyPatch.context() as mp:
        mp.syspath_prepend(str(REPO))
        return importlib.import_module(name)


@pytest.fixture
def bench_module() -> Callable[[str], ModuleType]:
    return import_bench
