"""The ``/volumes`` endpoints' use cases, in dockerd 20.10's shapes and words (API 1.41).

A volume in JSON is ``{"CreatedAt", "Driver", "Labels", "Mountpoint", "Name", "Options",
"Scope"}`` in that order (Go's struct order), ``Labels`` and ``Options`` null when none were
given, ``CreatedAt`` RFC 3339 in the daemon's time zone with seconds (Go's
``time.RFC3339``); ``GET /system/df`` adds ``UsageData {"RefCount", "Size"}``.

Filters (moby ``volume/service/convert.go``): list takes ``dangling`` (true/1 or false/0: not
referenced by a container, or referenced), ``name`` (exact, or a regular expression found in the
name), ``driver`` (exact) and ``label`` (``k`` or ``k=v``, all must match); prune takes
``label`` and ``label!``. At API 1.41 prune removes every unused local volume without mount
options, named or anonymous (the ``all`` filter came with 1.42).

The container service reaches the driver through :attr:`VolumeService.store` (see the API in
``dockyard.volumes``).
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from dockyard.errors import Conflict, InvalidArgument, NotFound
from dockyard.services.image_filters import check_keys, invalid_filter, match_labels
from dockyard.volumes import Volume, VolumeStore

log = logging.getLogger(__name__)

LIST_FILTERS = frozenset({"dangling", "name", "driver", "label"})
PRUNE_FILTERS = frozenset({"label", "label!"})


class VolumeService:
    """Create, inspect, list, remove and prune volumes; their disk usage for ``system df``."""

    def __init__(self, store: VolumeStore) -> None:
        self.store = store
        self._pruning = threading.Lock()

    def create(self, body: Any) -> dict[str, Any]:
        """``POST /volumes/create``: ``{"Name", "Driver", "DriverOpts", "Labels"}``, all
        optional; an existing name gives the existing volume."""
        if not isinstance(body, dict):
            raise InvalidArgument(f"json: cannot unmarshal {_kind(body)} into Go value of type "
                                  "volume.VolumeCreateBody")
        volume = self.store.create(
            _string(body, "Name"), driver=_string(body, "Driver"),
            labels=_string_map(body, "Labels"), options=_string_map(body, "DriverOpts"),
        )
        return render(volume)

    def inspect(self, name: str) -> dict[str, Any]:
        return render(self.store.get(name))

    def list_volumes(self, filters: Mapping[str, Sequence[str]]) -> dict[str, Any]:
        check_keys(filters, LIST_FILTERS)
        dangling = _dangling(filters)
        counts = self.store.in_use()
        found = [
            render(v) for v in self.store.list()
            if _matches(v, filters) and (dangling is None or (counts.get(v.name, 0) == 0)
                                         == dangling)
        ]
        return {"Volumes": found, "Warnings": None}

    def remove(self, name: str, *, force: bool = False) -> None:
        self.store.remove(name, force=force)

    def prune(self, filters: Mapping[str, Sequence[str]]) -> dict[str, Any]:
        """Remove unused local volumes without mount options that match the label filters."""
        check_keys(filters, PRUNE_FILTERS)
        if not self._pruning.acquire(blocking=False):
            raise Conflict("a prune operation is already running")
        try:
            deleted: list[str] = []
            reclaimed = 0
            counts = self.store.in_use()
            for volume in self.store.list():
                if volume.options or counts.get(volume.name, 0) or not _prune_match(
                        volume, filters):
                    continue
                size = self._size(volume.name)
                try:
                    self.store.remove(volume.name)
                except (Conflict, NotFound) as exc:  # taken or gone meanwhile: dockerd skips
                    log.info("prune skips volume %s: %s", volume.name, exc)
                    continue
                deleted.append(volume.name)
                reclaimed += max(size, 0)
            return {"VolumesDeleted": deleted, "SpaceReclaimed": reclaimed}
        finally:
            self._pruning.release()

    def disk_usage(self) -> list[dict[str, Any]]:
        """``GET /system/df`` ``Volumes``: local volumes without mount options, with sizes."""
        counts = self.store.in_use()
        usage = []
        for volume in self.store.list():
            if volume.options:
                continue
            item = render(volume)
            item["UsageData"] = {"RefCount": counts.get(volume.name, 0),
                                 "Size": self._size(volume.name)}
            usage.append(item)
        return usage

    def _size(self, name: str) -> int:
        try:
            return self.store.size(name)
        except (OSError, NotFound) as exc:
            log.warning("could not measure volume %s: %s", name, exc)
            return -1


def render(volume: Volume) -> dict[str, Any]:
    """A volume as dockerd's ``types.Volume`` JSON (keys in its order, maps sorted)."""
    return {
        "CreatedAt": rfc3339_local(volume.created),
        "Driver": volume.driver,
        "Labels": _sorted(volume.labels),
        "Mountpoint": str(volume.mountpoint),
        "Name": volume.name,
        "Options": _sorted(volume.options),
        "Scope": volume.scope,
    }


