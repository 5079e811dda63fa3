"""``GET /containers/json``'s selection, as dockerd's ``foldFilter`` and
``includeContainerInList`` make it, and ``POST /containers/prune``.

Filters (map or list form): ``id`` (prefix), ``name`` (a regular expression or the name,
with or without its ``/``), ``label`` (``k`` or ``k=v``, all of them), ``status`` (also
lists stopped containers), ``exited`` (exit codes of containers that ran), ``health``
(starting, healthy, unhealthy, none), ``ancestor`` (an image by name or ID and the images
made on it), ``before``/``since`` (a container: the ones created before or after it),
``volume``, ``network``, ``expose``/``publish`` (``80``, ``80/tcp``, ``8000-8010/udp``),
``is-task`` and ``isolation`` (for completeness). Containers are listed newest first; ``limit``
stops the list (and, as in dockerd, makes stopped containers count); ``size`` adds
``SizeRw`` (what the writable layer holds) and ``SizeRootFs`` (that and the image).

Prune removes the stopped containers (``until``: created before a time; ``label``,
``label!``) and answers ``{"ContainersDeleted": [...], "SpaceReclaimed": N}``.
"""

from __future__ import annotations

import contextlib
import logging
import re
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from dockyard.containers.record import Container, parse_time
from dockyard.errors import DockyardError, Internal, InvalidArgument
from dockyard.events import Events, match_labels
from dockyard.oci.digest import Digest
from dockyard.services import container_views as views
from dockyard.services.container_volumes import matches_volume
from dockyard.services.containers import ContainerService

log = logging.getLogger(__name__)

LIST_FILTERS = frozenset(("ancestor", "before", "expose", "exited", "health", "id",
                          "isolation", "is-task", "label", "name", "network", "publish",
                          "since", "status", "volume"))
PRUNE_FILTERS = frozenset(("until", "label", "label!"))
STATES = ("created", "restarting", "running", "removing", "paused", "exited", "dead")
HEALTH = ("starting", "healthy", "unhealthy", "none")

Filters = Mapping[str, Sequence[str]]


def check(filters: Filters, allowed: frozenset[str]) -> None:
    for key in filters:
        if key not in allowed:
            raise InvalidArgument(f"Invalid filter '{key}'")


@dataclass
class Selection:
    """One listing's filters, resolved once (before/since containers, ancestor images)."""

    filters: Filters
    all: bool
    limit: int
    before: str | None = None
    since: str | None = None
    exited: tuple[int, ...] = ()
    images: frozenset[str] | None = None  # ancestor: the image IDs wanted

    @classmethod
    def of(cls, service: ContainerService, filters: Filters, *, all_containers: bool,
           limit: int) -> Selection:
        check(filters, LIST_FILTERS)
        selection = cls(filters, all_containers, limit)
        for state in filters.get("status", ()):
            if state not in STATES:
                raise InvalidArgument(f"Invalid filter 'status={state}'")
            selection.all = True
        for health in filters.get("health", ()):
            if health not in HEALTH:
                raise InvalidArgument(f"Unrecognised filter value for health: {health}")
        codes = []
        for code in filters.get("exited", ()):
            try:
                codes.append(int(code))
            except ValueError:
                raise InvalidArgument(f'strconv.Atoi: parsing "{code}": invalid syntax') \
                    from None
        selection.exited = tuple(codes)
        for key in ("before", "since"):
            for ref in filters.get(key, ()):
                setattr(selection, key, _container(service, ref))
        if "ancestor" in filters:
            selection.images = ancestors(service, filters["ancestor"])
        return selection

    # A container is listed when it passes the filters other than before/since and limit
    # (those depend on the order): first those its record decides, then those on its item.

    def admits(self, container: Container) -> bool:
        """The filters the record decides: checked before the list item is made (compose
        lists its project's containers a few dozen times per ``up``; most are not wanted)."""
        filters, state = self.filters, container.state
        if not state.running and not self.all and self.limit <= 0:
            return False
        name = container.name
        if filters.get("name") and not (_match(filters["name"], name) or
                                        _match(filters["name"], name.lstrip("/"))):
            return False
        if filters.get("id") and not any(container.id.startswith(v) for v in filters["id"]):
            return False
        if not match_labels(filters.get("label", ()), container.config.labels):
            return False
        if filters.get("is-task") and "true" in filters["is-task"]:
            return False
        if self.exited and not (not state.running and state.started_at[:4] != "0001" and
                                state.exit_code in self.exited):
            return False
        health = (state.health or {}).get("Status", "none") if state.health else "none"
        if filters.get("health") and health not in filters["health"]:
            return False
        if filters.get("volume") and not matches_volume(container, filters["volume"]):
            return False
        return self.images is None or container.image_id in self.images

    def shows(self, item: Mapping[str, Any]) -> bool:
        """The filters on what the list item shows: status, network, expose and publish."""
        filters = self.filters
        if filters.get("status") and not _match(filters["status"], item["State"]):
            return False
        if filters.get("network") and not _on_network(item, filters["network"]):
            return False
        return _ports(item, filters)


