"""``POST /containers/create``: the request body to a stored container (blocking; a worker
thread runs it). Order: check the options, find the image, merge its config, then make the
container's directory, its snapshot, its /etc files and last its record; a failure removes
what was made, so nothing is left half-created."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

from dockyard.containers import etcfiles
from dockyard.containers.config import ContainerConfig, HostConfig, MountSpec, parse_host_config
from dockyard.containers.health import check_healthcheck
from dockyard.containers.record import Container, format_time
from dockyard.containers.store import ContainerStore
from dockyard.errors import InvalidArgument
from dockyard.services.container_bundle import Bundles
from dockyard.services.container_endpoints import (
    EndpointConfig,
    requested_networks,
    save_networks,
)
from dockyard.services.container_volumes import ContainerVolumes
from dockyard.services.images import ImageService

log = logging.getLogger(__name__)

LABEL_CONTAINER = "dockyard/container"


@dataclass(frozen=True, slots=True)
class Request:
    """A create body, parsed and checked, before the image is looked at."""

    config: ContainerConfig
    host: HostConfig
    networks: Mapping[str, EndpointConfig]  # NetworkMode's and NetworkingConfig's

    @classmethod
    def parse(cls, body: Any, *, default_runtime: str, runtimes: Sequence[str]) -> Request:
        if not isinstance(body, Mapping):
            raise InvalidArgument("invalid JSON: the body must be an object")
        config = ContainerConfig.from_json(body)
        if not config.image:
            raise InvalidArgument("Config.Image: an image name is required")
        check_healthcheck(config.healthcheck)
        host = parse_host_config(body.get("HostConfig") or {}, default_runtime=default_runtime,
                                 runtimes=runtimes)
        networking = body.get("NetworkingConfig") or {}
        endpoints = networking.get("EndpointsConfig") if isinstance(networking, Mapping) else None
        return cls(config, host, requested_networks(host.network_mode, endpoints, host.echo))


class Creator:
    def __init__(self, images: ImageService, store: ContainerStore, bundles: Bundles,
                 clock: Callable[[], float] = time.time) -> None:
        self.images = images
        self.store = store
        self.bundles = bundles
        self.clock = clock
        self.volumes: ContainerVolumes | None = None  # set by the container service

    def create(self, container_id: str, name: str, request: Request,
               inherit: Sequence[MountSpec] = ()) -> Container:
        """``inherit``: the mounts of its ``--volumes-from`` containers."""
        image, _ = self.images.find(request.config.image)
        image_config = image.facts.config.get("config") or {}
        config = request.config.with_image_defaults(image_config)
        config.command()  # "No command specified"
        config = replace(config, hostname=etcfiles.hostname(
            container_id, config.hostname, request.host.host_network))
        container = Container(
            id=container_id, name=name, created=format_time(int(self.clock() * 10**9)),
            image_id=str(image.id), config=config, host=request.host, snapshot=container_id)
        chains = image.facts.chain_ids
        with self.images.writing():  # no garbage collection between the snapshot and the record
            self.store.create_dir(container_id)
            try:
                self.bundles.snapshotter.prepare(
                    container_id, str(chains[-1]) if chains else "",
                    {LABEL_CONTAINER: container_id})
                self.bundles.write_etc_files(container)
                if self.volumes is not None:  # named, made, referenced, filled
                    container = self.volumes.attach(container, inherit, self.bundles)
                save_networks(self.store.dir(container_id), request.networks)
                self.store.save(container)
            except BaseException:
                if self.volumes is not None:
                    self.volumes.detach(container, remove_anonymous=True)
                self.bundles.remove_snapshot(container)
                self.store.delete(container_id)
                raise
        log.info("created container %s (%s) from %s", container_id[:12], name, image.id)
        return container
