"""The bodies of ``GET /images/json``, ``/images/{name}/json`` and ``/images/{name}/history``,
key for key and in the order dockerd 20.10 writes them (``types.ImageSummary``,
``types.ImageInspect``, ``image.HistoryResponseItem``)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from dockyard.errors import DataCorrupt
from dockyard.services.image_catalog import Image
from dockyard.services.image_render import (
    GoTime,
    container_config,
    field,
    string,
    zero_container_config,
)

MISSING = "<missing>"


def summary(
    image: Image,
    tags: Sequence[str] | None,
    digests: Sequence[str] | None,
    *,
    containers: int = -1,
    shared_size: int = -1,
) -> dict[str, Any]:
    """One list item; ``tags``/``digests`` are None for Go's nil slice (JSON null)."""
    facts = image.facts
    return {
        "Containers": containers,
        "Created": facts.created.unix,
        "Id": str(facts.id),
        "Labels": facts.labels,
        "ParentId": "",
        "RepoDigests": None if digests is None else list(digests),
        "RepoTags": None if tags is None else list(tags),
        "SharedSize": shared_size,
        "Size": facts.size,
        "VirtualSize": facts.size,
    }


def inspect(image: Image, graph_driver: Mapping[str, Any]) -> dict[str, Any]:
    """``docker image inspect``; ``graph_driver`` is the ``GraphDriver`` member."""
    facts, config = image.facts, image.facts.config

    def get(name: str) -> Any:
        return field(config, name)

    container = get("container_config")
    out: dict[str, Any] = {
        "Id": str(facts.id),
        "RepoTags": image.tags,
        "RepoDigests": image.digests,
        "Parent": "",
        "Comment": _comment(config),
        "Created": facts.created.rfc3339_nano(),
        "Container": string(get("container")),
        "ContainerConfig": container_config(container) or zero_container_config(),
        "DockerVersion": string(get("docker_version")),
        "Author": string(get("author")),
        "Config": container_config(get("config")),
        "Architecture": string(get("architecture")),
    }
    if string(get("variant")):
        out["Variant"] = get("variant")
    out["Os"] = string(get("os")) or "linux"
    if string(get("os.version")):
        out["OsVersion"] = get("os.version")
    last = image.last_tagged()
    out.update(
        Size=facts.size,
        VirtualSize=facts.size,
        GraphDriver=dict(graph_driver),
        RootFS=_rootfs(config, [str(layer.diff_id) for layer in facts.layers]),
        Metadata={
            "LastTagTime": (GoTime() if last is None else GoTime.from_timestamp(last))
            .rfc3339_nano()
        },
    )
    return out


def _comment(config: Mapping[str, Any]) -> str:
    """The config's comment, else the last history entry's (dockerd's LookupImage)."""
    comment = string(field(config, "comment"))
    history = _history_entries(config)
    if not comment and history:
        comment = string(field(history[-1], "comment"))
    return comment


def _rootfs(config: Mapping[str, Any], layers: list[str]) -> dict[str, Any]:
    rootfs = field(config, "rootfs")
    kind = string(field(rootfs, "type")) if isinstance(rootfs, dict) else ""
    out: dict[str, Any] = {"Type": kind}
    if layers:
        out["Layers"] = layers
    return out


def _history_entries(config: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    entries = field(config, "history")
    if not isinstance(entries, list):
        return []
    return [entry for entry in entries if isinstance(entry, dict)]


def history(image: Image) -> list[dict[str, Any]]:
    """``docker history``: newest step first. Steps that added a layer show that layer's size;
    only the top step names the image (and its tags), the others are ``<missing>`` as dockerd
    shows them when the parent images are not local."""
    facts = image.facts
    items: list[dict[str, Any]] = []
    layer = 0
    for entry in _history_entries(facts.config):
        size = 0
        if field(entry, "empty_layer") is not True:
            if layer >= len(facts.layers):
                raise DataCorrupt(
                    f"image {facts.id}: too many non-empty layers in History section"
                )
            size = facts.layers[layer].size
            layer += 1
        items.append({
            "Comment": string(field(entry, "comment")),
            "Created": GoTime.parse(field(entry, "created")).unix,
            "CreatedBy": string(field(entry, "created_by")),
            "Id": MISSING,
            "Size": size,
            "Tags": None,
        })
    items.reverse()
    if items:
        items[0]["Id"] = str(facts.id)
        items[0]["Tags"] = image.tags or None
    return items
