"""Container events as dockerd logs them (``LogContainerEventWithAttributes``): the actor is
the container, its attributes are the container's labels, ``image`` (as the user named it) and
``name``, then the event's own (``exitCode``, ``signal``, ``execID``, ``oldName`` ...).

The exec events carry their command in the action, as dockerd 20.10 writes them
(``exec_create: sh -c true``); the container service hands it over as ``execCmd``.
"""

from __future__ import annotations

from collections.abc import Mapping

from dockyard.containers.record import Container
from dockyard.events import Event, Events

_WITH_COMMAND = ("exec_create", "exec_start")


def container_event(action: str, container: Container,
                    attributes: Mapping[str, str] | None = None) -> Event:
    attrs = dict(container.config.labels)
    if container.config.image:
        attrs["image"] = container.config.image
    attrs["name"] = container.name.lstrip("/")
    attrs.update(attributes or {})
    command = attrs.pop("execCmd", None)
    if action in _WITH_COMMAND and command is not None:
        action = f"{action}: {command}"
    return Event("container", action, container.id, attrs)


class ContainerEvents:
    """The container service's ``EventSink``, publishing into the engine's :class:`Events`."""

    def __init__(self, events: Events) -> None:
        self.events = events

    def container_event(self, action: str, container: Container,
                        attributes: Mapping[str, str]) -> None:
        self.events.publish(container_event(action, container, attributes))
