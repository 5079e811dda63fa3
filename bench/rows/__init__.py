"""Benchmark rows: one module per row, each with a ``make(ctx) -> Row`` factory; or one module
for a family of rows, which names them in ``ROWS`` and has a ``make(ctx, name) -> Row`` factory.

A row names the engines it compares and, per engine and iteration, an untimed ``setup`` that
returns the timed part and an untimed ``teardown``. The harness calls ``prepare`` once before the
first iteration, ``check`` once per engine (which may also start what that engine needs, such as a
daemon), and ``finish`` once after the last iteration, also on failure.

The timed part is one of:
    Command    a command; the harness times the subprocess (with `env` set over the run's own)
    SelfTimed  a callable that times itself and returns its samples, e.g. one per request on a
               keep-alive connection, so that only the daemon's answers are in the figures
    Parts      a callable that times itself and returns samples per part, e.g. upload and
               download; each part is a figure of its own, `<row>/<part>`, with its own ratio
    a callable taking no arguments; the harness times the call
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Callable, Mapping, Sequence
from contextlib import AbstractContextManager, ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Protocol, TypeVar, cast

# dockyard and the peers it is compared with; a row names those it compares
ENGINES = ("dockyard", "docker", "podman", "docker-registry", "runc", "crun")

T = TypeVar("T")


class Pool:
    """Resources that several rows of one run share (dockerd and a dockyardd holding 200 images).

    `get` opens a resource on first use by entering the context manager that `opener` returns;
    later calls with the same key return the same value. The harness calls `close` once at the
    end of the run, which exits every opened context, the last opened first.
    """

    def __init__(self) -> None:
        self._values: dict[str, object] = {}
        self._stack = ExitStack()

    def get(self, key: str, opener: Callable[[], AbstractContextManager[T]]) -> T:
        if key not in self._values:
            self._values[key] = self._stack.enter_context(opener())
        return cast(T, self._values[key])

    def close(self) -> None:
        self._values.clear()
        self._stack.close()


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
    pool: Pool = field(default_factory=Pool)  # resources shared by rows, closed at the run's end


@dataclass(frozen=True, slots=True)
class Command:
    """A command to time; it must exit 0. `env` is set over the run's environment."""

    argv: tuple[str, ...]
    env: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class SelfTimed:
    """A timed part that measures itself: `run()` returns its samples in seconds (at least one)."""

    run: Callable[[], Sequence[float]]


@dataclass(frozen=True, slots=True)
class Parts:
    """A timed part that measures itself in several figures: `run()` returns samples in seconds
    (at least one) per part name, such as {"upload": [...], "download": [...]}."""

    run: Callable[[], Mapping[str, Sequence[float]]]


Timed = Command | SelfTimed | Parts | Callable[[], None]


class RowFailed(Exception):
    """The row cannot run (or failed) for one engine; the message says why, in one line."""


class Row(Protocol):
    name: str
    summary: str  # one line: what is timed
    default_runs: int
    engines: tuple[str, ...]

    def prepare(self) -> None: ...

    def check(self, engine: str) -> None:
        """Make the engine ready for the row (start its daemon, add the inputs it needs), or
        raise RowFailed if it cannot run the row (e.g. its command does not exist)."""

    def setup(self, engine: str, i: int) -> Timed: ...

    def teardown(self, engine: str, i: int) -> None: ...

    def finish(self) -> None: ...


def modules() -> list[str]:
    """The row modules: those of this package whose names do not start with an underscore."""
    here = str(Path(__file__).parent)
    return sorted(m.name for m in pkgutil.iter_modules([here]) if not m.name.startswith("_"))


def _rows_of(module: ModuleType) -> tuple[str, ...]:
    """The rows a module gives: those its ROWS names, else one named like the module."""
    rows: tuple[str, ...] = getattr(module, "ROWS", (module.__name__.rpartition(".")[2],))
    return rows


def _import(module: str) -> ModuleType:
    return importlib.import_module(f"{__name__}.{module}")


def names() -> list[str]:
    """All row names, in the order they run by default."""
    return sorted(row for module in modules() for row in _rows_of(_import(module)))


def instantiate(name: str, ctx: Context) -> Row:
    """The row `name`: `make(ctx)` of the module of that name, or `make(ctx, name)` of the module
    whose ROWS holds it. (Not `load`: importing the row module `load` would set the package
    attribute of that name; a row module must not be named like a name defined here.)"""
    for module in map(_import, modules()):
        if name in _rows_of(module):
            if hasattr(module, "ROWS"):
                make_named: Callable[[Context, str], Row] = module.make
                return make_named(ctx, name)
            make: Callable[[Context], Row] = module.make
            return make(ctx)
    raise KeyError(name)
