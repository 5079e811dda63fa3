"""``docker save`` and ``docker load`` as use cases: which images and names an archive holds.

Names follow dockerd 20.10's ``tarexport`` rules: an image ID (or a unique prefix) saves the image
with no names; ``repo:tag`` saves that tag; a bare repository name saves every tag of that
repository; ``repo@digest`` saves the image without writing the digest as a name.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import BinaryIO

from dockyard.errors import InvalidArgument
from dockyard.images.load import Loaded, load_images
from dockyard.images.resolve import record_reference
from dockyard.images.save import SaveItem, SavePlan, prepare_save
from dockyard.images.unpack import Progress
from dockyard.services.images import ImageService
from dockyard.store import DataRoot

log = logging.getLogger(__name__)


class ImageArchiveService:
    def __init__(self, root: DataRoot, images: ImageService) -> None:
        self.root = root
        self.images = images

    def plan_save(self, names: Sequence[str]) -> SavePlan:
        """Check that every name resolves and every blob is present, before a byte is sent."""
        if not names:
            raise InvalidArgument("no image names given to save")
        plan = prepare_save(self.root, [item for name in names for item in self._items(name)])
        for image_id in dict.fromkeys(str(self.images.get(name).id) for name in names):
            self.images._event("save", image_id, image_id)
        return plan

    def _items(self, name: str) -> list[SaveItem]:
        image, found = self.images.find(name)
        target = image.records[0].target.digest
        reference = found.reference
        if reference is None or reference.digest is not None:
            return [SaveItem(target)]  # by ID, or name@digest: no name is written
        candidates = self.images.catalog.candidates()
        recorded = [(c, record_reference(c.record.name)) for c in candidates]
        if reference.tag is None:
            tags = [(c, r) for c, r in recorded
                    if r is not None and r.tag is not None
                    and r.repository == reference.repository]
            if tags:  # a bare repository name: every tag of it
                return [SaveItem(c.record.target.digest, (r.fully_qualified(),)) for c, r in tags]
            return [SaveItem(target)]  # an ID prefix that also reads as a name
        if any(c.record.name == reference.fully_qualified() for c in candidates):
            return [SaveItem(target, (reference.fully_qualified(),))]
        return [SaveItem(target)]

    def load(self, stream: BinaryIO, progress: Progress | None = None) -> list[Loaded]:
        with self.images.writing():
            loaded = load_images(self.root, stream, progress=progress)
        for image_id in dict.fromkeys(str(item.image_id) for item in loaded):
            self.images._event("load", image_id, image_id)
        return loaded
