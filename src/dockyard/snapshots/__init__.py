"""Snapshotters: containerd's model of layered filesystems.

A snapshot is *active* (writable, made by :meth:`Snapshotter.prepare`), a *view* (read-only,
made by :meth:`Snapshotter.view`) or *committed* (immutable, made by :meth:`Snapshotter.commit`
from an active one, usable as a parent). Methods return lists of :class:`~dockyard.mount.Mount`
and never mount.

Backends: :mod:`dockyard.snapshots.overlay` (overlayfs, the default) and
:mod:`dockyard.snapshots.native` (copies the parent: works on any filesystem). Both pass the one
conformance suite in ``tests/integration/snapshots``.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Protocol

from dockyard.mount import Mount


class Kind(enum.Enum):
    VIEW = "view"
    ACTIVE = "active"
    COMMITTED = "committed"


@dataclass(frozen=True, slots=True)
class Info:
    name: str
    kind: Kind
    parent: str = ""
    labels: dict[str, str] = field(default_factory=dict)
    created: float = 0.0


@dataclass(frozen=True, slots=True)
class Usage:
    size: int = 0
    inodes: int = 0


class Snapshotter(Protocol):
    """Keys name active snapshots and views; names identify committed ones (chainIDs for layers)."""

    def stat(self, key: str) -> Info: ...

    def prepare(
        self, key: str, parent: str = "", labels: dict[str, str] | None = None
    ) -> list[Mount]: ...

    def view(
        self, key: str, parent: str = "", labels: dict[str, str] | None = None
    ) -> list[Mount]: ...

    def mounts(self, key: str) -> list[Mount]: ...

    def commit(self, name: str, key: str, labels: dict[str, str] | None = None) -> None: ...

    def remove(self, key: str) -> None: ...

    def walk(self) -> list[Info]: ...

    def usage(self, key: str) -> Usage: ...

    def upper_dir(self, key: str) -> str:
        """The writable directory of an active snapshot, where a layer is applied or diffed."""
        ...

    @property
    def whiteout_style(self) -> str:
        """"overlay": deletions are char 0:0 devices and opaque xattrs; "copy": real deletions."""
        ...
