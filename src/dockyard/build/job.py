"""What the stages of one build share: the request's options, the context, the stores, the
injected services (base images, the RUN executor), and the results of finished stages.

The builder's collaborators are protocols so that the services layer can supply them:
:class:`BaseImages` finds (or pulls) a FROM image; :class:`~dockyard.build.run.RunExecutor`
runs a RUN step's process. A stage result is what a later ``FROM <stage>`` or
``COPY --from=<stage>`` needs: the image ID, its config and its layer blobs.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from dockyard.build.buildargs import BuildArgs
from dockyard.build.cache import BuildCache
from dockyard.build.context import BuildContext
from dockyard.build.imageconfig import Stamp
from dockyard.build.layers import Layers
from dockyard.build.output import Output
from dockyard.build.run import RunExecutor
from dockyard.errors import DockyardError, InvalidArgument
from dockyard.images.assemble import LayerBlob
from dockyard.oci.config import ImageConfig
from dockyard.oci.platform import Platform

NETWORKS = ("default", "host", "none", "bridge")


@dataclass(frozen=True, slots=True)
class BuildOptions:
    """The query parameters of ``POST /build`` that shape the build (tags are the service's)."""

    dockerfile: str = "Dockerfile"
    build_args: Mapping[str, str] = field(default_factory=dict)
    labels: Mapping[str, str] = field(default_factory=dict)
    no_cache: bool = False
    pull: bool = False
    target: str = ""
    remove: bool = True
    force_remove: bool = False
    network: str = "default"
    platform: str = ""
    cache_from: tuple[str, ...] = ()
    secrets: Mapping[str, bytes] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.network not in NETWORKS and not self.network.startswith("container:"):
            raise InvalidArgument(f"network mode {self.network!r} is not supported by the "
                                  "builder: use default, host or none")

    @property
    def epoch(self) -> int | None:
        """SOURCE_DATE_EPOCH, given as a build arg."""
        value = self.build_args.get("SOURCE_DATE_EPOCH", "")
        if not value:
            return None
        if not value.isascii() or not value.isdigit():
            raise InvalidArgument(f"invalid SOURCE_DATE_EPOCH {value!r}: want whole seconds "
                                  "since 1970")
        return int(value)


@dataclass(frozen=True, slots=True)
class BaseImage:
    """An image a stage starts from or copies from: its ID ("" for scratch), config, blobs."""

    image_id: str
    config: ImageConfig
    layers: tuple[LayerBlob, ...] = ()

    @property
    def chain(self) -> str:
        from dockyard.oci.identity import chain_ids

        ids = chain_ids(self.config.diff_ids)
        return str(ids[-1]) if ids else ""


class BaseImages(Protocol):
    """Finds the image of a FROM (or ``COPY --from=<image>``), pulling it when it is missing
    or ``pull`` is set; pull progress goes to ``output``."""

    def base(self, name: str, platform: Platform, pull: bool, output: Output) -> BaseImage: ...

    def local(self, name: str, platform: Platform) -> BaseImage | None:
        """The image if it is here (``--cache-from`` never pulls)."""
        ...


class StepFailed(DockyardError):
    """A step failed; the message names the Dockerfile and line. ``code`` is the exit code the
    client should end with (a RUN's exit status), 0 for none."""

    def __init__(self, message: str, code: int = 0, http_status: int = 500, *,
                 located: bool = False) -> None:
        super().__init__(message)
        self.code = code
        self.status = http_status
        self.located = located


class Cancelled(DockyardError):
    """The client went away."""


@dataclass
class Job:
    """One build in progress."""

    options: BuildOptions
    context: BuildContext
    layers: Layers
    cache: BuildCache
    images: BaseImages
    executor: RunExecutor
    platform: Platform
    args: BuildArgs
    tmp: Path
    cache_mounts: Path | None = None
    filename: str = "Dockerfile"
    docker_version: str = ""
    clock: Callable[[], int] = time.time_ns
    cancel: threading.Event = field(default_factory=threading.Event)
    results: dict[int, BaseImage] = field(default_factory=dict)
    names: dict[str, int] = field(default_factory=dict)
    finished: dict[int, threading.Event] = field(default_factory=dict)
    used_args: set[str] = field(default_factory=set)
    cache_sources: list[BaseImage] = field(default_factory=list)
    on_work: Callable[[], None] = field(default=lambda: None)
    """Called before a step does work the cache does not spare it (or an image is pulled):
    stages not started yet start in parallel then (:mod:`dockyard.build.stages`)."""
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def stamp(self) -> Stamp:
        return Stamp(self.clock(), self.options.epoch, self.docker_version)

    def check_cancelled(self) -> None:
        if self.cancel.is_set():
            raise Cancelled("Build cancelled")

    def record(self, index: int, name: str, result: BaseImage) -> None:
        with self._lock:
            self.results[index] = result
            if name:
                self.names[name] = index
        self.finished.setdefault(index, threading.Event()).set()

    def stage_result(self, index: int) -> BaseImage:
        """The result of stage ``index``, waiting for it when stages run in parallel."""
        event = self.finished.setdefault(index, threading.Event())
        while not event.wait(0.2):
            self.check_cancelled()
        with self._lock:
            return self.results[index]