def _sorted(values: Mapping[str, str] | None) -> dict[str, str] | None:
    """A map as Go encodes one: keys sorted."""
    return None if values is None else dict(sorted(values.items()))


def rfc3339_local(ns: int) -> str:
    """Go's ``Format(time.RFC3339)`` of a local time: seconds, ``Z`` or ``+hh:mm``."""
    moment = datetime.fromtimestamp(ns // 1_000_000_000).astimezone()
    offset = moment.utcoffset()
    text = moment.strftime("%Y-%m-%dT%H:%M:%S")
    if not offset:
        return text + "Z"
    minutes = int(offset.total_seconds()) // 60
    sign = "-" if minutes < 0 else "+"
    return f"{text}{sign}{abs(minutes) // 60:02d}:{abs(minutes) % 60:02d}"


def _dangling(filters: Mapping[str, Sequence[str]]) -> bool | None:
    values = filters.get("dangling")
    if values is None:
        return None
    if any(v in ("true", "1") for v in values):
        return True
    if any(v in ("false", "0") for v in values):
        return False
    raise invalid_filter("dangling", values)


def _matches(volume: Volume, filters: Mapping[str, Sequence[str]]) -> bool:
    drivers = filters.get("driver")
    if drivers and volume.driver not in drivers:
        return False
    names = filters.get("name")
    if names and not any(_name_matches(pattern, volume.name) for pattern in names):
        return False
    return match_labels(filters.get("label", []), volume.labels)


def _name_matches(pattern: str, name: str) -> bool:
    """``filters.Match``: equal, or the pattern (a regular expression) is found in the name."""
    if pattern == name:
        return True
    try:
        return re.search(pattern, name) is not None
    except re.error:
        return False


def _prune_match(volume: Volume, filters: Mapping[str, Sequence[str]]) -> bool:
    if not match_labels(filters.get("label", []), volume.labels):
        return False
    negated = filters.get("label!", [])
    return not (negated and match_labels(negated, volume.labels))


def _string(body: Mapping[str, Any], key: str) -> str:
    value = body.get(key)
    if value is None:
        return ""
    if not isinstance(value, str):
        raise InvalidArgument(f"json: cannot unmarshal {_kind(value)} into Go struct field "
                              f"VolumeCreateBody.{key} of type string")
    return value


def _string_map(body: Mapping[str, Any], key: str) -> dict[str, str] | None:
    """A map of strings; ``{}`` stays ``{}`` (dockerd shows it so), null is None."""
    value = body.get(key)
    if value is None:
        return None
    if not isinstance(value, dict):
        raise InvalidArgument(f"json: cannot unmarshal {_kind(value)} into Go struct field "
                              f"VolumeCreateBody.{key} of type map[string]string")
    for item in value.values():
        if not isinstance(item, str):
            raise InvalidArgument(f"json: cannot unmarshal {_kind(item)} into Go struct field "
                                  f"VolumeCreateBody.{key} of type string")
    return value


def _kind(value: object) -> str:
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, (int, float)):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return "object"
