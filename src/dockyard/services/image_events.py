"""Image events as dockerd logs them (``LogImageEventWithAttributes``): the actor is the image
ID (or, for pull and push, the reference), the attributes the image's labels when it still
exists, and ``name``."""

from __future__ import annotations

import contextlib

from dockyard.errors import DockyardError
from dockyard.events import Event, Events
from dockyard.services.images import ImageService


class ImageEvents:
    """The image service's ``on_event``, publishing into the engine's :class:`Events`."""

    def __init__(self, events: Events, images: ImageService) -> None:
        self.events = events
        self.images = images

    def __call__(self, action: str, actor: str, name: str) -> None:
        attributes: dict[str, str] = {}
        with contextlib.suppress(DockyardError):
            attributes.update(self.images.get(actor).facts.labels or {})
        if name:
            attributes["name"] = name
        self.events.publish(Event("image", action, actor, attributes))
