"""What the ``prune`` commands share, as docker 28's cli/command/*/prune.go do it: ask (unless
``--force``), ``POST /<kind>/prune`` with the filters, then list what went under a title and say
how much space came back.

``container``, ``volume`` and ``network prune`` are :func:`prune` with a :class:`Pruning`;
``image prune`` (its own cancel message and list) uses :func:`write_report`.
"""

from __future__ import annotations

from dataclasses import dataclass

from dockyard.cli.flags import Command, Parsed
from dockyard.cli.session import Session


@dataclass(frozen=True, slots=True)
class Pruning:
    """One kind of object to prune: where, the report's list key, the title over the list."""

    path: str  # /containers/prune
    deleted_key: str  # ContainersDeleted
    title: str  # Deleted Containers
    warning: str  # the question asked without --force
    reclaims: bool = True  # ends with "Total reclaimed space" (not for networks)


def prune(session: Session, command: Command, parsed: Parsed, pruning: Pruning) -> int:
    """Ask, prune, report; a "no" cancels without a message and exits 0 (as docker 28)."""
    from dockyard.cli.commands.images import parse_filters
    from dockyard.client import encode_filters

    filters = parse_filters(parsed.strings("filter"), command)
    if not parsed.flag("force") and not session.confirm(pruning.warning):
        return 0
    query = {"filters": encode_filters(filters)} if filters else None
    report = session.client().call("POST", pruning.path, query) or {}
    deleted = [str(name) for name in report.get(pruning.deleted_key) or []]
    reclaimed = int(report.get("SpaceReclaimed") or 0) if deleted else 0
    write_report(session, pruning.title, deleted, reclaimed if pruning.reclaims else None)
    return 0


def write_report(session: Session, title: str, lines: list[str], reclaimed: int | None) -> None:
    """The lines under ``title`` (nothing when there are none), then the space reclaimed unless
    ``reclaimed`` is None."""
    from dockyard.cli import units

    if lines:
        session.out.write(f"{title}:\n" + "".join(f"{line}\n" for line in lines) + "\n")
    if reclaimed is not None:
        session.out.write(f"Total reclaimed space: {units.human_size(reclaimed)}\n")
