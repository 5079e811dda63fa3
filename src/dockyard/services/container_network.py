"""A container's networks: what it asked for, what it got, and the container service's hooks.

What it asked for is :mod:`dockyard.services.container_endpoints`' (networks.json beside its
record); what it got (endpoints, published ports) is the network layer's
(:class:`dockyard.network.manager.Networks`).

The container service calls:

- :meth:`ContainerNetworks.record` when a container is created (the file above);
- :meth:`ContainerNetworks.setup` when it starts, after its bundle is prepared and before its
  process exists: the namespace is pinned here (not in the spawner), the container is attached
  to each network it asked for and its ports are published, then /etc/hosts and
  /etc/resolv.conf are written as dockerd writes them; the spawner is told not to make a
  namespace (the returned bundle names none to make);
- :meth:`ContainerNetworks.release` from the bundle cleanup of every stop, failed start and
  removal, after the namespace is unpinned (the kernel then drops the veths by itself, without
  the 16-18 ms a veth deletion costs): ports, endpoints, addresses and DNS names go.

DNS as dockerd's: on a user network resolv.conf names the embedded DNS (the gateway), and
the container's ``--dns`` servers are the upstreams that DNS forwards its other queries to,
registered for its addresses at start, connect and disconnect, dropped at release.

A ``none`` container's namespace is the runtime's (nothing to attach: only its files are
written here); a ``container:`` one joins the other's pin or, for a ``none`` one, its
``/proc/<pid>/ns/net``.
"""

from __future__ import annotations

import ipaddress
import json
import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from dockyard.containers import etcfiles
from dockyard.containers.record import Container
from dockyard.containers.store import OLD, RECORD, ContainerStore
from dockyard.errors import (
    AlreadyExists,
    Conflict,
    DockyardError,
    InvalidArgument,
    NotFound,
)
from dockyard.events import Event, Events
from dockyard.network import netns
from dockyard.network.dns import DNS_PORT, DnsHub, Upstream
from dockyard.network.manager import Networks
from dockyard.network.store import Endpoint, Network
from dockyard.services.container_endpoints import (
    DEFAULT,
    EndpointConfig,
    endpoint_id,
    load_networks,
    network_kind,
    port_requests,
    save_networks,
)
from dockyard.sys import Syscalls

if TYPE_CHECKING:
    from dockyard.services.container_bundle import Bundle

log = logging.getLogger(__name__)

REQUESTED_CACHE = 4096  # containers whose parsed networks.json is kept


