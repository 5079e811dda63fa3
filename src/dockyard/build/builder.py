"""The builder of one data root: a context and options in, an image config and its layers out.

:meth:`Builder.build` receives the context, reads and parses the Dockerfile, plans the stages
and runs them, writing the classic builder's messages through ``emit``. Anything wrong before
the first message (a bad context, a Dockerfile that does not parse, an unknown target) is
raised as it is, so the API can answer with a plain HTTP error as dockerd does; later failures
are raised too, and the caller puts them in the stream. Writing the image record and tagging
are the services layer's. On disk::

    <data-root>/build/
      cache/            the step cache (dockyard.build.cache)
      mounts/           RUN --mount=type=cache directories
      tmp/<build>/      a build's context, downloads and mount points; removed (in a thread
                        of its own) once it ends
"""

from __future__ import annotations

import _thread
import logging
import threading
import time
import uuid
from collections.abc import Callable
from contextlib import suppress
from dataclasses import dataclass
from pathlib import Path
from typing import IO, BinaryIO

from dockyard.archive.target import remove_tree
from dockyard.build.buildargs import BuildArgs, platform_args
from dockyard.build.cache import BuildCache
from dockyard.build.context import open_context
from dockyard.build.dockerfile import parse_dockerfile
from dockyard.build.job import BaseImages, BuildOptions, Job
from dockyard.build.layers import Layers
from dockyard.build.output import Emit, Output
from dockyard.build.run import RunExecutor
from dockyard.build.stages import plan, run_stages
from dockyard.errors import DockyardError, InvalidArgument
from dockyard.images.assemble import LayerBlob
from dockyard.mount import unmount
from dockyard.oci.config import ImageConfig
from dockyard.oci.digest import Digest
from dockyard.oci.platform import Platform
from dockyard.store import DataRoot
from dockyard.sys import Syscalls

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class BuildResult:
    """The built image: its config (the ID is the digest of its bytes) and layer blobs."""

    image_id: Digest
    config: ImageConfig
    layers: tuple[LayerBlob, ...]


class Builder:
    """Builds images from Dockerfiles in the stores it is given."""

    def __init__(self, data: DataRoot, syscalls: Syscalls, *, images: BaseImages,
                 executor: RunExecutor, docker_version: str = "",
                 clock: Callable[[], int] = time.time_ns) -> None:
        """State lives in ``<data root>/build``; ``images`` finds FROM images; ``executor``
        runs RUN steps."""
        self.root = data.root / "build"
        self.tmp = self.root / "tmp"
        self.mounts = self.root / "mounts"
        self.cache = BuildCache(self.root / "cache")
        self.layers = Layers(data.content, data.snapshotter, data.snapshotter_name, syscalls,
                             self.tmp)
        self.syscalls = syscalls
        self.images = images
        self.executor = executor
        self.docker_version = docker_version
        self.clock = clock
        self._removing = threading.Condition()
        self._removals = 0
        self.tmp.mkdir(parents=True, exist_ok=True)

    def recover(self) -> None:
        """After a crash: unmount what a build left mounted, remove its files (never through
        a mount that is still there), then the snapshots it left."""
        self.cache.recover()
        for point in _mounts_under(self.tmp):
            log.info("unmounting %s left by a build", point)
            with suppress(DockyardError):
                unmount(point, self.syscalls)
        busy = _mounts_under(self.tmp)
        for child in self.tmp.iterdir():
            if any(p == str(child) or p.startswith(f"{child}/") for p in busy):
                log.warning("%s is still mounted; leaving it", child)
                continue
            with suppress(OSError):
                if child.is_dir() and not child.is_symlink():
                    remove_tree(str(child))
                else:
                    child.unlink()
        self.layers.remove_leftovers()

    def build(self, context: BinaryIO | IO[bytes] | None, options: BuildOptions, emit: Emit,
              cancel: threading.Event | None = None, *,
              images: BaseImages | None = None) -> BuildResult:
        """Build from the context tar ``context`` (None: no context, as for a Dockerfile sent
        alone); messages go to ``emit``; FROM images from ``images`` (default: the builder's).
        """
        workdir = self.tmp / uuid.uuid4().hex
        workdir.mkdir(mode=0o700)
        try:
            return self._build(context, options, emit, cancel=cancel, workdir=workdir,
                               images=images or self.images)
        finally:
            self._discard(workdir)

    def _discard(self, workdir: Path) -> None:
        """Remove a build's files in a thread of their own: the client need not wait for it
        (it cost a tenth of a cached build). Nothing is mounted there any more; what a crash
        leaves, :meth:`recover` removes."""
        with self._removing:
            self._removals += 1
        try:
            _thread.start_new_thread(self._remove, (workdir,))
        except RuntimeError:  # no thread to be had: remove them here
            self._remove(workdir)

    def _remove(self, workdir: Path) -> None:
        try:
            with suppress(OSError):
                remove_tree(str(workdir))
        finally:
            with self._removing:
                self._removals -= 1
                self._removing.notify_all()

    def settle(self, timeout: float | None = None) -> bool:
        """Wait until the files of finished builds are gone; False if ``timeout`` passed."""
        with self._removing:
            return self._removing.wait_for(lambda: self._removals == 0, timeout)

    def _build(self, stream: BinaryIO | IO[bytes] | None, options: BuildOptions, emit: Emit,
               *, cancel: threading.Event | None, workdir: Path,
               images: BaseImages) -> BuildResult:
        context = open_context(stream, workdir / "context")
        text, name = context.read_dockerfile(options.dockerfile)
        context.drop_ignored_build_files(name)
        if name.startswith(".dockerfile."):  # sent by a client from stdin or outside the context
            name = "Dockerfile"
        dockerfile = parse_dockerfile(text, name)
        platform = _platform(options.platform)
        args = BuildArgs.start(options.build_args, dockerfile.meta_args,
                               platform_args(platform), filename=name)
        the_plan = plan(dockerfile, options.target, dict(options.labels), args.global_env())
        job = Job(options, context, self.layers, self.cache, images, self.executor,
                  platform, args, workdir, cache_mounts=self.mounts, filename=name,
                  docker_version=self.docker_version, clock=self.clock,
                  cancel=cancel or threading.Event())
        for name in options.cache_from:
            source = images.local(name, platform)
            if source is None:
                log.info("cache source %s is not here; skipping it", name)
            else:
                job.cache_sources.append(source)
        result = run_stages(job, dockerfile, the_plan, emit)
        if not result.image_id:
            raise InvalidArgument("No image was generated. Is your Dockerfile empty?")
        declared = {d.name for a in dockerfile.meta_args for d in a.args} | job.used_args
        unused = args.unused(declared)
        if unused:
            Output(emit).text(f"[Warning] One or more build-args [{' '.join(unused)}] were not "
                              "consumed\n")
        return BuildResult(Digest.parse(result.image_id), result.config, result.layers)


def _mounts_under(directory: Path) -> list[str]:
    """Mount points below ``directory``, deepest first."""
    try:
        lines = Path("/proc/self/mountinfo").read_text().splitlines()
    except OSError:
        return []
    prefix = f"{directory}/"
    points = [fields[4] for line in lines if len(fields := line.split()) > 4]
    return sorted((p for p in points if p.startswith(prefix)), reverse=True)


def _platform(text: str) -> Platform:
    host = Platform.current().normalize()
    if not text:
        return host
    wanted = Platform.parse(text).normalize()
    if wanted.os != "linux":
        raise InvalidArgument(f"platform {text!r} is not supported: dockyard builds linux images")
    return wanted
