"""The classic builder's JSON message stream, message for message as dockerd 20.10 writes it.

::

    {"stream":"Step 1/6 : FROM busybox"}          then {"stream":"\\n"}
    {"stream":" ---> cbd6520f9b0c\\n"}             the image after the step
    {"stream":" ---> Using cache\\n"}              the step came from the cache
    {"stream":" ---> Running in 4a281420deda\\n"}  the step's container (RUN, metadata steps)
    {"stream":"building-step\\n"}                  RUN's stdout; stderr in \\x1b[91m ... \\x1b[0m
    {"stream":"Removing intermediate container 4a281420deda\\n"}
    {"aux":{"ID":"sha256:..."}}                    each stage's image
    {"stream":"Successfully built e24b3e1b2153\\n"}
    {"stream":"Successfully tagged tracebuild:1\\n"}
    {"errorDetail":{"code":3,"message":"..."},"error":"..."}

With ``q`` only the final image ID is sent (``{"stream":"sha256:...\\n"}``); the rest is kept
and sent before an error, as dockerd does. The docker CLI takes the ID from ``aux``;
docker-py needs the ``Successfully built`` line.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from dockyard.oci.digest import Digest

Message = dict[str, Any]
Emit = Callable[[Message], None]

RED = "\x1b[91m"
RESET = "\x1b[0m"


def short_id(image_id: Digest | str) -> str:
    """stringid.TruncateID: 12 hex digits without the algorithm ("" stays "")."""
    text = str(image_id)
    return text.partition(":")[2][:12] if ":" in text else text[:12]


class Output:
    """Writes the stream of one build (or of one stage, through a :class:`StageOutputs`)."""

    def __init__(self, emit: Emit) -> None:
        self.emit = emit

    def text(self, text: str) -> None:
        if text:
            self.emit({"stream": text})

    def step(self, index: int, total: int, original: str) -> None:
        self.text(f"Step {index}/{total} : {original}")
        self.text("\n")

    def image(self, image_id: Digest | str) -> None:
        self.text(f" ---> {short_id(image_id)}\n")

    def using_cache(self) -> None:
        self.text(" ---> Using cache\n")

    def running_in(self, container_id: str) -> None:
        self.text(f" ---> Running in {container_id[:12]}\n")

    def removing(self, container_id: str) -> None:
        self.text(f"Removing intermediate container {container_id[:12]}\n")

    def stdout(self, data: bytes) -> None:
        self.text(data.decode("utf-8", "replace"))

    def stderr(self, data: bytes) -> None:
        if data:
            self.text(RED + data.decode("utf-8", "replace") + RESET)

    def aux(self, image_id: Digest) -> None:
        self.emit({"aux": {"ID": str(image_id)}})

    def raw(self, message: Message) -> None:
        """A message from elsewhere (a pull's progress)."""
        self.emit(message)


def error_message(message: str, code: int = 0) -> Message:
    detail: dict[str, Any] = {"message": message}
    if code:
        detail = {"code": code, "message": message}
    return {"errorDetail": detail, "error": message}


class Quiet:
    """``q=1``: keep every message, send none until the end (the ID, or the kept messages
    before an error)."""

    def __init__(self, emit: Emit) -> None:
        self.emit = emit
        self.kept: list[Message] = []

    def __call__(self, message: Message) -> None:
        self.kept.append(message)

    def finish(self, image_id: Digest) -> None:
        self.emit({"stream": f"{image_id}\n"})

    def fail(self) -> None:
        for message in self.kept:
            self.emit(message)


class StageOutputs:
    """Stages built in parallel, shown in Dockerfile order: the first unfinished stage writes
    through, the others are held until every stage before them is done."""

    def __init__(self, emit: Emit, order: list[int]) -> None:
        self._emit = emit
        self._order = order
        self._held: dict[int, list[Message]] = {index: [] for index in order}
        self._done: set[int] = set()
        self._position = 0
        self._lock = threading.Lock()

    def output(self, stage: int) -> Output:
        return Output(lambda message: self._write(stage, message))

    def _current(self) -> int | None:
        return self._order[self._position] if self._position < len(self._order) else None

    def _write(self, stage: int, message: Message) -> None:
        with self._lock:
            if stage == self._current():
                self._emit(message)
            else:
                self._held[stage].append(message)

    def finish(self, stage: int) -> None:
        """``stage`` is done: show what the stages after it held, up to the next busy one."""
        with self._lock:
            self._done.add(stage)
            while (current := self._current()) is not None and current in self._done:
                self._position += 1
                following = self._current()
                if following is not None:
                    for message in self._held[following]:
                        self._emit(message)
                    self._held[following].clear()

    def flush(self) -> None:
        """Show everything held (a failed build ends here)."""
        with self._lock:
            for index in self._order[self._position:]:
                for message in self._held[index]:
                    self._emit(message)
                self._held[index].clear()
            self._position = len(self._order)
