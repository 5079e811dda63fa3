"""The use cases of the engine, one module per Docker resource, with no HTTP in them.

:class:`Services` holds one object per resource; ``dockyard.daemon.wiring`` builds it explicitly
and ``dockyard.api.handlers`` read from it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # imported for annotations only: the package imports no service eagerly
    from dockyard.events import Events
    from dockyard.services.build import BuildService
    from dockyard.services.container_commit import Committer
    from dockyard.services.container_exec import ExecService
    from dockyard.services.container_files import ContainerFiles
    from dockyard.services.container_health import HealthMonitors
    from dockyard.services.container_io import ContainerIO
    from dockyard.services.container_pause import Pauser
    from dockyard.services.container_restart import RestartPolicies
    from dockyard.services.containers import ContainerService
    from dockyard.services.image_archive import ImageArchiveService
    from dockyard.services.image_distribution import DistributionService
    from dockyard.services.images import ImageService
    from dockyard.services.networks import NetworkService
    from dockyard.services.system import SystemService
    from dockyard.services.volumes import VolumeService


@dataclass(frozen=True, slots=True)
class Services:
    system: SystemService
    images: ImageService
    image_archives: ImageArchiveService
    distribution: DistributionService
    containers: ContainerService
    container_io: ContainerIO
    execs: ExecService
    volumes: VolumeService
    builds: BuildService
    events: Events
    networks: NetworkService
    container_files: ContainerFiles
    committer: Committer
    restarts: RestartPolicies
    health: HealthMonitors
    pauser: Pauser
