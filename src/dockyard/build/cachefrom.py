"""``--cache-from``: steps taken from the history of given images, as dockerd's image cache
does it (``image/cache``) when the local cache has no entry.

A source image can stand for a step when its history starts with the history of the step's
parent, entry for entry, and its layers with the parent's, and its next history entry was
made by the same command (the step's history line). If that entry is the image's last, the
step's result is the image itself; otherwise it is restored: the parent's config with the
step's container config, the source's history entry and, when that entry added a layer, the
source's layer (already unpacked, being a local image's). Once a source served a step, only it
is looked at for the steps that follow (dockerd's "avoid jumping to a different target").
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from dockyard.build.job import BaseImage
from dockyard.oci.config import ContainerConfig, ImageConfig, RootFS


@dataclass(frozen=True, slots=True)
class Restored:
    """A step's result from a source image: its config bytes and layer blobs."""

    config: bytes
    image: BaseImage


def _valid_parent(target: ImageConfig, parent: ImageConfig | None) -> bool:
    if not target.history:
        return False
    if parent is None or (not parent.history and not parent.diff_ids):
        return True
    if len(parent.history) >= len(target.history) or len(parent.diff_ids) > len(target.diff_ids):
        return False
    return (list(parent.history) == list(target.history[:len(parent.history)])
            and list(parent.diff_ids) == list(target.diff_ids[:len(parent.diff_ids)]))


def find(sources: Sequence[BaseImage], parent: BaseImage, command: Sequence[str],
         config: ContainerConfig, docker_version: str = "") -> tuple[BaseImage, Restored] | None:
    """The source that serves this step and the step's result, or None."""
    base = parent.config if parent.image_id else None
    depth = len(base.history) if base is not None else 0
    line = " ".join(command)
    for source in sources:
        target = source.config
        if not _valid_parent(target, base) or len(target.history) <= depth:
            continue
        if target.history[depth].created_by != line:
            continue
        if depth == len(target.history) - 1:
            return source, Restored(target.to_json(), source)
        return source, _restore(parent, source, config, depth, docker_version)
    return None


def _restore(parent: BaseImage, source: BaseImage, config: ContainerConfig, depth: int,
             docker_version: str) -> Restored:
    target = source.config
    entry = target.history[depth]
    diff_ids = list(parent.config.diff_ids) if parent.image_id else []
    layers = list(parent.layers)
    if not entry.empty_layer:
        index = sum(1 for h in target.history[:depth] if not h.empty_layer)
        diff_ids.append(target.diff_ids[index])
        layers.append(source.layers[index])
    history = (*(parent.config.history if parent.image_id else ()), entry)
    extra = {"docker_version": docker_version} if docker_version else {}
    restored = ImageConfig(
        architecture=target.architecture, os=target.os, variant=target.variant,
        os_version=target.os_version, os_features=target.os_features,
        rootfs=RootFS(diff_ids=tuple(diff_ids)), config=config, history=history,
        created=entry.created, author=target.author, extra=extra)
    data = restored.canonical_json()
    image = BaseImage(str(restored.image_id()), ImageConfig.from_json(data), tuple(layers))
    return Restored(data, image)
