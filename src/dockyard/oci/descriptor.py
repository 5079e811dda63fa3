"""Content descriptors (OCI image spec descriptor.md): what a blob is, its digest and its size.

A descriptor is written with its fields in the order of the format it sits in: OCI's Go struct
writes ``mediaType, digest, size``; Docker's distribution writes ``mediaType, size, digest``.
Both read the same.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping
from dataclasses import dataclass, field

from dockyard.errors import DockyardError, InvalidArgument
from dockyard.oci.codec import JSON, Fields, decode_object, encode, frozen_mapping
from dockyard.oci.digest import Digest
from dockyard.oci.platform import Platform, PlatformMatcher

__all__ = [
    "ANNOTATION_CREATED",
    "ANNOTATION_IMAGE_NAME",
    "ANNOTATION_REF_NAME",
    "Descriptor",
    "Platform",
    "PlatformMatcher",
]

ANNOTATION_REF_NAME = "org.opencontainers.image.ref.name"
ANNOTATION_CREATED = "org.opencontainers.image.created"
ANNOTATION_IMAGE_NAME = "io.containerd.image.name"


@dataclass(frozen=True, slots=True)
class Descriptor:
    """A reference to a blob. ``data`` is the optional embedded content (OCI 1.1)."""

    media_type: str
    digest: Digest
    size: int
    urls: tuple[str, ...] = ()
    annotations: Mapping[str, str] = field(default_factory=dict)
    platform: Platform | None = None
    artifact_type: str = ""
    data: bytes | None = None

    def __post_init__(self) -> None:
        if not _valid_media_type(self.media_type):
            raise InvalidArgument(f"invalid descriptor: media type {self.media_type!r}")
        if self.size < 0:
            raise InvalidArgument(f"invalid descriptor {self.digest}: negative size {self.size}")
        object.__setattr__(self, "urls", tuple(self.urls))
        object.__setattr__(self, "annotations", frozen_mapping(self.annotations))

    def __hash__(self) -> int:
        return hash((self.media_type, self.digest, self.size))

    def to_dict(self, *, docker: bool = False) -> dict[str, JSON]:
        """The JSON object, in OCI field order or (``docker=True``) distribution's."""
        out: dict[str, JSON] = {"mediaType": self.media_type}
        if docker:
            out["size"] = self.size
            out["digest"] = str(self.digest)
        else:
            out["digest"] = str(self.digest)
            out["size"] = self.size
        if self.urls:
            out["urls"] = list(self.urls)
        if self.annotations:
            out["annotations"] = dict(sorted(self.annotations.items()))
        if self.data is not None:
            out["data"] = base64.b64encode(self.data).decode("ascii")
        if self.platform is not None:
            out["platform"] = self.platform.to_dict()
        if self.artifact_type:
            out["artifactType"] = self.artifact_type
        return out

    def to_json(self, *, docker: bool = False) -> bytes:
        return encode(self.to_dict(docker=docker))

    @classmethod
    def from_json(cls, data: bytes) -> Descriptor:
        return cls.from_fields(Fields(decode_object(data, "descriptor"), "descriptor"))

    @classmethod
    def from_fields(cls, fields: Fields) -> Descriptor:
        """Read one descriptor object; errors name the document and the field path."""
        media_type = fields.string("mediaType", required=True)
        if not _valid_media_type(media_type):
            raise fields.error("mediaType", f"invalid media type {media_type!r}")
        digest = _digest(fields, "digest")
        size = fields.integer("size", required=True, minimum=0)
        platform = fields.nested("platform")
        embedded = _embedded(fields, digest, size)
        return cls(
            media_type=media_type,
            digest=digest,
            size=size,
            urls=fields.strings("urls") or (),
            annotations=fields.string_map("annotations"),
            platform=Platform.from_fields(platform) if platform else None,
            artifact_type=fields.string("artifactType"),
            data=embedded,
        )


def _valid_media_type(text: str) -> bool:
    return bool(text) and all(c.isprintable() and not c.isspace() for c in text)


def _digest(fields: Fields, key: str) -> Digest:
    text = fields.string(key, required=True)
    try:
        return Digest.parse(text)
    except DockyardError as exc:
        raise fields.error(key, str(exc)) from exc


def _embedded(fields: Fields, digest: Digest, size: int) -> bytes | None:
    text = fields.optional_string("data")
    if text is None:
        return None
    try:
        data = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise fields.error("data", "not base64") from exc
    if len(data) != size:
        raise fields.error("data", f"holds {len(data)} bytes, size says {size}")
    hasher = digest.hasher()
    hasher.update(data)
    if Digest.from_hasher(hasher) != digest:
        raise fields.error("data", f"does not match digest {digest}")
    return data
