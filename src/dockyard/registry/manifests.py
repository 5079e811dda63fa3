"""Reading a pushed manifest: its media type, what it references, and its referrer descriptor.

A registry accepts the four manifest shapes dockyard knows (OCI image manifest and index, Docker
schema 2 manifest and manifest list); schema 1 and any other type are MANIFEST_INVALID. The
type comes from the request's ``Content-Type`` (parameters ignored, spec.md "Pushing
Manifests"), must agree with the document's ``mediaType``, and may be left to the document when
the header is absent or generic.

What a manifest references must exist before it is accepted, else MANIFEST_BLOB_UNKNOWN: an
image manifest's config and layers (except foreign layers that carry ``urls``) as blobs of the
repository, an index's entries as manifests of the repository (entries that are not manifests,
as in some artifact indexes, as blobs). A ``subject`` need not exist (spec: pushes in either
order).
"""

from __future__ import annotations

from dataclasses import dataclass

from dockyard.errors import DockyardError
from dockyard.oci import mediatypes as mt
from dockyard.oci.descriptor import Descriptor
from dockyard.oci.digest import Digest
from dockyard.oci.manifest import Index, Manifest, parse_manifest_or_index
from dockyard.registry import errcode
from dockyard.registry.errcode import RegistryError

#: Manifest and index media types the registry stores.
ACCEPTED = mt.MANIFESTS | mt.INDEXES
_GENERIC = frozenset({"", "application/json", "application/octet-stream"})


@dataclass(frozen=True, slots=True)
class References:
    """What a manifest names: blobs, child manifests, and the subject it refers to."""

    blobs: tuple[Digest, ...] = ()
    manifests: tuple[Digest, ...] = ()
    subject: Descriptor | None = None


@dataclass(frozen=True, slots=True)
class PushedManifest:
    """A validated manifest document and what the registry records about it."""

    data: bytes
    digest: Digest
    media_type: str
    references: References
    referrer: Descriptor
    """Its entry in the referrers list of its subject (artifactType and annotations copied)."""


def media_type_of(content_type: str | None) -> str | None:
    """The media type a ``Content-Type`` header names, without parameters; None if generic."""
    if content_type is None:
        return None
    value = content_type.split(";", 1)[0].strip()
    if value.lower() in _GENERIC:
        return None
    if value not in ACCEPTED:
        raise RegistryError(
            errcode.MANIFEST_INVALID,
            f"unsupported manifest media type {value!r}: want one of {', '.join(sorted(ACCEPTED))}",
            detail={"mediaType": value},
        )
    return value


def read_manifest(data: bytes, content_type: str | None) -> PushedManifest:
    """Parse and check a pushed document; RegistryError MANIFEST_INVALID if it is not one."""
    given = media_type_of(content_type)
    document = parse(data, given)
    digest = Digest.of(data)
    return PushedManifest(
        data=data,
        digest=digest,
        media_type=document.media_type,
        references=references_of(document),
        referrer=_referrer(document, digest, len(data)),
    )


def parse(data: bytes, media_type: str | None) -> Manifest | Index:
    try:
        return parse_manifest_or_index(data, media_type)
    except DockyardError as exc:
        raise RegistryError(errcode.MANIFEST_INVALID, str(exc)) from exc


def references_of(document: Manifest | Index) -> References:
    if isinstance(document, Manifest):
        layers = tuple(layer.digest for layer in document.layers if not layer.urls)
        return References(blobs=(document.config.digest, *layers), subject=document.subject)
    manifests = tuple(d.digest for d in document.manifests if d.media_type in ACCEPTED)
    blobs = tuple(d.digest for d in document.manifests if d.media_type not in ACCEPTED)
    return References(blobs=blobs, manifests=manifests, subject=document.subject)


def _referrer(document: Manifest | Index, digest: Digest, size: int) -> Descriptor:
    artifact_type = document.artifact_type
    if not artifact_type and isinstance(document, Manifest):
        artifact_type = document.config.media_type
    return Descriptor(
        media_type=document.media_type,
        digest=digest,
        size=size,
        annotations=document.annotations,
        artifact_type=artifact_type,
    )
