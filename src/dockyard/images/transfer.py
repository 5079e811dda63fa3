"""What a pull's layer fetcher and a push's pusher share: the data root, one repository of a
registry, the caller's lease, where progress goes, how many blobs move at a time and the event
that cancels the transfer."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from dockyard.images.meter import Progress
from dockyard.registry.client import RegistryClient

if TYPE_CHECKING:
    from dockyard.store import DataRoot


@dataclass(eq=False)
class Transfer:
    """Blobs moving between ``root`` and ``repository`` at ``client``, under lease ``lease_id``.

    Up to ``parallel`` (at least 1) blobs move at a time; setting ``cancel`` stops the transfer.
    """

    root: DataRoot
    client: RegistryClient
    repository: str
    lease_id: str
    progress: Progress
    parallel: int = field(default=3, kw_only=True)
    cancel: threading.Event = field(default_factory=threading.Event, kw_only=True)

    def __post_init__(self) -> None:
        self.parallel = max(self.parallel, 1)
