"""Benchmark rows: one module per row, each with a ``make(ctx) -> Row`` factory.

A row names the engines it compares and, per engine and iteration, an untimed ``setup`` that
returns the timed part (a command or a callable) and an untimed ``teardown``. The harness calls
``prepare`` once before the first iteration and ``finish`` once after the last, also on failure.
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

ENGINES = ("dockyard", "docker", "podman")


@dataclass(frozen=True, slots=True)
class Context:
    """Paths and tools shared by all rows of one run."""

    repo: Path  # the dockyard checkout
    python: Path  # the venv python that runs dockyard
    work: Path  # scratch directory of this run, removed at its end
    cache: Path  # long-lived inputs (the Debian tar), kept between runs
    docker: str  # the docker CLI
    podman: str
    env: Mapping[str, str] = field(default_factory=dict)  # environment for every command


@dataclass(frozen=True, slots=True)
class Command:
    """A command to time; it must exit 0."""

    argv: tuple[str, ...]


Timed = Command | Callable[[], None]


class RowFailed(Exception):
    """The row cannot run (or failed) for one engine; the message says why, in one line."""


class Row(Protocol):
    name: str
    summary: str  # one line: what is timed
    default_runs: int
    engines: tuple[str, ...]

    def prepare(self) -> None: ...

    def check(self, engine: str) -> None:
        """Raise RowFailed if this engine cannot run the row (e.g. its command does not exist)."""

    def setup(self, engine: str, i: int) -> Timed: ...

    def teardown(self, engine: str, i: int) -> None: ...

    def finish(self) -> None: ...


def names() -> list[str]:
    """All row names, in the order they run by default."""
    here = str(Path(__file__).parent)
    return sorted(m.name for m in pkgutil.iter_modules([here]) if not m.name.startswith("_"))


def load(name: str, ctx: Context) -> Row:
    if name not in names():
        raise KeyError(name)
    module = importlib.import_module(f"{__name__}.{name}")
    make: Callable[[Context], Row] = module.make
    return make(ctx)
