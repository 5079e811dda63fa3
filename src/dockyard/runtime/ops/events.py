"""``events``: a container's resource usage as runc prints it: with ``--stats`` one line
``{"type":"stats","id":"<id>","data":{...}}`` (runc's ``types.Stats``, ``cgroups/stats.py``);
without, such a line every ``--interval`` and ``{"type":"oom","id":"<id>"}`` whenever the
OOM killer kills in the container (its kill count grew), until the container stops.

runc learns of OOMs through an eventfd (v1) or inotify (v2); this polls the kill count every
100 ms instead, which needs no thread.
"""

from __future__ import annotations

from dockyard.errors import Conflict, InvalidArgument
from dockyard.runtime.state import STOPPED

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable

    from dockyard.runtime.cgroups.stats import Stats
    from dockyard.runtime.state import StateRoot

POLL = 0.1


def stats(root: StateRoot, container_id: str) -> Stats:
    """One sample of the container's cgroup; Conflict once the container has stopped."""
    from dockyard.runtime.cgroups import stats as reader

    directory = root.open(container_id)
    saved = directory.read()
    if saved is None or directory.status(saved) == STOPPED or not saved.cgroup_paths:
        raise Conflict(f"container with id {container_id} is not running")
    return reader.read(saved.cgroup_paths)


def render(kind: str, container_id: str, data: Stats | None = None) -> str:
    """One event as Go's json.Encoder writes it (compact, newline-terminated)."""
    from dockyard.runtime.jsontext import dumps

    event: dict[str, object] = {"type": kind, "id": container_id}
    if data is not None:
        event["data"] = data.to_runc()
    return dumps(event) + "\n"


def parse_interval(text: str) -> float:
    """A Go duration ("5s", "500ms", "1m30s", "1.5s") in seconds; it must be positive."""
    units = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}
    rest, total = text, 0.0
    while rest:
        number = ""
        while rest and (rest[0].isdigit() or rest[0] == "."):
            number, rest = number + rest[0], rest[1:]
        unit = next((u for u in sorted(units, key=len, reverse=True) if rest.startswith(u)), "")
        if not number or not unit or number.count(".") > 1:
            raise InvalidArgument(f"invalid value {text!r} for flag -interval: parse error")
        total += float(number) * units[unit]
        rest = rest[len(unit):]
    if total <= 0:
        raise InvalidArgument("duration interval must be greater than 0")
    return total


def watch(root: StateRoot, container_id: str, interval: float, emit: Callable[[str], None], *,
          clock: Callable[[], float] | None = None,
          sleep: Callable[[float], None] | None = None) -> None:
    """Emit a stats event every ``interval`` and an oom event per OOM kill, until the
    container stops (or its cgroup is gone)."""
    import time

    clock = clock or time.monotonic
    sleep = sleep or time.sleep
    sample = stats(root, container_id)
    kills = sample.memory.oom_kill
    next_stats = clock() + interval
    while True:
        sleep(POLL)
        try:
            sample = stats(root, container_id)
        except Conflict:
            return
        for _ in range(max(0, sample.memory.oom_kill - kills)):
            emit(render("oom", container_id))
        kills = sample.memory.oom_kill
        if clock() >= next_stats:
            emit(render("stats", container_id, sample))
            next_stats += interval
