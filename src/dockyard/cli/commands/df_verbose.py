"""``system df -v``: the four detailed tables of formatter/disk_usage.go verboseWriteTable."""

from __future__ import annotations

from typing import Any

from dockyard.cli import formatter, units
from dockyard.cli.commands.images import IMAGE_HEADER, _image_row, is_dangling
from dockyard.cli.template import Struct

IMAGES = ("table {{.Repository}}\t{{.Tag}}\t{{.ID}}\t{{.CreatedSince}}\t{{.Size}}\t"
          "{{.SharedSize}}\t{{.UniqueSize}}\t{{.Containers}}")
CONTAINERS = ("table {{.ID}}\t{{.Image}}\t{{.Command}}\t{{.LocalVolumes}}\t{{.Size}}\t"
              "{{.RunningFor}}\t{{.Status}}\t{{.Names}}")
CONTAINER_HEADER = {"ID": "CONTAINER ID", "Image": "IMAGE", "Command": "COMMAND",
                    "LocalVolumes": "LOCAL VOLUMES", "Size": "SIZE", "RunningFor": "CREATED",
                    "Status": "STATUS", "Names": "NAMES"}
VOLUMES = "table {{.Name}}\t{{.Links}}\t{{.Size}}"
VOLUME_HEADER = {"Name": "VOLUME NAME", "Links": "LINKS", "Size": "SIZE"}
CACHE = ("table {{.ID}}\t{{.CacheType}}\t{{.Size}}\t{{.CreatedSince}}\t{{.LastUsedSince}}\t"
         "{{.UsageCount}}\t{{.Shared}}")
CACHE_HEADER = {"ID": "CACHE ID", "CacheType": "CACHE TYPE", "Size": "SIZE",
                "CreatedSince": "CREATED", "LastUsedSince": "LAST USED", "UsageCount": "USAGE",
                "Shared": "SHARED"}


def _image(image: dict[str, Any], trunc: bool, now: float) -> Struct:
    repo = tag = "<none>"
    tags = image.get("RepoTags") or []
    if tags and not is_dangling(image):
        from dockyard.oci.reference import parse_reference

        ref = parse_reference(tags[0])
        if ref.tag is not None:
            repo, tag = ref.familiar_name(), ref.tag
    return _image_row(image, (repo, tag, ""), trunc, now)


def _container(c: dict[str, Any], trunc: bool, now: float) -> Struct:
    command = str(c.get("Command", ""))
    names = ",".join(n.lstrip("/") for n in c.get("Names") or [])
    image = str(c.get("Image", ""))
    volumes = sum(1 for m in c.get("Mounts") or [] if m.get("Type") == "volume")
    return Struct("*formatter.ContainerContext", {
        "ID": str(c.get("Id", ""))[:12] if trunc else c.get("Id", ""),
        "Image": image,
        "Command": '"' + (formatter.ellipsis(command, 20) if trunc else command) + '"',
        "LocalVolumes": str(volumes), "Size": units.human_size(c.get("SizeRw") or 0, 3),
        "RunningFor": units.since(int(c.get("Created") or 0), now),
        "Status": str(c.get("Status", "")), "Names": names})


def _volume(v: dict[str, Any]) -> Struct:
    usage = v.get("UsageData") or {}
    size = usage.get("Size", -1)
    return Struct("*formatter.volumeContext", {
        "Name": str(v.get("Name", "")), "Links": str(usage.get("RefCount", -1)),
        "Size": "N/A" if size == -1 else units.human_size(size, 3)})


def _cache(b: dict[str, Any], trunc: bool, now: float) -> Struct:
    return Struct("*formatter.buildCacheContext", {
        "ID": str(b.get("ID", ""))[:12] if trunc else b.get("ID", ""),
        "CacheType": str(b.get("Type", "")), "Size": units.human_size(b.get("Size") or 0, 3),
        "CreatedSince": "", "LastUsedSince": "", "UsageCount": str(b.get("UsageCount", 0)),
        "Shared": "true" if b.get("Shared") else "false"})


def render_verbose(du: dict[str, Any], fmt: str, now: float) -> str:
    trunc = formatter.is_table(fmt)
    images = [_image(i, trunc, now) for i in du.get("Images") or []]
    containers = [_container(c, trunc, now) for c in du.get("Containers") or []]
    volumes = [_volume(v) for v in du.get("Volumes") or []]
    cache = du.get("BuildCache") or []
    builder = sum(int(b.get("Size") or 0) for b in cache if not b.get("Shared"))
    caches = [_cache(b, trunc, now) for b in cache]
    if fmt != "table":
        from dockyard.cli.template import Template, TemplateError

        data = {"Images": images, "Containers": containers, "Volumes": volumes,
                "BuildCache": caches}
        try:
            return Template(formatter.template_text(fmt)).execute(data)
        except TemplateError as exc:
            raise formatter.FormatError(f"template parsing error: {exc}") from exc
    return "".join([
        "Images space usage:\n\n", formatter.render(IMAGES, images, IMAGE_HEADER),
        "\nContainers space usage:\n\n",
        formatter.render(CONTAINERS, containers, CONTAINER_HEADER),
        "\nLocal Volumes space usage:\n\n", formatter.render(VOLUMES, volumes, VOLUME_HEADER),
        f"\nBuild cache usage: {units.human_size(builder)}\n\n",
        formatter.render(CACHE, caches, CACHE_HEADER),
    ])