class ContainerNetworks:
    """The network side of containers: records, start, release, connect and inspect."""

    def __init__(
        self, networks: Networks, store: ContainerStore, netns_root: Path, syscalls: Syscalls,
        *, lookup: Callable[[str], Container], dns: Sequence[str] = (),
        host_files: tuple[Path, Path] = (etcfiles.HOST_HOSTS, etcfiles.HOST_RESOLV),
        resolver: DnsHub | None = None,
    ) -> None:
        self.networks = networks
        self.store = store
        self.netns_root = netns_root
        self.sys = syscalls
        self.lookup = lookup
        self.dns = tuple(dns)
        self.host_hosts, self.host_resolv = host_files
        self.events: Events | None = None  # network connect/disconnect events, when set
        self.resolver = resolver
        self._requested: dict[str, dict[str, EndpointConfig]] = {}
        self._restore_upstreams()

    def emit(self, action: str, network_id: str, container_id: str = "") -> None:
        """A network event as dockerd sends it (``connect``/``disconnect`` name the container;
        ``create``/``destroy`` do not)."""
        if self.events is None:
            return
        network = self.find(network_id)
        attributes = {"name": network.name if network is not None else network_id,
                      "type": "bridge"}
        if container_id:
            attributes["container"] = container_id
        self.events.publish(Event("network", action, network_id, attributes))

    # -- what a container asked for ------------------------------------------------------------

    def requested(self, container: Container) -> dict[str, EndpointConfig]:
        """Network name (as asked) -> its endpoint config, the primary network first.

        Every list asks this of every container (compose lists a few dozen times per up), so
        the parsed file is kept: the file is written at create (a new id, not kept yet) and
        otherwise only through :meth:`_save`, which keeps what it writes."""
        cached = self._requested.get(container.id)
        if cached is None:
            cached = load_networks(self.store.dir(container.id), container.host.network_mode)
            self._keep(container.id, cached)
        return dict(cached)

    def _save(self, container_id: str, wanted: Mapping[str, EndpointConfig]) -> None:
        save_networks(self.store.dir(container_id), wanted)
        self._keep(container_id, dict(wanted))

    def _keep(self, container_id: str, wanted: dict[str, EndpointConfig]) -> None:
        if len(self._requested) >= REQUESTED_CACHE:
            self._requested.clear()
        self._requested[container_id] = wanted

    def find(self, name: str) -> Network | None:
        try:
            return self.networks.get(name)
        except (NotFound, Conflict):
            return None

    # -- start and stop ------------------------------------------------------------------------

    def netns_path(self, container: Container, own: str) -> str:
        """The namespace a container's config.json names: its own (``own``), or for
        ``container:<ref>`` the other container's."""
        if network_kind(container.host.network_mode) != "container":
            return own
        try:
            return self.namespace_file(self.lookup(container.host.network_mode[10:]))
        except NotFound:
            return own

    def namespace_file(self, container: Container) -> str:
        """The file of a running container's network namespace: the daemon's pin, or, for a
        ``none`` container (whose runtime makes the namespace: nothing to set up, nothing to
        unpin at exit), its process's ``/proc/<pid>/ns/net``; "" if it has none."""
        pinned = self.netns_root / container.id
        if pinned.exists():
            return str(pinned)
        if network_kind(container.host.network_mode) == "none" and container.state.pid:
            return f"/proc/{container.state.pid}/ns/net"
        return ""

    def joined_container(self, container: Container) -> Container:
        """The running container whose namespace a ``container:<ref>`` container joins."""
        ref = container.host.network_mode[10:]
        other = self.lookup(ref)
        if other.id == container.id:
            raise InvalidArgument("cannot join own network")
        if not other.state.running or not self.namespace_file(other):
            raise Conflict(f"cannot join network of a non running container: {other.id}")
        return other

    def setup(self, container: Container, bundle: Bundle) -> Bundle:
        """Pin the namespace, attach, publish, write hosts and resolv.conf (start)."""
        kind = network_kind(container.host.network_mode)
        if kind == "none":  # the runtime makes its namespace and brings up its loopback
            self.write_files(container)
            return bundle
        if kind == "host" or not bundle.netns:
            return bundle
        if kind == "container":
            self._share_files(container, self.joined_container(container))
            return replace(bundle, netns="")
        netns.create(bundle.netns, self.sys)
        try:
            if kind == "none":
                self.networks.loopback(bundle.netns)
            else:
                self._attach_all(container, bundle.netns)
            self.write_files(container)
            self.set_upstreams(container)
        except BaseException:
            netns.remove(bundle.netns, self.sys)
            self._release(container.id)
            raise
        return replace(bundle, netns="")

    def _attach_all(self, container: Container, path: str) -> None:
        wanted = self.requested(container)
        resolved: dict[str, EndpointConfig] = {}
        for name, config in wanted.items():
            network = self.networks.get(name)  # NotFound: "network x not found"
            endpoint = self._attach(container, path, network, config)
            self.emit("connect", network.id, container.id)
            resolved[name] = replace(config, network_id=network.id)
            log.debug("container %s: %s on %s", container.short_id, endpoint.address,
                      network.name)
        requests = port_requests(container)
        if requests:
            try:
                self.networks.publish(container.id, requests)
            except Conflict as exc:
                raise Conflict(f"driver failed programming external connectivity on endpoint "
                               f"{container.name.lstrip('/')} "
                               f"({endpoint_id(container.id, resolved)}): {exc}") from exc
        if resolved != wanted:
            self._save(container.id, resolved)

    def _attach(self, container: Container, path: str, network: Network,
                config: EndpointConfig) -> Endpoint:
        aliases = list(config.aliases)
        if not network.default and container.short_id not in aliases:
            aliases.append(container.short_id)  # dockerd's alias on user networks
        ip = ipaddress.IPv4Address(config.ipv4) if config.ipv4 else None
        if network.default and aliases:
            raise InvalidArgument("network-scoped alias is supported only for containers in "
                                  "user defined networks")
        return self.networks.attach(container.id, path, network.id,
                                    name=container.name.lstrip("/"), aliases=aliases, ip=ip)

    def release(self, container_id: str) -> None:
        """Everything the container held on its networks (its namespace is gone already)."""
        for endpoint in self._release(container_id):
            self.emit("disconnect", endpoint.network_id, container_id)

    def _release(self, container_id: str) -> list[Endpoint]:
        held = self.networks.endpoints(container_id)
        self.networks.release(container_id)
        self._drop_upstreams([str(e.ip) for e in held])
        return held

    # -- connect and disconnect ----------------------------------------------------------------

    def connect(self, container: Container, network: Network, config: EndpointConfig) -> None:
        """``network connect``: recorded; attached at once when the container runs."""
        kind = network_kind(container.host.network_mode)
        if kind == "host":
            raise InvalidArgument("container cannot be disconnected from host network or "
                                  "connected to host network")
        if kind in ("none", "container"):
            raise InvalidArgument("container sharing network namespace with another container "
                                  "or host cannot be connected to any other network"
                                  if kind == "container" else
                                  "container cannot be connected to multiple networks with one "
                                  "of the networks in private (none) mode")
        wanted = self.requested(container)
        name = self._key(wanted, network)
        if name is not None and container.state.running:
            raise AlreadyExists(f"endpoint with name {container.name.lstrip('/')} already "
                                f"exists in network {network.name}")
        if network.default and (config.aliases or config.ipv4):
            raise InvalidArgument("network-scoped alias is supported only for containers in "
                                  "user defined networks" if config.aliases else
                                  "user specified IP address is supported on user defined "
                                  "networks only")
        config = replace(config, network_id=network.id)
        if container.state.running:
            self._attach(container, str(self.netns_root / container.id), network, config)
            self.set_upstreams(container)
            self.emit("connect", network.id, container.id)
        wanted.pop(name or network.name, None)
        wanted[network.name] = config
        self._save(container.id, wanted)
        if container.state.running:
            self.write_files(container)

    def disconnect(self, container: Container, network: Network, *, force: bool = False) -> None:
        """``network disconnect``: forgotten; detached at once when the container runs."""
        kind = network_kind(container.host.network_mode)
        if kind == "host" and network.name == "host":
            raise InvalidArgument("container cannot be disconnected from host network or "
                                  "connected to host network")
        wanted = self.requested(container)
        name = self._key(wanted, network)
        attached = container.state.running and any(
            e.network_id == network.id for e in self.networks.endpoints(container.id))
        if name is None and not attached and not force:
            raise InvalidArgument(f"container {container.id} is not connected to network "
                                  f"{network.name}")
        if attached:
            gone = [str(e.ip) for e in self.networks.endpoints(container.id)
                    if e.network_id == network.id]
            self.networks.detach(container.id, network.id)
            self._drop_upstreams(gone)
            self.emit("disconnect", network.id, container.id)
        if name is not None:
            del wanted[name]
            self._save(container.id, wanted)
        if attached:
            self.write_files(container)

    def _key(self, wanted: Mapping[str, EndpointConfig], network: Network) -> str | None:
        """The name under which ``network`` appears in a container's requested networks."""
        for name, config in wanted.items():
            if network.id in (config.network_id, name) or name == network.name:
                return name
        return None

    # -- /etc/hosts and /etc/resolv.conf -------------------------------------------------------

    def write_files(self, container: Container) -> None:
        """hosts and resolv.conf as dockerd writes them for the attached endpoints (rewritten in
        place: a running container has them bind-mounted)."""
        directory = self.store.dir(container.id)
        _write_in_place(directory / "hosts", self.hosts(container).encode())
        _write_in_place(directory / "resolv.conf", self.resolv_conf(container).encode())

    def hosts(self, container: Container) -> str:
        host = container.host
        extra = [self._host_gateway(entry) for entry in host.extra_hosts]
        text = etcfiles.hosts(extra, False, host_file=self.host_hosts)
        hostname = self._hostname(container)
        fqdn = f"{hostname}.{container.config.domainname}" if container.config.domainname \
            else hostname
        names = f"{fqdn} {fqdn.split('.', 1)[0]}" if "." in fqdn else fqdn
        for endpoint in self.networks.endpoints(container.id):
            text += f"{endpoint.ip}\t{names}\n"
        return text

    def _host_gateway(self, entry: str) -> str:
        name, sep, address = entry.partition(":")
        if address != "host-gateway":
            return entry
        return f"{name}{sep}{self.networks.get(DEFAULT).pool.gateway}"

    def _hostname(self, container: Container) -> str:
        try:
            return (self.store.dir(container.id) / "hostname").read_text().strip()
        except OSError:
            return container.config.hostname or container.short_id

    def resolv_conf(self, container: Container) -> str:
        host = container.host
        dns = host.dns or self.dns
        nameserver = self.networks.nameserver(container.id)
        if nameserver is not None:  # the embedded DNS of its first user network
            text = etcfiles.embedded_resolv_conf(str(nameserver), dns, host.dns_search,
                                                 host.dns_options, self.host_resolv)
            if text is not None:
                return text
            log.error("container %s: an ndots option is invalid: it does not use the embedded "
                      "dns", container.short_id)
        return etcfiles.resolv_conf(False, dns, host.dns_search, host.dns_options,
                                    self.host_resolv)

    # -- the embedded DNS's upstreams ----------------------------------------------------------

    def set_upstreams(self, container: Container) -> None:
        """Point the embedded DNS at the container's own ``--dns`` servers for each of its
        addresses (or back at the hub's when it has none: an address may have been another
        container's)."""
        if self.resolver is None:
            return
        upstreams = container_upstreams(container.host.dns)
        for endpoint in self.networks.endpoints(container.id):
            self.resolver.set_upstreams(str(endpoint.ip), upstreams)

    def _drop_upstreams(self, addresses: Sequence[str]) -> None:
        if self.resolver is not None:
            for address in addresses:
                self.resolver.set_upstreams(address, None)

    def _restore_upstreams(self) -> None:
        """At daemon start: the upstreams of the containers that kept their endpoints (read
        from their records: the container service loads them later)."""
        if self.resolver is None:
            return
        holders = {e.container_id for network in self.networks.networks()
                   if not network.default for e in self.networks.network_endpoints(network.id)}
        for container_id in sorted(holders):
            directory = self.store.dir(container_id)
            path = directory / RECORD if (directory / RECORD).exists() else directory / OLD
            try:
                container = Container.from_json(json.loads(path.read_bytes()))
            except (OSError, ValueError, DockyardError) as exc:
                log.warning("container %s: no upstreams restored: %s", container_id[:12], exc)
                continue
            if container.host.dns:
                self.set_upstreams(container)

    def _share_files(self, container: Container, other: Container) -> None:
        """A ``container:`` container sees the hosts and resolv.conf of the one it joins."""
        source, target = self.store.dir(other.id), self.store.dir(container.id)
        for name in ("hosts", "resolv.conf"):
            try:
                _write_in_place(target / name, (source / name).read_bytes())
            except FileNotFoundError:
                continue

    # -- inspect and ps (container_network_views) -----------------------------------------------

    def settings(self, container: Container) -> dict[str, Any]:
        """``NetworkSettings`` of ``GET /containers/{id}/json``."""
        from dockyard.services import container_network_views as views

        return views.settings(self, container)

    def summary(self, container: Container) -> tuple[list[dict[str, Any]], dict[str, Any]]:
        """``Ports`` and ``NetworkSettings.Networks`` of a ``GET /containers/json`` item."""
        from dockyard.services import container_network_views as views

        return views.summary(self, container)


def container_upstreams(dns: Sequence[str]) -> tuple[Upstream, ...] | None:
    """Where the embedded DNS forwards a container's queries: its own ``--dns`` servers (the
    IPv4 ones: the hub asks upstreams over IPv4; with only IPv6 ones, nowhere), or None for the
    hub's upstreams."""
    if not dns:
        return None
    return tuple((server, DNS_PORT) for server in etcfiles.upstreams(dns))


def _write_in_place(path: Path, data: bytes) -> None:
    """Replace a file's content keeping its inode (bind mounts of it see the change)."""
    with open(path, "r+b" if path.exists() else "wb") as out:
        out.write(data)
        out.truncate()

