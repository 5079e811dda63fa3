"""The image config each build step commits, as dockerd's ``image.NewChildImage`` writes it.

A child config keeps its parent's platform (architecture, os, variant, os.version,
os.features), history and layers, adds one history entry and, for a step that changed files,
one diffID. It gets the step's container config, its author, a creation time and, as dockerd
writes them, ``container`` (the step's container ID, none for COPY/ADD), ``container_config``
(the container's config, whose ``Cmd`` is the history line) and ``docker_version``. Other
fields of the parent do not carry over.

With SOURCE_DATE_EPOCH the creation times are the epoch and the container-specific fields are
left out, so that the same steps give the same config bytes, hence the same image ID.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from typing import Any

from dockyard.build.gofmt import rfc3339_nano
from dockyard.oci.config import ContainerConfig, History, ImageConfig, RootFS
from dockyard.oci.digest import Digest
from dockyard.oci.platform import Platform

EMPTY_LAYER = Digest("sha256", "5f70bf18a086007016e948b04aed3b82103a36bea41755b6cddfaf10ace3c6ef")
"""The diffID of an empty tar (1024 zero bytes): a step whose diff is this adds no layer."""


@dataclass(frozen=True, slots=True)
class Stamp:
    """When and by what a build commits: the clock (ns), SOURCE_DATE_EPOCH (None when unset)
    and the version written as ``docker_version``."""

    now_ns: int
    epoch: int | None = None
    docker_version: str = ""

    @property
    def reproducible(self) -> bool:
        return self.epoch is not None

    def created(self) -> str:
        if self.epoch is not None:
            return rfc3339_nano(self.epoch * 1_000_000_000)
        return rfc3339_nano(self.now_ns)


@dataclass(frozen=True, slots=True)
class Step:
    """What one step commits: its history ``command`` (the container's Cmd), the resulting
    container config, the layer's diffID (None when the step changed no file), the author, and
    the container it ran in ("" for COPY and ADD)."""

    command: tuple[str, ...]
    config: ContainerConfig
    diff_id: Digest | None = None
    author: str = ""
    container_id: str = ""
    container_config: ContainerConfig = field(default_factory=ContainerConfig)


def container_id() -> str:
    """A new 64-hex container ID, as dockerd names the container of a step."""
    return secrets.token_hex(32)


def base_config(platform: Platform, config: ContainerConfig | None = None) -> ImageConfig:
    """The config of ``FROM scratch``: no layer, no history."""
    return ImageConfig(architecture=platform.architecture, os=platform.os,
                       variant=platform.variant, config=config or ContainerConfig())


def child(parent: ImageConfig, parent_id: str, step: Step, stamp: Stamp) -> ImageConfig:
    """The config of the image a step makes on ``parent`` (whose ID is ``parent_id``)."""
    created = stamp.created()
    empty = step.diff_id is None
    history = History(created=created, created_by=" ".join(step.command), author=step.author,
                      empty_layer=empty)
    diff_ids = parent.diff_ids if empty else (*parent.diff_ids, step.diff_id)
    extra: dict[str, Any] = {}
    if not stamp.reproducible:
        if step.container_id:
            extra["container"] = step.container_id
        extra["container_config"] = go_container_config(
            step.container_config, step.command, parent_id, step.container_id[:12])
        if stamp.docker_version:
            extra["docker_version"] = stamp.docker_version
    return ImageConfig(
        architecture=parent.architecture, os=parent.os, variant=parent.variant,
        os_version=parent.os_version, os_features=parent.os_features,
        rootfs=RootFS(diff_ids=tuple(d for d in diff_ids if d is not None)),
        config=step.config, history=(*parent.history, history), created=created,
        author=step.author, extra=extra,
    )


def go_container_config(config: ContainerConfig, command: tuple[str, ...], image: str,
                        hostname: str) -> dict[str, Any]:
    """A step container's ``container.Config`` in Go's field order, as dockerd stores it."""
    out: dict[str, Any] = {
        "Hostname": hostname, "Domainname": "", "User": config.user,
        "AttachStdin": False, "AttachStdout": False, "AttachStderr": False,
    }
    if config.exposed_ports:
        out["ExposedPorts"] = {port: {} for port in config.exposed_ports}
    out.update(Tty=False, OpenStdin=False, StdinOnce=False,
               Env=list(config.env) or None, Cmd=list(command))
    if config.healthcheck is not None:
        out["Healthcheck"] = config.healthcheck.to_dict()
    out.update(
        Image=image,
        Volumes={v: {} for v in config.volumes} or None,
        WorkingDir=config.working_dir,
        Entrypoint=None if config.entrypoint is None else list(config.entrypoint),
        OnBuild=list(config.on_build) or None,
        Labels=dict(sorted(config.labels.items())) if hostname or config.labels else None,
    )
    if config.stop_signal:
        out["StopSignal"] = config.stop_signal
    if config.shell:
        out["Shell"] = list(config.shell)
    return out


def image_config(data: bytes) -> ImageConfig:
    """A config read back (from the cache or the content store)."""
    return ImageConfig.from_json(data)
