"""``state``: runc's state object of one container, as runc prints it (indented JSON)."""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:
    from dockyard.runtime.state import ContainerState, StateRoot


def state(root: StateRoot, container_id: str) -> ContainerState:
    return root.state(root.open(container_id))


def render(state: ContainerState) -> str:
    from dockyard.runtime.jsontext import dumps

    return dumps(state.to_object(), "  ")
