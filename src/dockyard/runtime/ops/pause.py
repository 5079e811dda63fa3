"""``pause`` and ``resume``: freeze and thaw every process of a container through its cgroup
(the freezer hierarchy's freezer.state on cgroup v1, cgroup.freeze on v2); ``state`` then
reports "paused" (``state.py`` reads the same files).

As in runc: only a created or running container can be paused ("container not running"
otherwise), only a paused one resumed ("container not paused"). A paused container can still
be killed (``kill`` thaws it for SIGKILL, ``kill --all`` always) and deleted with ``--force``;
``exec`` refuses it unless ``--ignore-paused``.
"""

from __future__ import annotations

from dockyard.errors import Conflict
from dockyard.runtime.state import CREATED, PAUSED, RUNNING

TYPE_CHECKING = False
if TYPE_CHECKING:
    from dockyard.runtime.state import StateRoot


def pause(root: StateRoot, container_id: str) -> None:
    _freeze(root, container_id, frozen=True)


def resume(root: StateRoot, container_id: str) -> None:
    _freeze(root, container_id, frozen=False)


def _freeze(root: StateRoot, container_id: str, *, frozen: bool) -> None:
    from dockyard.runtime import confinement

    directory = root.open(container_id)
    directory.lock()
    try:
        saved = directory.read()
        status = directory.status(saved)
        if frozen and status not in (CREATED, RUNNING):
            raise Conflict("container not running")
        if not frozen and status != PAUSED:
            raise Conflict("container not paused")
        assert saved is not None  # created, running and paused have a record
        cgroup = confinement.open_cgroup(saved.cgroup_paths)
        if frozen:
            cgroup.freeze()
        else:
            cgroup.thaw()
    finally:
        directory.unlock()
