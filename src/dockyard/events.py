"""The engine's event stream (``GET /events``): a small publish/subscribe hub.

Services publish :class:`Event` values (a container died, an image was tagged) from the event
loop or from worker threads; each subscriber gets them, filtered, on its own asyncio queue. The
last :data:`BUFFERED` events are kept in a ring so that a subscriber asking for ``since`` (or
``until``) gets the past ones first, as dockerd replays its last 256 events::

    publish(e) ──> ring (last 256) ──> for each subscriber whose filters match:
                                          loop.call_soon_threadsafe(queue.put, e)

A subscription is made under the same lock as a publish, so no event falls between the replay
and the live part. A subscriber that does not keep up loses its oldest undelivered events (with
a warning) rather than making the engine hold memory for it.

Filters follow dockerd's ``daemon/events/filter.go``: ``type``, ``event`` (``exec_create``,
``exec_start`` and ``health_status`` by prefix), ``container``/``volume``/``network``/
``daemon`` (ID or name, by prefix), ``image`` (ID or name, with or without its tag),
``label`` (``k`` or ``k=v`` against the actor's attributes, all must hold) and ``scope``.
"""

from __future__ import annotations

import asyncio
import collections
import logging
import threading
import time
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from dataclasses import dataclass, field

log = logging.getLogger(__name__)

BUFFERED = 256
QUEUE_LIMIT = 4096
FILTER_KEYS = ("container", "image", "label", "type", "event", "volume", "network", "daemon",
               "plugin", "node", "service", "secret", "config", "scope")
_PREFIX_ACTIONS = ("health_status", "exec_create", "exec_start")
_LEGACY_TYPES = ("container", "image")

Filters = Mapping[str, Sequence[str]]


@dataclass(frozen=True, slots=True)
class Event:
    """One event: dockerd's ``events.Message`` without its deprecated fields (added by
    :meth:`to_json`)."""

    type: str                     # "container", "image", "network", "volume", ...
    action: str                   # "die", "exec_start: sh -c true", "health_status: healthy"
    actor_id: str
    attributes: Mapping[str, str] = field(default_factory=dict)
    time_ns: int = 0
    scope: str = "local"

    def to_json(self) -> dict[str, object]:
        """As dockerd encodes it: ``status``/``id``/``from`` first for container and image
        events, attributes in key order (Go's map encoding)."""
        out: dict[str, object] = {}
        if self.type in _LEGACY_TYPES:
            out["status"] = self.action
            out["id"] = self.actor_id
            if self.type == "container" and self.attributes.get("image"):
                out["from"] = self.attributes["image"]
        out.update({
            "Type": self.type, "Action": self.action,
            "Actor": {"ID": self.actor_id, "Attributes": dict(sorted(self.attributes.items()))},
            "scope": self.scope, "time": self.time_ns // 10**9, "timeNano": self.time_ns,
        })
        return out


def matches(event: Event, filters: Filters) -> bool:
    """Whether ``event`` passes ``filters`` (dockerd's ``Filter.Include``)."""
    def exact(key: str, value: str) -> bool:
        wanted = filters.get(key)
        return not wanted or value in wanted

    def fuzzy(key: str, value: str) -> bool:
        wanted = filters.get(key)
        return not wanted or any(value == w or (w and value.startswith(w)) for w in wanted)

    def by_name(key: str) -> bool:
        return fuzzy(key, event.actor_id) or fuzzy(key, event.attributes.get("name", ""))

    wanted_actions = filters.get("event") or ()
    if any(a in _PREFIX_ACTIONS for a in wanted_actions):
        action_ok = fuzzy("event", event.action)
    else:
        action_ok = exact("event", event.action)
    return (action_ok and exact("type", event.type) and exact("scope", event.scope)
            and all(by_name(k) for k in ("container", "volume", "network", "daemon",
                                          "plugin", "node", "service", "secret", "config"))
            and _match_image(event, filters.get("image") or ())
            and match_labels(filters.get("label") or (), event.attributes))


def _match_image(event: Event, wanted: Sequence[str]) -> bool:
    if not wanted:
        return True
    name = event.attributes.get("name" if event.type == "image" else "image", "")
    candidates = {event.actor_id, name, strip_tag(event.actor_id), strip_tag(name)}
    return any(c in wanted for c in candidates if c)


