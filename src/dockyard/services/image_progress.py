"""The JSON progress messages of pull and push, shaped as dockerd sends them (engine-api.md 6).

A layer's message carries ``progressDetail`` (``{}`` when it has no numbers) and, with numbers,
``progress``: the bar dockerd renders with moby's ``JSONProgress.String`` at its default width of
200 columns (the CLI re-renders its own from ``progressDetail``)::

    {"status":"Downloading","progressDetail":{"current":36445,"total":3001127},
     "progress":"[>                                                  ]  36.45kB/3.001MB",
     "id":"861808351cd1"}

Sizes are go-units ``HumanSize``: decimal units, four significant digits (``36.45kB``).
"""

from __future__ import annotations

from typing import Any

_UNITS = ("B", "kB", "MB", "GB", "TB", "PB", "EB", "ZB", "YB")
BAR_WIDTH = 50


def human_size(size: float) -> str:
    """go-units ``HumanSize``: ``512B``, ``2.048kB``, ``1.997MB``."""
    unit = 0
    while size >= 1000.0 and unit < len(_UNITS) - 1:
        size /= 1000.0
        unit += 1
    return f"{size:.4g}{_UNITS[unit]}"


def progress_bar(current: int, total: int, width: int = 200) -> str:
    """moby ``JSONProgress.String`` without a start time (so without "time left")."""
    if current <= 0 and total <= 0:
        return ""
    if total <= 0:
        return f"{human_size(current):>8}"
    percentage = min(int(current / total * 100) // 2, BAR_WIDTH)
    bar = ""
    if width > 110:
        bar = f"[{'=' * percentage}>{' ' * max(BAR_WIDTH - percentage, 0)}] "
    numbers = f"{human_size(current):>8}/{human_size(total)}"
    if current > total:
        numbers = f"{human_size(current):>8}"
    return bar + numbers


def status(text: str, layer_id: str | None = None) -> dict[str, Any]:
    """A plain status line (``Pulling from x``, ``Digest: ...``), with an id if given."""
    message: dict[str, Any] = {"status": text}
    if layer_id is not None:
        message["id"] = layer_id
    return message


def layer(layer_id: str, text: str, current: int = 0, total: int = 0) -> dict[str, Any]:
    """A per-layer message; numbers give ``progressDetail`` and the rendered bar."""
    message: dict[str, Any] = {"status": text}
    if current or total:
        message["progressDetail"] = {"current": current, "total": total}
        message["progress"] = progress_bar(current, total)
    else:
        message["progressDetail"] = {}
    message["id"] = layer_id
    return message


def aux(value: dict[str, Any]) -> dict[str, Any]:
    """The closing push message the CLI reads the digest from."""
    return {"progressDetail": {}, "aux": value}