def _match(patterns: Sequence[str], value: str) -> bool:
    """Go's ``Args.Match``: equal, or a regular expression found in ``value``."""
    for pattern in patterns:
        if pattern == value:
            return True
        with contextlib.suppress(re.error):
            if re.search(pattern, value):
                return True
    return False


def _container(service: ContainerService, ref: str) -> str:
    try:
        return service.get(ref).id
    except DockyardError:
        raise Internal(f"no such container {ref}") from None


def ancestors(service: ContainerService, names: Sequence[str]) -> frozenset[str]:
    """The IDs of the images ``names`` name and of the images made on them (their layers and
    history continue the ancestor's); a name that finds no image finds nothing."""
    images = service.images
    wanted: set[Digest] = set()
    for name in names:
        try:
            wanted.add(images.get(name).id)
        except DockyardError:
            log.warning("Error while looking up for image %s", name)
    if not wanted:
        return frozenset()
    catalog = images.catalog.images()
    found = {str(i) for i in wanted}
    for parent_id in wanted:
        parent = catalog.get(parent_id)
        if parent is None:
            continue
        layers, history = _lineage(parent.facts.config)
        for image in catalog.values():
            other_layers, other_history = _lineage(image.facts.config)
            if other_layers[:len(layers)] == layers and \
                    other_history[:len(history)] == history and len(other_history) > \
                    len(history):
                found.add(str(image.id))
    return frozenset(found)


def _lineage(config: Mapping[str, Any]) -> tuple[list[Any], list[Any]]:
    rootfs = config.get("rootfs") or {}
    return list(rootfs.get("diff_ids") or []), list(config.get("history") or [])


def _on_network(item: Mapping[str, Any], wanted: Sequence[str]) -> bool:
    networks = (item.get("NetworkSettings") or {}).get("Networks") or {}
    for name, endpoint in networks.items():
        network_id = str((endpoint or {}).get("NetworkID") or "")
        if name in wanted or any(w and network_id.startswith(w) for w in wanted):
            return True
    return False


def _ports(item: Mapping[str, Any], filters: Filters) -> bool:
    for key, field in (("expose", "PrivatePort"), ("publish", "PublicPort")):
        if not filters.get(key):
            continue
        ports = {(int(p.get(field) or 0), str(p.get("Type") or "tcp"))
                 for p in item.get("Ports") or ()}
        if not any(_port_match(spec, ports) for spec in filters[key]):
            return False
    return True


def _port_match(spec: str, ports: set[tuple[int, str]]) -> bool:
    numbers, _, proto = spec.partition("/")
    start, _, end = numbers.partition("-")
    try:
        low, high = int(start), int(end or start)
    except ValueError as exc:
        raise InvalidArgument(f"invalid port spec: {spec}") from exc
    return any(low <= number <= high and (not proto or proto == kind)
               for number, kind in ports)


