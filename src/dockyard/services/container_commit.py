"""``POST /commit``: a container's writable layer as a new image on its image, as dockerd's
``CreateImageFromContainer`` and ``image.NewChildImage`` make it.

The config: the body's config (or, as the CLI sends none, the container's), with the
``changes`` (Dockerfile instructions, ``image_changes``) applied and the container's config
filling what is left empty (dockerd's ``merge``). The layer: the container's upper directory
as an uncompressed tar, less the mount points the runtime made (``containers.changes``), stored
in the content store and unpacked into the snapshot of the new chainID, so the image runs
at once. An empty layer adds no diffID, only a history entry marked ``empty_layer``. The
config is the parent's platform, layers and history plus one entry (``created``, ``author``,
``created_by`` = the container's Cmd, ``comment``), with ``container``, ``container_config``
(the container's config) and ``docker_version``, as dockerd writes them. Garbage collection
waits until the image record is written (``ImageService.writing``).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import stat
import time
import uuid
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from dockyard.archive.apply import apply_layer
from dockyard.archive.diff import write_diff, write_layer
from dockyard.containers import changes
from dockyard.containers.config import ContainerConfig as DockerConfig
from dockyard.containers.record import Container, format_time
from dockyard.errors import (
    AlreadyExists,
    Conflict,
    DataCorrupt,
    DockyardError,
    InvalidArgument,
    NotFound,
)
from dockyard.images.assemble import LayerBlob, write_image
from dockyard.images.importer import DANGLING_PREFIX, LABEL_DIFF_SIZE
from dockyard.images.store import Target
from dockyard.oci import mediatypes as mt
from dockyard.oci.codec import Fields, encode
from dockyard.oci.config import ContainerConfig, History, ImageConfig, RootFS
from dockyard.oci.digest import Digest
from dockyard.oci.identity import chain_ids
from dockyard.oci.manifest import Manifest
from dockyard.oci.reference import parse_reference, validate_tag
from dockyard.services.container_files import overlay_lowers
from dockyard.services.containers import ContainerService
from dockyard.services.image_changes import apply_changes
from dockyard.services.images import ImageService
from dockyard.store import DataRoot

log = logging.getLogger(__name__)

EMPTY_LAYER = Digest("sha256", "5f70bf18a086007016e948b04aed3b82103a36bea41755b6cddfaf10ace3c6ef")
LABEL_EXTRACT = "dockyard/extract"  # DataRoot.recover removes such snapshots after a crash

Pauser = Callable[[str, bool], Awaitable[None]]


@dataclass(frozen=True, slots=True)
class CommitRequest:
    container: str
    repo: str = ""
    tag: str = ""
    comment: str = ""
    author: str = ""
    pause: bool = True
    changes: tuple[str, ...] = ()
    config: Mapping[str, Any] | None = None


class Committer:
    def __init__(self, containers: ContainerService, images: ImageService, root: DataRoot, *,
                 docker_version: str = "", pauser: Pauser | None = None,
                 clock: Callable[[], float] = time.time) -> None:
        self.containers = containers
        self.images = images
        self.root = root
        self.docker_version = docker_version
        self.pauser = pauser
        self.clock = clock

    async def commit(self, request: CommitRequest) -> str:
        """The new image's ID (``sha256:...``)."""
        container = self.containers.get(request.container)
        live = self.containers.live(container.id)
        if live.removing or container.state.status == "removing":
            raise Conflict(f"You cannot commit container {container.id} which is being removed")
        if container.state.status == "dead":
            raise Conflict(f"You cannot commit container {container.id} which is Dead")
        config = self._config(container, request)  # bad changes fail before any work
        paused = request.pause and container.state.status == "running" and \
            self.pauser is not None  # dockerd: pause unless already paused
        if paused:
            assert self.pauser is not None
            await self.pauser(container.id, True)
        try:
            image_id, reference = await asyncio.to_thread(self._commit, container, config,
                                                          request)
        finally:
            if paused:
                assert self.pauser is not None
                with contextlib.suppress(DockyardError):
                    await self.pauser(container.id, False)
        self.containers._emit("commit", container, comment=request.comment,
                              imageID=str(image_id), imageRef=reference)
        return str(image_id)

    # -- the config ------------------------------------------------------------------------------

    def _config(self, container: Container, request: CommitRequest) -> DockerConfig:
        base = DockerConfig.from_json(request.config) if request.config else container.config
        if request.changes:
            changed = apply_changes(request.changes, to_image_config(base))
            base = from_image_config(base, changed)
        return merge(base, container.config)

    # -- the layer and the image -----------------------------------------------------------------

    def _commit(self, container: Container, config: DockerConfig,
                request: CommitRequest) -> tuple[Digest, str]:
        parent = self.images.get(container.image_id)
        parent_config = ImageConfig.from_json(self.root.content.read_bytes(parent.id))
        manifest = Manifest.from_json(self.root.content.read_bytes(parent.facts.manifest))
        with self.images.writing():
            blob = self._layer(container)
            empty = blob.diff_id == EMPTY_LAYER
            diff_ids = parent_config.diff_ids if empty else \
                (*parent_config.diff_ids, blob.diff_id)
            if not empty:
                self._unpack(container, blob, chain_ids(diff_ids)[-1])
            new = self._image_config(container, parent_config, config, request,
                                     None if empty else blob.diff_id)
            layers = [LayerBlob(d.digest, d.size, mt.layer_compression(d.media_type), diff_id)
                      for d, diff_id in zip(manifest.layers, parent_config.diff_ids,
                                            strict=True)]
            if not empty:
                layers.append(blob)
            image = write_image(self.root.content, new, layers)
            target = Target(image.manifest.media_type, image.manifest.digest,
                            image.manifest.size)
            if image.config not in self.images.catalog.images():
                self.root.images.set(f"{DANGLING_PREFIX}{image.manifest.digest}", target)
        reference = ""
        if request.repo:
            reference = self.images.tag(str(image.config), request.repo, request.tag)
        log.info("committed container %s as %s", container.id[:12], image.config)
        return image.config, reference

    def _layer(self, container: Container) -> LayerBlob:
        snapshotter = self.root.snapshotter
        upper = snapshotter.upper_dir(container.snapshot)
        ref = f"commit-{container.id[:12]}-{uuid.uuid4().hex[:12]}"
        with self.root.content.writer(ref) as writer:
            try:
                labels = None
                if snapshotter.whiteout_style == "overlay":
                    lowers = overlay_lowers(snapshotter.mounts(container.snapshot))
                    engine = changes.engine_paths(upper, lowers)
                    info = write_layer(Path(upper), writer,
                                       skip=lambda rel: changes.skipped(rel, engine))
                    labels = {LABEL_DIFF_SIZE: str(diff_size(upper))}
                else:
                    info = self._tree_layer(container, upper, writer)
                digest = writer.commit(labels=labels)
            except BaseException:
                with contextlib.suppress(DockyardError):
                    self.root.content.abort(ref)
                raise
        return LayerBlob(digest, info.size, "none", info.diff_id)

    def _tree_layer(self, container: Container, tree: str, writer: Any) -> Any:
        snapshotter = self.root.snapshotter
        parent = snapshotter.stat(container.snapshot).parent
        key = f"commit-lower-{container.id[:12]}-{uuid.uuid4().hex[:12]}"
        mounts = snapshotter.view(key, parent, {LABEL_EXTRACT: "commit lower"})
        try:
            return write_diff(Path(mounts[0].source), Path(tree), writer)
        finally:
            with contextlib.suppress(NotFound):
                snapshotter.remove(key)

    def _unpack(self, container: Container, blob: LayerBlob, chain: Digest) -> None:
        snapshotter = self.root.snapshotter
        if _exists(snapshotter, str(chain)):
            return
        parent = snapshotter.stat(container.snapshot).parent
        key = f"commit-{container.id[:12]}-{uuid.uuid4().hex[:12]}"
        snapshotter.prepare(key, parent, labels={LABEL_EXTRACT: str(blob.diff_id)})
        committed = False
        try:
            with self.root.content.open(blob.digest) as stream:
                result = apply_layer(stream, Path(snapshotter.upper_dir(key)),
                                     whiteouts=snapshotter.whiteout_style, name=str(blob.digest))
            if result.diff_id != blob.diff_id:
                raise DataCorrupt(f"commit of {container.id}: the layer reads back as "
                                  f"{result.diff_id}, not {blob.diff_id}")
            try:
                snapshotter.commit(str(chain), key)
                committed = True
            except AlreadyExists:
                log.debug("snapshot %s appeared meanwhile; sharing it", chain)
        finally:
            if not committed:
                snapshotter.remove(key)

    def _image_config(self, container: Container, parent: ImageConfig, config: DockerConfig,
                      request: CommitRequest, diff_id: Digest | None) -> ImageConfig:
        """``image.NewChildImage``'s config, its keys in dockerd's order (the configs are Go's
        ``container.Config``), encoded as Go encodes it."""
        created = format_time(int(self.clock() * 10**9))
        history = History(created=created, author=request.author,
                          created_by=" ".join(container.config.cmd or ()),
                          comment=request.comment, empty_layer=diff_id is None)
        diff_ids = parent.diff_ids if diff_id is None else (*parent.diff_ids, diff_id)
        document: dict[str, Any] = {
            "architecture": parent.architecture, "config": config.to_json(),
            "container": container.id, "container_config": container.config.to_json(),
            "created": created, "history": [h.to_dict() for h in (*parent.history, history)],
            "os": parent.os, "rootfs": RootFS(diff_ids=diff_ids).to_dict(),
        }
        if request.author:
            document["author"] = request.author
        if self.docker_version:
            document["docker_version"] = self.docker_version
        optional = (("variant", parent.variant), ("os.version", parent.os_version),
                    ("os.features", list(parent.os_features)))
        document.update((key, value) for key, value in optional if value)
        return ImageConfig.from_json(encode(dict(sorted(document.items()))))


