"""The streams behind ``dockyard stats`` without ``--no-stream``: a daemon thread per container,
each on its own connection reading ``GET /containers/{id}/stats?stream=1`` (an object a second),
and the latest figures of each for the redraw loop. A container whose stream fails (removed, or
never existed) shows ``--`` as docker's does (an invalid entry)."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable
from typing import Any

from dockyard.cli.commands.stats import Entry
from dockyard.client import Client
from dockyard.client.engine import decode_lines

log = logging.getLogger(__name__)


class Streams:
    def __init__(self, host: str, make: Callable[[str, dict[str, Any]], Entry]) -> None:
        self.host = host
        self.make = make
        self._latest: dict[str, Entry] = {}
        self._threads: dict[str, threading.Thread] = {}
        self._lock = threading.Lock()
        self._stop = threading.Event()

    def __enter__(self) -> Streams:
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()

    def follow(self, names: Iterable[str]) -> None:
        """Start a stream for each name not followed yet (streams of others keep running)."""
        for name in names:
            if name not in self._threads:
                thread = threading.Thread(target=self._read, args=(name,), daemon=True,
                                          name=f"stats-{name[:12]}")
                self._threads[name] = thread
                thread.start()

    def latest(self, name: str) -> Entry:
        with self._lock:
            return self._latest.get(name) or Entry(container=name)

    def wait(self, seconds: float) -> None:
        self._stop.wait(seconds)

    def _read(self, name: str) -> None:
        try:
            with Client(self.host) as client:
                response = client.request("GET", f"/containers/{name}/stats", {"stream": "1"})
                for message in decode_lines(response):
                    found = self.make(name, message)
                    with self._lock:
                        self._latest[name] = found
                    if self._stop.is_set():
                        return
        except Exception as exc:  # the table shows "--" for it, as docker's does
            log.debug("stats of %s: %s", name, exc)
        with self._lock:
            self._latest[name] = Entry(container=name)
