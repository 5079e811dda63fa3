"""Snapshotters: containerd's model of layered filesystems.

A snapshot is *active* (writable, made by :meth:`Snapshotter.prepare`), a *view* (read-only,
made by :meth:`Snapshotter.view`) or *committed* (immutable, made by :meth:`Snapshotter.commit`
from an active one, usable as a parent). Methods return lists of :class:`~dockyard.mount.Mount`
and never mount.

Backends: :mod:`dockyard.snapshots.overlay` (overlayfs, the default) and
:mod:`dockyard.snapshots.native` (copies the parent: works on any filesystem). Both pass the one
conformance suite in ``tests/integration/snapshots``; both keep their records in
:mod:`dockyard.snapshots.metadata` and their directories as :mod:`dockyard.snapshots.directory`
lays them out.

Errors: an unknown key is :class:`~dockyard.errors.NotFound`; a key or name in use is
:class:`~dockyard.errors.AlreadyExists`; a parent that is not committed is
:class:`~dockyard.errors.InvalidArgument`; removing a snapshot with children, committing something
that is not active, or asking a committed snapshot for mounts is :class:`~dockyard.errors.Conflict`.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal, Protocol

from dockyard.mount import Mount

WhiteoutStyle = Literal["overlay", "copy"]
"""How an active snapshot records a deletion: overlay whiteouts, or by really deleting."""


class Kind(enum.Enum):
    """What a snapshot is: writable (active), read-only (view) or an immutable layer (committed)."""

    VIEW = "view"
    ACTIVE = "active"
    COMMITTED = "committed"


@dataclass(frozen=True, slots=True)
class Info:
    """A snapshot's record: its key (or name once committed), kind, parent name and labels.

    ``created`` and ``updated`` are seconds since the epoch; a commit starts a new record, so a
    committed snapshot's ``created`` is the time of the commit (containerd does the same).
    """

    name: str
    kind: Kind
    parent: str = ""
    labels: dict[str, str] = field(default_factory=dict)
    created: float = 0.0
    updated: float = 0.0


@dataclass(frozen=True, slots=True)
class Usage:
    """Disk use of a snapshot's own directory: bytes allocated (st_blocks * 512) and inodes."""

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

    def commit(
        self, name: str, key: str, labels: dict[str, str] | None = None, *,
        usage: Usage | None = None,
    ) -> None:
        """Make active ``key`` the committed ``name``. ``usage``, when the caller counted it while
        filling the snapshot (:func:`dockyard.archive.apply.apply_layer` with ``measure``), is
        recorded instead of measuring the tree again."""
        ...

    def remove(self, key: str) -> None: ...

    def walk(self) -> list[Info]:
        """Every snapshot, sorted by name."""
        ...

    def update_labels(self, key: str, labels: Mapping[str, str | None]) -> Info:
        """Set each label; a ``None`` value removes that label. Returns the new record."""
        ...

    def cleanup(self) -> None:
        """Delete directories that no record names (left by a crash or a failed removal)."""
        ...

    def close(self) -> None: ...

    def usage(self, key: str) -> Usage: ...

    def upper_dir(self, key: str) -> str:
        """The writable directory of an active snapshot, where a layer is applied or diffed."""
        ...

    @property
    def whiteout_style(self) -> WhiteoutStyle:
        """"overlay": deletions are char 0:0 devices and opaque xattrs; "copy": real deletions."""
        ...
