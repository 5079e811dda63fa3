"""A container's ``Healthcheck`` checked at create, in dockerd's words
(``verifyContainerSettings``): durations of at least 1 ms when set, retries not negative."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from dockyard.errors import InvalidArgument

MINIMUM_NS = 1_000_000  # containertypes.MinimumDuration


def check_healthcheck(check: Mapping[str, Any] | None) -> None:
    if not check:
        return
    for key in ("Interval", "Timeout"):
        _duration(check, key)
    retries = check.get("Retries") or 0
    if not isinstance(retries, int) or retries < 0:
        raise InvalidArgument("Retries in Healthcheck cannot be negative")
    _duration(check, "StartPeriod")


def _duration(check: Mapping[str, Any], key: str) -> None:
    value = check.get(key) or 0
    if not isinstance(value, int) or isinstance(value, bool):
        raise InvalidArgument(f"json: cannot unmarshal {type(value).__name__} into Go struct "
                              f"field HealthConfig.Healthcheck.{key} of type time.Duration")
    if value != 0 and value < MINIMUM_NS:
        raise InvalidArgument(f"{key} in Healthcheck cannot be less than 1ms")
