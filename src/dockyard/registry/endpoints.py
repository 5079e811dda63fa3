"""Which URLs serve a registry domain, in the order dockerd tries them.

* ``docker.io``: the configured mirrors first (pulls only; ``--registry-mirror``), then
  ``https://registry-1.docker.io``;
* any other domain: ``https://<domain>``, then, for an *insecure* registry, plain
  ``http://<domain>`` (and the https attempt does not check the certificate).

Insecure are ``localhost``, the loopback networks 127.0.0.0/8 and ::1, and what
``--insecure-registry`` names: a ``host[:port]`` or a CIDR network (dockerd's
``insecure-registries``). Each endpoint is pinged in turn and the first that answers is used
(:func:`first_answer`); when none does, the error is the last endpoint's, as dockerd reports it.
"""

from __future__ import annotations

import ipaddress
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TypeVar
from urllib.parse import urlsplit

from dockyard.errors import DockyardError, InvalidArgument
from dockyard.oci.reference import DEFAULT_DOMAIN
from dockyard.registry.auth import Credentials
from dockyard.registry.client import RegistryClient
from dockyard.registry.transport import Endpoint, Transport

log = logging.getLogger(__name__)

T = TypeVar("T")

DOCKER_HUB_HOST = "registry-1.docker.io"
_LOOPBACK = (ipaddress.ip_network("127.0.0.0/8"), ipaddress.ip_network("::1/128"))


@dataclass(frozen=True, slots=True)
class RegistrySettings:
    """The daemon's registry options: insecure registries and Docker Hub mirrors."""

    insecure: tuple[str, ...] = ()
    mirrors: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        for entry in self.insecure:
            validate_insecure(entry)
        for mirror in self.mirrors:
            mirror_endpoint(mirror)


def validate_insecure(entry: str) -> str:
    """An ``--insecure-registry`` value: ``host[:port]`` or a CIDR; InvalidArgument if not."""
    if "://" in entry:
        raise InvalidArgument(f"insecure registry {entry} should not contain '://'")
    if "/" in entry:
        try:
            ipaddress.ip_network(entry, strict=False)
        except ValueError as exc:
            raise InvalidArgument(f"invalid insecure registry {entry!r}: {exc}") from exc
    elif not entry:
        raise InvalidArgument("invalid insecure registry '': empty")
    return entry


def mirror_endpoint(url: str) -> Endpoint:
    """A ``--registry-mirror`` URL (``http(s)://host[:port]``, no path) as an endpoint."""
    parts = urlsplit(url.rstrip("/"))
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise InvalidArgument(f"invalid mirror: unsupported scheme {parts.scheme!r} in {url!r}")
    if parts.path or parts.query:
        raise InvalidArgument(f"invalid mirror: path, query or fragment not allowed in {url!r}")
    return Endpoint(parts.scheme, parts.netloc, verify=True, mirror=True)


def _host_ip(host: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    name = host
    if name.startswith("["):
        name = name[1:name.find("]")]
    elif name.count(":") == 1:
        name = name.rsplit(":", 1)[0]
    try:
        return ipaddress.ip_address(name)
    except ValueError:
        return None


def is_insecure(host: str, settings: RegistrySettings) -> bool:
    """Whether plain HTTP (and unchecked TLS) is allowed for ``host[:port]``."""
    bare = host.rsplit(":", 1)[0] if host.count(":") == 1 else host
    if bare == "localhost":
        return True
    address = _host_ip(host)
    if address is not None and any(address in net for net in _LOOPBACK):
        return True
    for entry in settings.insecure:
        if "/" in entry:
            if address is not None and address in ipaddress.ip_network(entry, strict=False):
                return True
        elif entry in (host, bare):
            return True
    return False


def endpoints(domain: str, settings: RegistrySettings, *, push: bool = False) -> list[Endpoint]:
    """The endpoints serving ``domain``, in the order to try them."""
    if domain == DEFAULT_DOMAIN:
        mirrors = [] if push else [mirror_endpoint(m) for m in settings.mirrors]
        mirrors = [Endpoint(m.scheme, m.host, verify=not is_insecure(m.host, settings),
                            mirror=True) for m in mirrors]
        return [*mirrors, Endpoint("https", DOCKER_HUB_HOST)]
    if is_insecure(domain, settings):
        return [Endpoint("https", domain, verify=False), Endpoint("http", domain, verify=False)]
    return [Endpoint("https", domain)]


def first_answer(transport: Transport, candidates: Sequence[Endpoint], credentials: Credentials,
                 work: Callable[[RegistryClient], T]) -> T:
    """Run ``work`` against the first endpoint that answers a ping. A mirror that fails the
    work is skipped too; the registry itself is not (its answer is final). When every endpoint
    fails, the last one's error is raised, as dockerd reports it."""
    last: DockyardError | None = None
    for endpoint in candidates:
        client = RegistryClient(transport, endpoint, credentials)
        try:
            client.ping()
        except DockyardError as exc:
            log.debug("registry endpoint %s does not answer: %s", endpoint.url, exc)
            last = exc
            continue
        try:
            return work(client)
        except DockyardError as exc:
            if not endpoint.mirror:
                raise
            log.info("mirror %s failed, trying the next endpoint: %s", endpoint.url, exc)
            last = exc
    if last is None:
        raise InvalidArgument("no registry endpoint to try")
    raise last