def to_image_config(config: DockerConfig) -> ContainerConfig:
    """A container's ``Config`` as an image config's ``config`` (every field kept)."""
    data = {k: v for k, v in config.to_json().items() if v is not None}
    return ContainerConfig.from_fields(Fields(data, "container config"))


def from_image_config(docker: DockerConfig, image: ContainerConfig) -> DockerConfig:
    """``docker`` with the fields an image config holds taken from ``image``."""
    return replace(
        docker, user=image.user,
        exposed_ports={p: {} for p in image.exposed_ports} or docker.exposed_ports,
        env=tuple(image.env) if image.env or docker.env is not None else None,
        entrypoint=image.entrypoint, cmd=image.cmd,
        volumes={v: {} for v in image.volumes} or docker.volumes,
        working_dir=image.working_dir, labels=dict(image.labels),
        stop_signal=image.stop_signal, args_escaped=image.args_escaped,
        healthcheck=image.healthcheck.to_dict() if image.healthcheck else None,
        on_build=tuple(image.on_build) or (None if docker.on_build is None else ()),
        shell=tuple(image.shell) or None)


def merge(user: DockerConfig, base: DockerConfig) -> DockerConfig:
    """dockerd's ``merge``: what ``user`` leaves empty comes from ``base``."""
    env = list(user.env or ())
    for item in base.env or () if user.env else ():
        if not any(e.split("=", 1)[0] == item.split("=", 1)[0] for e in env):
            env.append(item)
    fields: dict[str, Any] = {
        "user": user.user or base.user,
        "exposed_ports": {**(base.exposed_ports or {}), **user.exposed_ports}
        if user.exposed_ports else base.exposed_ports,
        "env": tuple(env) if user.env else base.env,
        "labels": {**base.labels, **user.labels},
        "working_dir": user.working_dir or base.working_dir,
        "volumes": {**user.volumes, **(base.volumes or {})} if user.volumes else base.volumes,
        "stop_signal": user.stop_signal or base.stop_signal,
        "healthcheck": user.healthcheck if user.healthcheck is not None else base.healthcheck,
    }
    if not user.entrypoint:
        if not user.cmd:
            fields["cmd"] = base.cmd
            fields["args_escaped"] = base.args_escaped
        if user.entrypoint is None:
            fields["entrypoint"] = base.entrypoint
    return replace(user, **fields)


