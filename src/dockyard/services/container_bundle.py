"""The blocking file-system work around a container's start and stop (worker threads).

Start: mount the container's snapshot on ``<exec-root>/containers/<id>/rootfs``, resolve its
user in the mounted root, write config.json, then (with :attr:`Bundles.network`) pin the network
namespace and attach it to the container's networks. Stop: unmount, unpin the network
namespace, release the network, remove the bundle. Nothing here talks to processes: the
spawner does that.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import json
import logging
import os
import shutil
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING

from dockyard.containers import etcfiles, netns, ocispec
from dockyard.containers.record import Container
from dockyard.containers.store import ContainerStore, write_atomic
from dockyard.containers.users import ExecUser, resolve
from dockyard.errors import DockyardError, NotFound, SystemCallError
from dockyard.mount import mount_all
from dockyard.snapshots import Snapshotter
from dockyard.sys import MNT_DETACH, Syscalls

if TYPE_CHECKING:
    from dockyard.services.container_network import ContainerNetworks
    from dockyard.services.container_volumes import ContainerVolumes

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Bundle:
    """Where a started container's files are."""

    directory: Path
    rootfs: Path
    netns: str            # the pinned namespace to create, "" for host networking
    seccomp_key: str = "" # names the seccomp profile of config.json (the spawner compiles
                          # each profile once)


class Bundles:
    def __init__(self, exec_root: Path, store: ContainerStore, snapshotter: Snapshotter,
                 syscalls: Syscalls) -> None:
        self.root = exec_root / "containers"
        self.netns_root = exec_root / "netns"
        self.root.mkdir(mode=0o711, parents=True, exist_ok=True)
        self.netns_root.mkdir(mode=0o755, parents=True, exist_ok=True)
        self.store = store
        self.snapshotter = snapshotter
        self.sys = syscalls
        self.network: ContainerNetworks | None = None  # set by the daemon's wiring
        self.volumes: ContainerVolumes | None = None  # set by the container service

    def bundle(self, container: Container) -> Bundle:
        directory = self.root / container.id
        # host: the host's namespace; none: a new one the runtime makes (nothing to set up)
        unpinned = container.host.host_network or container.host.network_mode == "none"
        pinned = "" if unpinned else str(self.netns_root / container.id)
        if self.network is not None:  # container:<ref> joins the other's namespace
            pinned = self.network.netns_path(container, pinned)
        return Bundle(directory, directory / "rootfs", pinned)

    def write_etc_files(self, container: Container) -> None:
        """hostname, hosts and resolv.conf in the container's directory (at create)."""
        host = container.host
        directory = self.store.dir(container.id)
        name = etcfiles.hostname(container.id, container.config.hostname, host.host_network)
        write_atomic(directory / "hostname", (name + "\n").encode(), 0o644)
        write_atomic(directory / "hosts",
                     etcfiles.hosts(host.extra_hosts, host.host_network).encode(), 0o644)
        write_atomic(directory / "resolv.conf",
                     etcfiles.resolv_conf(host.host_network, host.dns, host.dns_search,
                                          host.dns_options).encode(), 0o644)

    def hostname(self, container: Container) -> str:
        try:
            return (self.store.dir(container.id) / "hostname").read_text().strip()
        except FileNotFoundError:
            return etcfiles.hostname(container.id, container.config.hostname,
                                     container.host.host_network)

    def prepare(self, container: Container) -> Bundle:
        """Mount the root filesystem and write config.json; undone on failure."""
        bundle = self.bundle(container)
        self.cleanup(container)  # what a crash may have left
        bundle.directory.mkdir(mode=0o711)
        try:
            bundle.rootfs.mkdir(mode=0o755)
            mount_all(self.snapshotter.mounts(container.snapshot), str(bundle.rootfs), self.sys)
            user = self.user(container, bundle)
            directory = self.store.dir(container.id)
            paths = ocispec.Paths(rootfs=str(bundle.rootfs),
                                  hostname=str(directory / "hostname"),
                                  hosts=str(directory / "hosts"),
                                  resolv_conf=str(directory / "resolv.conf"), netns=bundle.netns)
            if self.volumes is not None:  # volumes with filesystems of their own mounted
                self.volumes.mount(container)
            spec = ocispec.build(container, user, paths, self.hostname(container))
            write_atomic(bundle.directory / "config.json",
                         json.dumps(spec, separators=(",", ":")).encode())
            if self.network is not None:  # the namespace pinned and attached: none to make
                bundle = self.network.setup(container, bundle)
        except BaseException:
            self.cleanup(container)
            raise
        seccomp = json.dumps(spec["linux"].get("seccomp"), sort_keys=True).encode()
        return replace(bundle, seccomp_key=hashlib.sha256(seccomp).hexdigest())

    def user(self, container: Container, bundle: Bundle | None = None,
             user: str | None = None) -> ExecUser:
        bundle = bundle or self.bundle(container)
        return resolve(str(bundle.rootfs), container.config.user if user is None else user,
                       container.host.group_add)

    def cleanup(self, container: Container) -> None:
        """Unmount, unpin, remove the bundle: after an exit or a failed start. Idempotent."""
        self.release(container)
        self.remove_rootfs(container.id)

    def release(self, container: Container) -> None:
        """What others may want at once: the volumes' own filesystems, the network namespace
        and the addresses and ports (the next container may take them). Idempotent."""
        if self.volumes is not None:
            self.volumes.unmount(container)
        if not container.host.host_network:  # its own namespace (not one it joined)
            netns.release(str(self.netns_root / container.id), self.sys)
        if self.network is not None:  # after the namespace: the kernel drops the veths
            self.network.release(container.id)

    def remove_rootfs(self, container_id: str) -> None:
        """Unmount the root filesystem and remove the bundle's directory. Idempotent."""
        directory = self.root / container_id
        rootfs = directory / "rootfs"
        if not directory.exists():
            return
        try:
            self.sys.umount(str(rootfs), MNT_DETACH)
        except SystemCallError as exc:
            if exc.errno not in (errno.EINVAL, errno.ENOENT):
                log.warning("unmounting %s: %s", rootfs, exc)
        with contextlib.suppress(OSError):
            os.rmdir(rootfs)
        if rootfs.exists():  # still mounted: never remove what is below
            log.warning("%s is still in use; leaving %s", rootfs, directory)
            return
        shutil.rmtree(directory, ignore_errors=True)

    def sweep(self, known: set[str]) -> list[str]:
        """Unmount and remove the bundles of containers that have no record any more (a
        removal that a crash cut short); their IDs."""
        swept = []
        for entry in self.root.iterdir():
            if entry.is_dir() and entry.name not in known:
                self.remove_rootfs(entry.name)
                swept.append(entry.name)
        return swept

    def remove_snapshot(self, container: Container) -> None:
        if not container.snapshot:
            return
        try:
            self.snapshotter.remove(container.snapshot)
        except NotFound:
            pass
        except DockyardError as exc:
            log.warning("removing snapshot %s of %s: %s", container.snapshot, container.id, exc)