def list_containers(service: ContainerService, *, all_containers: bool = False,
                    limit: int = -1, filters: Filters | None = None,
                    size: bool = False) -> list[dict[str, Any]]:
    """``GET /containers/json``."""
    selection = Selection.of(service, filters or {}, all_containers=all_containers,
                             limit=limit)
    now = time.time()
    chosen: list[dict[str, Any]] = []
    before, since = selection.before, selection.since
    newest_first = sorted(service.all(), key=lambda c: views.record_time(c.created), reverse=True)
    for container in newest_first:
        if before is not None:  # skip down to the "before" container, and it too
            if container.id == before:
                before = None
            continue
        if since is not None and container.id == since:
            break
        if 0 < limit <= len(chosen):
            break
        if not selection.admits(container):
            continue
        item = views.summary(container, now, service.bundles.network)
        if not selection.shows(item):
            continue
        if size:
            item = with_sizes(service, container, item)
        chosen.append(item)
    return chosen


def with_sizes(service: ContainerService, container: Container,
               item: dict[str, Any]) -> dict[str, Any]:
    """``SizeRw`` (left out when 0, as Go's omitempty) and ``SizeRootFs`` after ``Ports``."""
    rw, rootfs = sizes(service, container)
    out: dict[str, Any] = {}
    for key, value in item.items():
        out[key] = value
        if key == "Ports":
            if rw:
                out["SizeRw"] = rw
            if rootfs:
                out["SizeRootFs"] = rootfs
    return out


def sizes(service: ContainerService, container: Container) -> tuple[int, int]:
    from dockyard.services.container_commit import diff_size

    rw = 0
    with contextlib.suppress(DockyardError, OSError):
        rw = diff_size(service.bundles.snapshotter.upper_dir(container.snapshot))
    image = 0
    with contextlib.suppress(DockyardError):
        image = service.images.get(container.image_id).facts.size
    return rw, rw + image


async def prune(service: ContainerService, filters: Filters, *, events: Events | None = None,
                clock: Any = time.time) -> dict[str, Any]:
    """``POST /containers/prune``: remove the stopped containers the filters select."""
    check(filters, PRUNE_FILTERS)
    until = _until(filters.get("until", ()), clock())
    deleted: list[str] = []
    reclaimed = 0
    for container in list(service.all()):
        if container.state.running or container.state.status == "removing":
            continue
        if until is not None and parse_time(container.created) >= until:
            continue
        labels = container.config.labels
        if not match_labels(filters.get("label", ()), labels):
            continue
        if any(_label_hit(item, labels) for item in filters.get("label!", ())):
            continue
        rw, _ = sizes(service, container)
        try:
            await service.remove(container.id)
        except DockyardError as exc:
            log.warning("prune: removing container %s: %s", container.id[:12], exc)
            continue
        deleted.append(container.id)
        reclaimed += rw
    if events is not None:
        events.log("container", "prune", "", {"reclaimed": str(reclaimed)})
    return {"ContainersDeleted": deleted or None, "SpaceReclaimed": reclaimed}


def _label_hit(item: str, labels: Mapping[str, str]) -> bool:
    key, sep, value = item.partition("=")
    return key in labels and (not sep or labels[key] == value)


def _until(values: Sequence[str], now: float) -> int | None:
    """dockerd's ``getUntilFromPruneFilters``: a timestamp, a date or a duration ago, as ns."""
    if not values:
        return None
    if len(values) > 1:
        raise InvalidArgument("more than one until filter specified")
    return parse_until(values[0], now)


_DURATION = re.compile(r"(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)")
_UNITS = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}


def parse_until(text: str, now: float) -> int:
    """``10m``, ``1h30m`` (ago), unix seconds (``1795811163.5``) or an RFC 3339 date."""
    if re.fullmatch(r"(?:\d+(?:\.\d+)?(?:ns|us|µs|ms|s|m|h))+", text):
        seconds = sum(float(n) * _UNITS[u] for n, u in _DURATION.findall(text))
        return int((now - seconds) * 10**9)
    if re.fullmatch(r"\d+(\.\d+)?", text):
        whole, _, fraction = text.partition(".")
        return int(whole) * 10**9 + int((fraction + "000000000")[:9] or 0)
    try:
        return parse_time(text if text[-1:] in "Zz" or "+" in text[10:] else text + "Z")
    except DockyardError:
        raise InvalidArgument(f"failed to parse value as time or duration: \"{text}\"") \
            from None