def strip_tag(name: str) -> str:
    """``busybox:latest`` -> ``busybox``, ``r@sha256:..`` -> ``r``; an ID stays as it is."""
    if not name or name.startswith("sha256:"):
        return name
    name = name.split("@", 1)[0]
    slash = name.rfind("/")
    colon = name.rfind(":")
    return name[:colon] if colon > slash else name


def match_labels(wanted: Sequence[str], attributes: Mapping[str, str] | None) -> bool:
    """Go's ``Args.MatchKVList``: every ``k`` present, every ``k=v`` equal (of events, images,
    volumes, networks and containers alike)."""
    if not wanted:
        return True
    if not attributes:
        return False
    for item in wanted:
        key, sep, value = item.partition("=")
        if key not in attributes or (sep and attributes[key] != value):
            return False
    return True


@dataclass
class _Subscriber:
    loop: asyncio.AbstractEventLoop
    queue: asyncio.Queue[Event]
    filters: Filters

    def deliver(self, event: Event) -> None:  # on the subscriber's loop
        if self.queue.full():
            self.queue.get_nowait()
            log.warning("an events subscriber is too slow; dropped its oldest event")
        self.queue.put_nowait(event)


class Events:
    """The hub: :meth:`publish` from anywhere, :meth:`subscribe` on an event loop."""

    def __init__(self, clock: Callable[[], int] = time.time_ns, limit: int = BUFFERED) -> None:
        self.clock = clock
        self._ring: collections.deque[Event] = collections.deque(maxlen=limit)
        self._subscribers: list[_Subscriber] = []
        self._lock = threading.Lock()

    def publish(self, event: Event) -> Event:
        """Record and deliver ``event`` (its time set now if it has none); thread-safe."""
        if not event.time_ns:
            event = Event(event.type, event.action, event.actor_id, dict(event.attributes),
                          self.clock(), event.scope)
        with self._lock:
            self._ring.append(event)
            targets = [s for s in self._subscribers if matches(event, s.filters)]
        for subscriber in targets:
            try:
                subscriber.loop.call_soon_threadsafe(subscriber.deliver, event)
            except RuntimeError:  # its loop is closed: the subscriber is gone
                self._drop(subscriber)
        return event

    def log(self, type: str, action: str, actor_id: str,
            attributes: Mapping[str, str] | None = None) -> Event:
        return self.publish(Event(type, action, actor_id, dict(attributes or {})))

    def past(self, since_ns: int = 0, until_ns: int = 0, filters: Filters | None = None) \
            -> list[Event]:
        with self._lock:
            return self._select(since_ns, until_ns, filters or {})

    def _select(self, since_ns: int, until_ns: int, filters: Filters) -> list[Event]:
        return [e for e in self._ring
                if e.time_ns >= since_ns and (not until_ns or e.time_ns <= until_ns)
                and matches(e, filters)]

    async def subscribe(self, filters: Filters | None = None, since_ns: int = 0,
                        until_ns: int = 0) -> AsyncIterator[Event]:
        """The buffered events from ``since_ns`` (when ``since_ns`` or ``until_ns`` is set),
        then the live ones; ends at ``until_ns`` (never when it is 0). Close the iterator
        (``aclose``) to unsubscribe."""
        filters = dict(filters or {})
        subscriber = _Subscriber(asyncio.get_running_loop(), asyncio.Queue(QUEUE_LIMIT), filters)
        with self._lock:
            replay = self._select(since_ns, until_ns, filters) if since_ns or until_ns else []
            self._subscribers.append(subscriber)
        try:
            for event in replay:
                yield event
            while True:
                timeout = None
                if until_ns:
                    timeout = (until_ns - self.clock()) / 1e9
                    if timeout <= 0:
                        return
                try:
                    event = await asyncio.wait_for(subscriber.queue.get(), timeout)
                except TimeoutError:
                    return
                if until_ns and event.time_ns > until_ns:
                    return
                yield event
        finally:
            self._drop(subscriber)

    def _drop(self, subscriber: _Subscriber) -> None:
        with self._lock:
            if subscriber in self._subscribers:
                self._subscribers.remove(subscriber)

    @property
    def subscribers(self) -> int:
        with self._lock:
            return len(self._subscribers)
