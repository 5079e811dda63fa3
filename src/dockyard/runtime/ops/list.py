"""``list``: every container under ``--root``, as runc's table, JSON or ids."""

from __future__ import annotations

import os

TYPE_CHECKING = False
if TYPE_CHECKING:
    from dockyard.runtime.state import ContainerState, StateRoot


def containers(root: StateRoot) -> list[ContainerState]:
    """The containers, with the owner of each directory (runc's ``list``; ``state`` leaves
    the owner empty)."""
    import pwd

    out = []
    for container_id in root.ids():
        directory = root.open(container_id)
        uid = os.stat(directory.path).st_uid
        try:
            owner = pwd.getpwuid(uid).pw_name
        except KeyError:
            owner = f"#{uid}"
        out.append(root.state(directory, owner=owner))
    return out


def table(states: list[ContainerState]) -> str:
    """Go's tabwriter with runc's settings (minwidth 12, padding 3, spaces)."""
    rows = [["ID", "PID", "STATUS", "BUNDLE", "CREATED", "OWNER"]]
    rows += [[s.id, str(s.pid), s.status, s.bundle, s.created, s.owner] for s in states]
    widths = [max(12, *(len(row[column]) + 3 for row in rows)) for column in range(5)]
    return "".join(
        "".join(cell.ljust(width) for cell, width in zip(row[:5], widths, strict=True))
        + row[5] + "\n"
        for row in rows
    )


def render_json(states: list[ContainerState]) -> str:
    from dockyard.runtime.jsontext import dumps

    return dumps([s.to_object() for s in states] if states else None) + "\n"