def parse_request(query: Mapping[str, Sequence[str]], body: Any) -> CommitRequest:
    """The query of ``POST /commit`` (and its body, a container config or nothing)."""
    def arg(name: str) -> str:
        values = query.get(name) or [""]
        return values[0]

    repo, tag = arg("repo"), arg("tag")
    if repo:
        reference = parse_reference(repo)
        if reference.digest is not None:
            raise InvalidArgument("refusing to create a tag with a digest reference")
        if tag:
            validate_tag(tag)
    pause_text = arg("pause")
    pause = pause_text.strip().lower() not in ("0", "false", "no", "none") \
        if pause_text else True  # API >= 1.13: pause unless told otherwise
    return CommitRequest(
        container=arg("container"), repo=repo, tag=tag, comment=arg("comment"),
        author=arg("author"), pause=pause, changes=tuple(query.get("changes") or ()),
        config=body if isinstance(body, Mapping) and body else None)


def _exists(snapshotter: Any, name: str) -> bool:
    try:
        snapshotter.stat(name)
    except NotFound:
        return False
    return True


def diff_size(upper: str) -> int:
    """dockerd's size of a layer (``pkg/directory.Size`` of its diff dir): file sizes, a
    hard-linked inode once, symlinks by their target's length, directories and whiteouts 0."""
    seen: set[tuple[int, int]] = set()
    total = 0
    for directory, dirs, files in os.walk(upper):
        for name in (*dirs, *files):
            try:
                st = os.lstat(os.path.join(directory, name))
            except OSError:
                continue
            if stat.S_ISCHR(st.st_mode) or stat.S_ISDIR(st.st_mode):
                continue
            if st.st_nlink > 1:
                if (st.st_dev, st.st_ino) in seen:
                    continue
                seen.add((st.st_dev, st.st_ino))
            total += st.st_size
    return total
