"""Everything the daemon serves, built explicitly: services from the data root, then the routes.

No module registers itself on import; a new resource is one more line in ``build_services`` and
one more ``routes`` call in ``build_router``.
"""

from __future__ import annotations

import hashlib
import ipaddress
import os
import platform
import time
import uuid
from contextlib import suppress
from pathlib import Path

import dockyard
from dockyard.api.handlers import build as build_handlers
from dockyard.api.handlers import commit as commit_handlers
from dockyard.api.handlers import container_files as container_file_handlers
from dockyard.api.handlers import container_manage as container_manage_handlers
from dockyard.api.handlers import container_stats as container_stats_handlers
from dockyard.api.handlers import containers as container_handlers
from dockyard.api.handlers import events as event_handlers
from dockyard.api.handlers import exec as exec_handlers
from dockyard.api.handlers import image_archive as image_archive_handlers
from dockyard.api.handlers import image_distribution as distribution_handlers
from dockyard.api.handlers import images as image_handlers
from dockyard.api.handlers import networks as network_handlers
from dockyard.api.handlers import system as system_handlers
from dockyard.api.handlers import volumes as volume_handlers
from dockyard.api.router import Route, Router
from dockyard.containers import monitor
from dockyard.containers.spawnclient import SpawnerClient, runtime_binaries
from dockyard.daemon.config import DEFAULT_EXEC_ROOT, RUNTIMES, Config
from dockyard.errors import NotFound
from dockyard.events import Events
from dockyard.network.dns import DNS_PORT, DnsHub
from dockyard.network.manager import Networks
from dockyard.network.manager import Settings as NetworkSettings
from dockyard.oci.platform import Platform
from dockyard.registry.auth import Credentials
from dockyard.registry.endpoints import RegistrySettings
from dockyard.services import Services
from dockyard.services.build import BuildService
from dockyard.services.build_executor import RuntimeExecutor, runtime_command
from dockyard.services.container_commit import Committer
from dockyard.services.container_events import ContainerEvents
from dockyard.services.container_exec import ExecService
from dockyard.services.container_files import ContainerFiles
from dockyard.services.container_health import HealthMonitors
from dockyard.services.container_io import ContainerIO
from dockyard.services.container_network import ContainerNetworks
from dockyard.services.container_pause import Pauser
from dockyard.services.container_restart import RestartPolicies
from dockyard.services.containers import ContainerService
from dockyard.services.image_archive import ImageArchiveService
from dockyard.services.image_distribution import DistributionService, Emit
from dockyard.services.image_events import ImageEvents
from dockyard.services.images import ImageService
from dockyard.services.networks import NetworkService
from dockyard.services.system import Build, Settings, SystemService
from dockyard.services.volumes import VolumeService
from dockyard.store import DataRoot
from dockyard.sys import Syscalls, real
from dockyard.volumes import VolumeStore

ENGINE_ID_FILE = "engine-id"
#: Default bridges of daemons on other exec roots: /24s of 10.92.0.0/14, not the handful of
#: /16s the main daemon picks from, so many daemons side by side never run out.
TAGGED_DEFAULT_SUBNETS = tuple(ipaddress.IPv4Network("10.92.0.0/14").subnets(new_prefix=24))


def build_services(config: Config, root: DataRoot, syscalls: Syscalls) -> Services:
    settings = Settings(
        engine_id=engine_id(config.data_root),
        data_root=config.data_root,
        exec_root=config.exec_root,
        driver=root.snapshotter_name,
        debug=config.debug,
    )
    images = ImageService(root)
    registries = RegistrySettings(config.insecure_registries, config.registry_mirrors)
    volumes = VolumeService(VolumeStore(config.data_root / "volumes", real()))
    events = Events()
    containers = build_containers(config, root, images, syscalls, volumes.store)
    containers.events = ContainerEvents(events)
    images.on_event = ImageEvents(events, images)
    execs = ExecService(containers)
    restarts = RestartPolicies(containers)
    health = HealthMonitors(containers, execs)
    health.attach()
    pauser = Pauser(containers, config.exec_root, containers.spawner.runtimes)
    files = ContainerFiles(containers, syscalls, config.exec_root / "copies")
    files.recover()
    networks = build_networks(config, containers, syscalls)
    networks.attached.events = events
    distribution = DistributionService(root, images, registries)
    builds = build_builds(config, root, images, distribution, syscalls)
    return Services(
        system=SystemService(build_facts(), settings, images, volumes=volumes, builds=builds),
        images=images,
        image_archives=ImageArchiveService(root, images),
        distribution=distribution,
        containers=containers,
        container_io=ContainerIO(containers),
        execs=execs,
        volumes=volumes,
        builds=builds,
        events=events,
        networks=networks,
        container_files=files,
        restarts=restarts,
        health=health,
        committer=Committer(containers, images, root, docker_version=dockyard.__version__,
                            pauser=pauser.set),
        pauser=pauser,
    )


def build_builds(config: Config, root: DataRoot, images: ImageService,
                 distribution: DistributionService, syscalls: Syscalls) -> BuildService:
    """The build service (FROM images pulled by the distribution service, RUN steps in
    containers of the default runtime), recovered from a crash, its cache held by garbage
    collection beside what containers hold."""
    def pull(name: str, credentials: Credentials, emit: Emit, platform: Platform) -> None:
        distribution.pull(name, "", credentials, emit, platform=str(platform))

    binaries = runtime_binaries([name for name in RUNTIMES if name != "dockyard"])
    executor = RuntimeExecutor(config.exec_root, syscalls,
                               runtime_command(config.default_runtime, binaries))
    executor.recover()
    builds = BuildService(root, images, syscalls, pull=pull, executor=executor,
                          docker_version=dockyard.__version__)
    builds.recover()
    images.add_gc_roots(builds.gc_roots)
    return builds


