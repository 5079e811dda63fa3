"""Pulling an image from a registry: resolve the reference, then fetch and unpack its layers.

::

    resolve   ping the endpoints (mirrors first for docker.io), GET the manifest by tag or
              digest; an index or manifest list gives the entry for the wanted platform, whose
              manifest is fetched by digest; then the config. Every document is verified
              against its digest. Errors here come before any progress is sent.
    fetch     (dockyard.images.fetch) the layers, several at a time, each through a resumable
              content ingest and unpacked into its chainID snapshot in order; then the config
              and the manifest are stored. All under the caller's lease.

The caller writes the image records while it still holds the lease, so a pull interrupted at
any instant leaves the image whole or absent; the blobs that arrived stay for the next pull.
Refusals are worded as dockerd's (``manifest for R:T not found: manifest unknown: ...``,
``pull access denied for R, repository does not exist or may require 'docker login'``).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from dockyard.errors import DataCorrupt, DockyardError, InvalidArgument, NotFound, Unsupported
from dockyard.oci import mediatypes as mt
from dockyard.oci.config import ImageConfig
from dockyard.oci.descriptor import Descriptor
from dockyard.oci.digest import Digest
from dockyard.oci.manifest import Index, Manifest, parse_manifest_or_index
from dockyard.oci.platform import Platform, PlatformMatcher
from dockyard.oci.reference import Reference
from dockyard.registry.auth import Credentials
from dockyard.registry.client import MAX_MANIFEST, RegistryClient, ResponseError
from dockyard.registry.endpoints import RegistrySettings, endpoints, first_answer
from dockyard.registry.transport import RemoteError, Transport

log = logging.getLogger(__name__)

_NOT_FOUND_CODES = ("DENIED", "MANIFEST_UNKNOWN", "NAME_UNKNOWN")


@dataclass(frozen=True, slots=True)
class Resolved:
    """What a reference names in a registry, fetched and verified, ready to pull.

    ``digest`` is the digest of what the reference named (an index, or the manifest itself);
    ``manifest_digest`` the platform's manifest.
    """

    reference: Reference
    client: RegistryClient
    digest: Digest
    manifest_digest: Digest
    manifest_media_type: str
    manifest: Manifest
    manifest_bytes: bytes
    config: ImageConfig
    config_bytes: bytes

    @property
    def repository(self) -> str:
        """The repository's name in the registry (``library/debian``)."""
        return self.reference.path

    @property
    def image_id(self) -> Digest:
        return self.manifest.config.digest


def resolve(transport: Transport, settings: RegistrySettings, reference: Reference,
            credentials: Credentials, platform: Platform | None = None) -> Resolved:
    """Find ``reference`` (with a tag or a digest) in its registry; see the module docstring."""
    if reference.tag is None and reference.digest is None:
        raise InvalidArgument(f"pull of {reference.familiar()}: a tag or digest is needed")
    candidates = endpoints(reference.domain, settings)
    try:
        return first_answer(transport, candidates, credentials,
                            lambda client: _resolve(client, reference, platform))
    except ResponseError as exc:
        raise translate(exc, reference) from exc


def translate(exc: ResponseError, reference: Reference) -> DockyardError:
    """dockerd's ``TranslatePullError``: a refused repository or a missing manifest is a 404
    worded for the user; anything else stays as the registry said it."""
    code = exc.codes[0] if exc.codes else ""
    if code == "DENIED":
        return NotFound(f"pull access denied for {reference.familiar_name()}, repository does "
                        f"not exist or may require 'docker login': {exc}")
    if code == "MANIFEST_UNKNOWN":
        return NotFound(f"manifest for {reference.familiar()} not found: {exc}")
    if code == "NAME_UNKNOWN":
        return NotFound(f"repository {reference.familiar_name()} not found: {exc}")
    return exc


def _resolve(client: RegistryClient, reference: Reference,
             platform: Platform | None) -> Resolved:
    name = reference.path
    fetched = client.manifest(name, reference.digest or reference.tag or "")
    document = parse_manifest_or_index(fetched.data, _known(fetched.media_type))
    manifest_digest, media_type, data = fetched.digest, fetched.media_type, fetched.data
    from_index = isinstance(document, Index)
    if isinstance(document, Index):
        entry = _select(document, platform)
        if not mt.is_manifest(entry.media_type):
            raise Unsupported(f"unsupported manifest media type {entry.media_type} in index "
                              f"{fetched.digest} of {reference.familiar()}")
        inner = client.manifest(name, entry.digest)
        if len(inner.data) != entry.size:
            raise DataCorrupt(f"manifest {entry.digest} of {reference.familiar()} is "
                              f"{len(inner.data)} bytes, its index says {entry.size}")
        document = parse_manifest_or_index(inner.data, entry.media_type)
        manifest_digest, media_type, data = inner.digest, entry.media_type, inner.data
    if not isinstance(document, Manifest):
        raise Unsupported(f"{reference.familiar()}: an index inside an index is not supported")
    config_bytes = _config(client, name, document, reference)
    config = ImageConfig.from_json(config_bytes)
    _check(reference, document, config, None if from_index else platform)
    return Resolved(reference, client, fetched.digest, manifest_digest,
                    media_type or document.media_type, document, data, config, config_bytes)


def _known(media_type: str) -> str | None:
    return media_type if mt.is_manifest(media_type) or mt.is_index(media_type) else None


def _select(index: Index, platform: Platform | None) -> Descriptor:
    wanted = (platform or Platform.current()).normalize()
    entry = index.select(PlatformMatcher.only(wanted))
    if entry is None:
        raise RemoteError(f"no matching manifest for {wanted} in the manifest list entries")
    return entry


def _config(client: RegistryClient, name: str, manifest: Manifest,
            reference: Reference) -> bytes:
    descriptor = manifest.config
    if not mt.is_config(descriptor.media_type):
        raise Unsupported(f'Encountered remote "{descriptor.media_type}"(unknown) when '
                          f"fetching {reference.familiar()}: not an image")
    if descriptor.size > MAX_MANIFEST:
        raise DataCorrupt(f"image config {descriptor.digest} is {descriptor.size} bytes")
    reply = client.open_blob(name, descriptor.digest)
    data = reply.read()
    if Digest.of(data) != descriptor.digest or len(data) != descriptor.size:
        raise DataCorrupt(f"image config verification failed for digest {descriptor.digest}")
    return data


def _check(reference: Reference, manifest: Manifest, config: ImageConfig,
           platform: Platform | None) -> None:
    for layer in manifest.layers:
        if not mt.is_layer(layer.media_type):
            raise Unsupported(f"unsupported media type {layer.media_type} of a layer of "
                              f"{reference.familiar()}")
    if len(manifest.layers) != len(config.diff_ids):
        raise DataCorrupt(f"{reference.familiar()}: invalid manifest, layers length mismatch: "
                          f"expected {len(config.diff_ids)}, got {len(manifest.layers)}")
    if config.os and config.os != "linux":
        raise Unsupported(f"image operating system {config.os!r} cannot be used on this "
                          "platform")
    if platform is not None and config.architecture:
        actual = Platform(config.architecture, config.os or "linux", variant=config.variant)
        if not PlatformMatcher.only(platform.normalize()).match(actual.normalize()):
            raise RemoteError(f"image with reference {reference.familiar()} was found but does "
                              f"not match the specified platform: wanted {platform}, actual: "
                              f"{actual}")
