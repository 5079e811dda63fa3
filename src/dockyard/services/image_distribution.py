"""Pull, push and login: images to and from registries, as dockerd 20.10 does them.

Each operation runs in a worker thread and reports through ``emit``, one JSON message (a dict in
dockerd's shape, :mod:`dockyard.services.image_progress`) at a time. The API starts its response
with the first message, so an error raised before it (a missing manifest, a dead registry on
pull) is a plain HTTP error, and a later one travels in the stream (engine-api.md 6).

Pull records, like dockerd, the tag (``R:T``) and the digest the registry named
(``R@sha256:...``) for the image; the name's previous image keeps a dangling record if nothing
else names it. Push records ``R@<pushed manifest digest>``. Garbage collection is held off while
a pull writes (:meth:`ImageService.writing`), and everything a pull stores belongs to a lease
until its records are written, so a crash leaves the image whole or absent.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from dockyard.content.leases import Resource
from dockyard.errors import InvalidArgument, NotFound, Unauthorized
from dockyard.images.fetch import LayerFetcher
from dockyard.images.importer import DANGLING_PREFIX
from dockyard.images.pull import Resolved, resolve
from dockyard.images.push import Pushed, Pusher
from dockyard.images.resolve import is_dangling, resolve_manifest
from dockyard.images.store import Target
from dockyard.oci.config import ImageConfig
from dockyard.oci.digest import Digest
from dockyard.oci.identity import chain_ids
from dockyard.oci.platform import Platform
from dockyard.oci.reference import DEFAULT_DOMAIN, Reference, parse_reference, validate_tag
from dockyard.registry.auth import Credentials
from dockyard.registry.client import RegistryClient
from dockyard.registry.endpoints import RegistrySettings, endpoints, first_answer
from dockyard.registry.transport import Transport
from dockyard.services import image_progress as messages
from dockyard.services.images import ImageService
from dockyard.store import DataRoot

log = logging.getLogger(__name__)

Emit = Callable[[dict[str, Any]], None]
LEASE_SECONDS = 3600.0
DOCKER_HUB_ADDRESSES = ("https://index.docker.io/v1/", "index.docker.io", "docker.io",
                        "registry-1.docker.io", "https://registry-1.docker.io")


@dataclass(frozen=True, slots=True)
class PullTarget:
    """What ``POST /images/create?fromImage=&tag=`` asks for: one reference, or every tag of
    a repository (``all_tags``)."""

    reference: Reference
    all_tags: bool = False


def pull_target(from_image: str, tag: str = "") -> PullTarget:
    """dockerd's reading of ``fromImage`` and ``tag``: a tag that parses as a digest pulls by
    digest; no tag anywhere pulls every tag."""
    reference = parse_reference(from_image)
    if tag:
        try:
            digest = Digest.parse(tag)
        except InvalidArgument:
            reference = Reference(reference.domain, reference.path, validate_tag(tag))
        else:
            reference = Reference(reference.domain, reference.path, None, digest)
    if reference.tag is None and reference.digest is None:
        return PullTarget(reference, all_tags=True)
    return PullTarget(reference)


class DistributionService:
    """Pulls and pushes for the images of one data root."""

    def __init__(self, root: DataRoot, images: ImageService, settings: RegistrySettings, *,
                 transport: Transport | None = None, parallel: int = 3,
                 clock: Callable[[], float] = time.time) -> None:
        self.root = root
        self.images = images
        self.settings = settings
        self.transport = transport or Transport()
        self.parallel = parallel
        self.clock = clock

    # -- pull --------------------------------------------------------------------------------

    def pull(self, from_image: str, tag: str, credentials: Credentials, emit: Emit, *,
             platform: str = "", cancel: threading.Event | None = None) -> None:
        """``POST /images/create?fromImage=``: pull one reference or every tag."""
        target = pull_target(from_image, tag)
        wanted = Platform.parse(platform) if platform else None
        cancel = cancel or threading.Event()
        if not target.all_tags:
            resolved = resolve(self.transport, self.settings, target.reference, credentials,
                               wanted)
            updated = self._pull(resolved, emit, cancel)
            emit(messages.status(f"Digest: {resolved.digest}"))
            emit(messages.status(_final(updated, target.reference.familiar())))
            return
        tags = self._tags(target.reference, credentials)
        updated = False
        for name in tags:
            reference = target.reference.with_tag(name)
            resolved = resolve(self.transport, self.settings, reference, credentials, wanted)
            updated = self._pull(resolved, emit, cancel) or updated
            emit(messages.status(f"Digest: {resolved.digest}"))
        emit(messages.status(_final(updated, target.reference.familiar())))

    def _tags(self, reference: Reference, credentials: Credentials) -> list[str]:
        def work(client: RegistryClient) -> list[str]:
            return client.tags(reference.path)

        tags = first_answer(self.transport, endpoints(reference.domain, self.settings),
                            credentials, work)
        if not tags:
            raise NotFound(f"repository {reference.familiar_name()} has no tags")
        return sorted(tags)

    def _pull(self, resolved: Resolved, emit: Emit, cancel: threading.Event) -> bool:
        """Fetch what is missing and record the names; True if a name moved."""
        reference = resolved.reference
        emit(messages.status(f"Pulling from {reference.path}",
                             reference.tag or str(reference.digest)))
        root = self.root
        labels = {"dockyard/purpose": "pull", "dockyard/pid": str(os.getpid())}
        with self.images.writing(), root.leases.lease(
                labels=labels, expires_at=self.clock() + LEASE_SECONDS) as lease:
            if not self._complete(resolved):
                fetcher = LayerFetcher(root, resolved.client, resolved.repository, lease.id,
                                       _layer_emitter(emit), parallel=self.parallel,
                                       cancel=cancel)
                fetcher.fetch(resolved.manifest, resolved.config)
            for data, digest in ((resolved.config_bytes, resolved.image_id),
                                 (resolved.manifest_bytes, resolved.manifest_digest)):
                root.leases.add_resource(lease.id, Resource("content", str(digest)))
                root.content.put_bytes(data, digest)
            return self._record(resolved)

    def _complete(self, resolved: Resolved) -> bool:
        """Whether the image is here already (config, every blob, every snapshot): dockerd then
        sends no layer messages at all."""
        content = self.root.content
        if not content.exists(resolved.image_id):
            return False
        if not all(content.exists(layer.digest) for layer in resolved.manifest.layers):
            return False
        for chain in chain_ids(resolved.config.diff_ids):
            try:
                self.root.snapshotter.stat(str(chain))
            except NotFound:
                return False
        return True

    def _record(self, resolved: Resolved) -> bool:
        """Name the image by its tag (if any) and by the digest pulled; True if a name moved."""
        reference = resolved.reference
        target = Target(resolved.manifest_media_type, resolved.manifest_digest,
                        len(resolved.manifest_bytes))
        keys = [reference.without_tag().with_digest(resolved.digest).fully_qualified()]
        if reference.tag is not None:
            keys.insert(0, reference.trim().with_tag(reference.tag).fully_qualified())
        primary = keys[0]
        moved = self._name_of(primary) != resolved.image_id
        for key in keys:
            self._name(key, target, resolved.image_id)
        log.info("pulled %s as %s", reference.familiar(), resolved.image_id)
        self.images._event("pull", reference.familiar(), reference.familiar())
        return moved

    def _name_of(self, key: str) -> Digest | None:
        for candidate in self.images.catalog.candidates():
            if candidate.record.name == key:
                return candidate.image_id
        return None

    def _name(self, key: str, target: Target, image_id: Digest) -> None:
        """Point record ``key`` at ``target``; drop the image's dangling record; the image the
        name leaves keeps a dangling one."""
        before = self.images.catalog.images()
        previous = next((i for i in before.values() if any(r.name == key for r in i.records)),
                        None)
        self.root.images.set(key, target)
        image = before.get(image_id)
        for record in image.records if image is not None else ():
            if is_dangling(record.name):
                self.root.images.delete(record.name)
        if previous is not None and previous.id != image_id:
            self.images.keep_dangling(previous)
        dangling = f"{DANGLING_PREFIX}{target.digest}"
        if any(r.name == dangling for r in self.root.images.records()):
            self.root.images.delete(dangling)

    # -- push --------------------------------------------------------------------------------

    def push(self, name: str, tag: str, credentials: Credentials, emit: Emit, *,
             cancel: threading.Event | None = None) -> None:
        """``POST /images/{name}/push?tag=``: push one tag, or every tag of the repository."""
        reference = parse_reference(name)
        if reference.digest is not None:
            raise InvalidArgument(f"cannot push a digest reference: {reference.familiar()}")
        repository = reference.trim()
        tags = [validate_tag(tag)] if tag else [reference.tag] if reference.tag else []
        emit(messages.status(f"The push refers to repository [{repository}]"))
        if not tags:
            tags = self._local_tags(repository)
        for name_tag in tags:
            pushed = self._push_tag(repository.with_tag(name_tag), credentials, emit,
                                    cancel or threading.Event())
            size = len(pushed.data)
            emit(messages.status(f"{name_tag}: digest: {pushed.digest} size: {size}"))
            emit(messages.aux({"Tag": name_tag, "Digest": str(pushed.digest), "Size": size}))

    def _local_tags(self, repository: Reference) -> list[str]:
        tags = sorted(r.tag for c in self.images.catalog.candidates()
                      if (r := self.images.catalog.reference(c.record.name)) is not None
                      and r.tag is not None and r.repository == repository.repository)
        if not tags:
            raise NotFound("An image does not exist locally with the tag: "
                           f"{repository.familiar_name()}")
        return tags

    def _push_tag(self, reference: Reference, credentials: Credentials, emit: Emit,
                  cancel: threading.Event) -> Pushed:
        root = self.root
        try:
            record = root.images.get(reference.fully_qualified())
        except NotFound as exc:
            raise NotFound(f"tag does not exist: {reference.familiar()}") from exc
        manifest_digest, manifest = resolve_manifest(root.content, record.target)
        manifest_bytes = root.content.read_bytes(manifest_digest)
        config = ImageConfig.from_json(root.content.read_bytes(manifest.config.digest))
        labels = {"dockyard/purpose": "push", "dockyard/pid": str(os.getpid())}
        with self.images.writing(), root.leases.lease(
                labels=labels, expires_at=self.clock() + LEASE_SECONDS) as lease:

            def work(client: RegistryClient) -> Pushed:
                pusher = Pusher(root, client, reference.path, lease.id, _layer_emitter(emit),
                                parallel=self.parallel, cancel=cancel)
                return pusher.push(manifest, manifest_bytes, config.diff_ids,
                                   reference.tag or "latest")

            pushed = first_answer(self.transport,
                                  endpoints(reference.domain, self.settings, push=True),
                                  credentials, work)
            root.content.put_bytes(pushed.data, pushed.digest)
            key = reference.trim().with_digest(pushed.digest).fully_qualified()
            self._name(key, Target(pushed.media_type, pushed.digest, len(pushed.data)),
                       manifest.config.digest)
        log.info("pushed %s as %s", reference.familiar(), pushed.digest)
        self.images._event("push", reference.familiar(), reference.familiar())
        return pushed

    # -- login -------------------------------------------------------------------------------

    def login(self, credentials: Credentials) -> str:
        """``POST /auth``: check the credentials against the registry; returns the identity
        token it handed out ("" when none)."""
        domain = registry_domain(credentials.server_address)

        def work(client: RegistryClient) -> str:
            url = client.endpoint.url + "/v2/"
            try:
                reply = client.login()
            except Unauthorized as exc:
                raise Unauthorized(f'Get "{url}": {exc}') from exc
            reply.read()
            if reply.status != 200:
                raise LoginFailed(f"login attempt to {url} failed with status: {reply.status} "
                                  f"{_reason(reply.status, reply.reason)}")
            return client.authorizer.refresh_token

        return first_answer(self.transport, endpoints(domain, self.settings, push=True),
                            credentials, work)

    def close(self) -> None:
        self.transport.close()


class LoginFailed(Unauthorized):
    """The registry refused the credentials; dockerd 20.10 answers 500 for it."""

    http_status = 500


def registry_domain(address: str) -> str:
    """The registry a login names: Docker Hub's index URL and spellings are ``docker.io``;
    ``https://host:port/`` is ``host:port``."""
    address = address.strip()
    if not address or address in DOCKER_HUB_ADDRESSES or address.rstrip("/") in (
            a.rstrip("/") for a in DOCKER_HUB_ADDRESSES):
        return DEFAULT_DOMAIN
    for prefix in ("https://", "http://"):
        address = address.removeprefix(prefix)
    return address.split("/", 1)[0]


def _reason(status: int, reason: str) -> str:
    return {401: "Unauthorized", 403: "Forbidden", 404: "Not Found"}.get(status, reason)


def _final(updated: bool, name: str) -> str:
    if updated:
        return f"Status: Downloaded newer image for {name}"
    return f"Status: Image is up to date for {name}"


def _layer_emitter(emit: Emit) -> Callable[[str, str, int, int], None]:
    def progress(layer_id: str, text: str, current: int, total: int) -> None:
        emit(messages.layer(layer_id, text, current, total))

    return progress