def build_containers(config: Config, root: DataRoot, images: ImageService,
                     syscalls: Syscalls, volumes: VolumeStore | None = None) -> ContainerService:
    """The container service, its spawner (started now: it warms up meanwhile), and its
    links into the image service (containers keep their images and snapshots)."""
    binaries = runtime_binaries([name for name in RUNTIMES if name != "dockyard"])
    if config.default_runtime != "dockyard" and config.default_runtime not in binaries:
        raise NotFound(f"default runtime {config.default_runtime} is not installed")
    spawner = SpawnerClient(config.exec_root, monitor.binary(), binaries,
                            debug=bool(os.environ.get("DOCKYARD_SPAWNER_DEBUG")))
    spawner.launch()
    containers = ContainerService(
        root, images, config.exec_root, spawner, syscalls,
        default_runtime=config.default_runtime, runtimes=("dockyard", *binaries),
        volumes=volumes)
    images.containers = containers
    images.add_gc_roots(containers.gc_roots)
    return containers


def build_networks(config: Config, containers: ContainerService,
                   syscalls: Syscalls) -> NetworkService:
    """The networks, opened now (table, default bridge, user networks, DNS listeners), and the
    container service's hook that attaches containers to them at start."""
    upstreams = [(server, DNS_PORT) for server in config.dns if ":" not in server]  # IPv4
    dns = DnsHub(upstreams or None)
    manager = Networks(config.data_root / "network", config.exec_root / "network", syscalls,
                       dns=dns, settings=network_settings(config))
    try:
        manager.open()
    except BaseException:
        with suppress(Exception):  # what open() made before it failed (the table...)
            manager.dismantle()
        manager.close()
        dns.close()
        raise
    attached = ContainerNetworks(manager, containers.store, containers.bundles.netns_root,
                                 syscalls, lookup=containers.get, dns=config.dns,
                                 resolver=dns)
    containers.bundles.network = attached
    return NetworkService(manager, attached, config.data_root / "network", containers.all, dns)


def network_settings(config: Config) -> NetworkSettings:
    """Kernel names of this daemon's networks. The default exec root gets ``dockyard0``,
    ``dy-<id>`` bridges and the ``dockyard`` table; a daemon on another exec root (tests,
    benchmarks, a second engine) gets names tagged by it, so daemons side by side never take
    each other's bridges or rules for strays."""
    if config.exec_root == DEFAULT_EXEC_ROOT:
        return NetworkSettings(ip_forward=config.ip_forward)
    tag = hashlib.sha256(str(config.exec_root).encode()).hexdigest()[:4]
    return NetworkSettings(table=f"dockyard_{tag}", default_bridge=f"dy{tag}0",
                           bridge_prefix=f"dy{tag}-", ip_forward=config.ip_forward,
                           default_subnets=TAGGED_DEFAULT_SUBNETS)


def build_router(services: Services) -> Router:
    routes: list[Route] = []
    routes += system_handlers.routes(services)
    routes += image_handlers.routes(services, pull=distribution_handlers.pull_handler(services))
    routes += distribution_handlers.routes(services)
    routes += image_archive_handlers.routes(services)
    routes += volume_handlers.routes(services)
    routes += container_handlers.routes(services)
    routes += exec_handlers.routes(services)
    routes += build_handlers.routes(services)
    routes += network_handlers.routes(services)
    routes += event_handlers.routes(services)
    routes += container_file_handlers.routes(services)
    routes += container_manage_handlers.routes(services)
    routes += container_stats_handlers.routes(services)
    routes += commit_handlers.routes(services)
    return Router(routes)


def default_headers(build: Build) -> dict[str, str]:
    """Headers dockerd puts on every response."""
    return {
        "Api-Version": "1.41",
        "Docker-Experimental": "false",
        "Ostype": "linux",
        "Server": f"Docker/{build.version} (linux)",
    }


def engine_id(data_root: Path) -> str:
    """This engine's ID (``docker info`` ID): a UUID made once and kept in the data root."""
    path = data_root / ENGINE_ID_FILE
    with suppress(FileNotFoundError):
        text = path.read_text().strip()
        if text:
            return text
    value = str(uuid.uuid4())
    temp = path.with_name(f".{ENGINE_ID_FILE}.{os.getpid()}.tmp")
    temp.write_text(value + "\n")
    os.replace(temp, path)
    return value


def build_facts() -> Build:
    package = Path(dockyard.__file__).parent
    stamp = time.gmtime((package / "__init__.py").stat().st_mtime)
    return Build(
        version=dockyard.__version__,
        git_commit=git_commit(package.parent.parent / ".git"),
        build_time=time.strftime("%Y-%m-%dT%H:%M:%S.000000000+00:00", stamp),
        python_version=f"python{platform.python_version()}",
    )


def git_commit(git_dir: Path) -> str:
    """The short commit of a source checkout, read from .git without running git."""
    try:
        head = (git_dir / "HEAD").read_text().strip()
        if not head.startswith("ref: "):
            return head[:7]
        ref = head.removeprefix("ref: ")
        loose = git_dir / ref
        if loose.is_file():
            return loose.read_text().strip()[:7]
        for line in (git_dir / "packed-refs").read_text().splitlines():
            commit, _, name = line.partition(" ")
            if name == ref:
                return commit[:7]
    except OSError:
        pass
    return "unknown"
