"""Image manifests and indexes: OCI (manifest.md, image-index.md) and Docker schema 2.

One class serves each shape in both formats; ``media_type`` says which, and the JSON written
follows that format: Docker's manifest and manifest list have exactly ``schemaVersion``,
``mediaType`` and ``config``/``layers`` (or ``manifests``), with descriptors in distribution's
field order; the OCI forms add ``artifactType``, ``subject`` and ``annotations``.

A document's digest is over its bytes, so :meth:`Manifest.from_json` keeps the bytes it read in
``raw`` and :meth:`Manifest.to_json` hands them back unchanged. An object made in code (or
changed with ``dataclasses.replace``, which drops ``raw``) is written by
:meth:`Manifest.canonical_json`: compact, Go-compatible and deterministic. Fields a format does
not define are kept in ``extra`` and written after the known ones.

Docker schema 1 is refused with :class:`~dockyard.errors.Unsupported`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from dockyard.errors import InvalidArgument, Unsupported
from dockyard.oci import mediatypes as mt
from dockyard.oci.codec import JSON, Fields, check_extra, decode_object, encode, frozen_mapping
from dockyard.oci.descriptor import Descriptor, PlatformMatcher
from dockyard.oci.digest import Digest
from dockyard.oci.platform import Platform

_OCI_KEYS = frozenset({"schemaVersion", "mediaType", "artifactType", "subject", "annotations"})
_DOCKER_KEYS = frozenset({"schemaVersion", "mediaType"})


@dataclass(frozen=True, slots=True)
class Manifest:
    """An image manifest: one config and an ordered list of layers."""

    config: Descriptor
    layers: tuple[Descriptor, ...] = ()
    media_type: str = mt.OCI_MANIFEST
    artifact_type: str = ""
    subject: Descriptor | None = None
    annotations: Mapping[str, str] = field(default_factory=dict)
    extra: Mapping[str, JSON] = field(default_factory=dict)
    raw: bytes | None = field(default=None, init=False, compare=False, repr=False)

    def __post_init__(self) -> None:
        _settle(self, "image manifest", mt.MANIFESTS, {"config", "layers"})
        object.__setattr__(self, "layers", tuple(self.layers))

    @property
    def is_docker(self) -> bool:
        return self.media_type == mt.DOCKER_MANIFEST

    @classmethod
    def from_json(cls, data: bytes, media_type: str | None = None) -> Manifest:
        """Read a manifest. ``media_type`` is what the descriptor or Content-Type said, if
        anything; it must agree with the document's own ``mediaType``."""
        obj = decode_object(data, "image manifest")
        return _manifest(Fields(obj, "image manifest"), data, media_type)

    def canonical_json(self) -> bytes:
        docker = self.is_docker
        return _encode(self, {"config": self.config.to_dict(docker=docker),
                              "layers": [layer.to_dict(docker=docker) for layer in self.layers]})

    def to_json(self) -> bytes:
        """The bytes read by :meth:`from_json`, else :meth:`canonical_json`."""
        return self.raw if self.raw is not None else self.canonical_json()

    def digest(self) -> Digest:
        return Digest.of(self.to_json())

    def descriptor(self, platform: Platform | None = None,
                   annotations: Mapping[str, str] | None = None) -> Descriptor:
        """A descriptor naming this manifest's bytes."""
        data = self.to_json()
        return Descriptor(self.media_type, Digest.of(data), len(data), platform=platform,
                          annotations=annotations or {}, artifact_type=self.artifact_type)


@dataclass(frozen=True, slots=True)
class Index:
    """An image index (Docker: manifest list): manifests, usually one per platform."""

    manifests: tuple[Descriptor, ...] = ()
    media_type: str = mt.OCI_INDEX
    artifact_type: str = ""
    subject: Descriptor | None = None
    annotations: Mapping[str, str] = field(default_factory=dict)
    extra: Mapping[str, JSON] = field(default_factory=dict)
    raw: bytes | None = field(default=None, init=False, compare=False, repr=False)

    def __post_init__(self) -> None:
        _settle(self, "image index", mt.INDEXES, {"manifests"})
        object.__setattr__(self, "manifests", tuple(self.manifests))

    @property
    def is_docker(self) -> bool:
        return self.media_type == mt.DOCKER_MANIFEST_LIST

    @classmethod
    def from_json(cls, data: bytes, media_type: str | None = None) -> Index:
        obj = decode_object(data, "image index")
        return _index(Fields(obj, "image index"), data, media_type)

    def canonical_json(self) -> bytes:
        return _encode(self, {"manifests": [m.to_dict(docker=self.is_docker)
                                            for m in self.manifests]})

    def to_json(self) -> bytes:
        """The bytes read by :meth:`from_json`, else :meth:`canonical_json`."""
        return self.raw if self.raw is not None else self.canonical_json()

    def digest(self) -> Digest:
        return Digest.of(self.to_json())

    def descriptor(self, annotations: Mapping[str, str] | None = None) -> Descriptor:
        data = self.to_json()
        return Descriptor(self.media_type, Digest.of(data), len(data),
                          annotations=annotations or {}, artifact_type=self.artifact_type)

    def select(self, matcher: PlatformMatcher) -> Descriptor | None:
        """The best-ranked entry for ``matcher``; the first listed wins a tie."""
        ranked = [(rank, i) for i, d in enumerate(self.manifests)
                  if (rank := matcher.rank(d.platform)) is not None]
        return self.manifests[min(ranked)[1]] if ranked else None


def parse_manifest_or_index(data: bytes, media_type: str | None = None) -> Manifest | Index:
    """Read either shape, telling them apart by ``media_type``, the document's ``mediaType``,
    or (for OCI documents without one) whether it has ``manifests``."""
    obj = decode_object(data, "manifest")
    declared = obj.get("mediaType")
    kind = media_type or (declared if isinstance(declared, str) else None)
    if kind is None:
        kind = mt.OCI_INDEX if "manifests" in obj and "config" not in obj else mt.OCI_MANIFEST
    if mt.is_index(kind):
        return _index(Fields(obj, "image index"), data, media_type)
    return _manifest(Fields(obj, "image manifest"), data, media_type)


def _known(media_type: str, body: set[str]) -> frozenset[str]:
    return (_DOCKER_KEYS if mt.is_docker(media_type) else _OCI_KEYS) | body


def _settle(doc: Manifest | Index, what: str, allowed: frozenset[str], body: set[str]) -> None:
    """Check what both shapes share (media type, the OCI-only fields, ``extra``) and freeze the
    mappings; ``body`` names the shape's own fields."""
    media_type = doc.media_type
    if media_type not in allowed:
        if mt.is_schema1(media_type):
            raise Unsupported(f"unsupported {what}: docker schema 1 ({media_type})")
        raise InvalidArgument(f"invalid {what}: media type {media_type!r}")
    if mt.is_docker(media_type) and (doc.artifact_type or doc.subject or doc.annotations):
        raise InvalidArgument(
            f"invalid {what}: {media_type} has no artifactType, subject or annotations"
        )
    check_extra(what, doc.extra, _known(media_type, body))
    object.__setattr__(doc, "annotations", frozen_mapping(doc.annotations))
    object.__setattr__(doc, "extra", frozen_mapping(doc.extra))


def _encode(doc: Manifest | Index, body: dict[str, JSON]) -> bytes:
    """The document in its format's field order: the head, ``body``, the OCI tail, ``extra``."""
    out: dict[str, JSON] = {"schemaVersion": 2, "mediaType": doc.media_type}
    if doc.artifact_type:
        out["artifactType"] = doc.artifact_type
    out.update(body)
    if doc.subject is not None:
        out["subject"] = doc.subject.to_dict()
    if doc.annotations:
        out["annotations"] = dict(sorted(doc.annotations.items()))
    out.update(doc.extra)
    return encode(out)


def _media_type(fields: Fields, given: str | None, default: str,
                allowed: frozenset[str]) -> str:
    """Check schemaVersion and settle the media type from the document and the caller."""
    version = fields.integer("schemaVersion", required=True)
    declared = fields.optional_string("mediaType")
    if version == 1 or mt.is_schema1(declared or given or ""):
        raise Unsupported(f"unsupported {fields.what}: docker schema 1")
    if version != 2:
        raise fields.error("schemaVersion", f"want 2, got {version}")
    if given is not None and declared is not None and given != declared:
        raise fields.error("mediaType", f"{declared!r} but the descriptor says {given!r}")
    chosen = declared or given or default
    if chosen not in allowed:
        raise fields.error("mediaType", f"{chosen!r} is not an {fields.what}")
    if mt.is_docker(chosen) and declared is None:
        raise fields.error("mediaType", f"missing (required by {chosen})")
    return chosen


def _oci_parts(fields: Fields, media_type: str) -> tuple[str, Descriptor | None, dict[str, str]]:
    if mt.is_docker(media_type):
        return "", None, {}
    subject = fields.nested("subject")
    return (
        fields.string("artifactType"),
        Descriptor.from_fields(subject) if subject else None,
        fields.string_map("annotations"),
    )


def _manifest(fields: Fields, data: bytes, given: str | None) -> Manifest:
    media_type = _media_type(fields, given, mt.OCI_MANIFEST, mt.MANIFESTS)
    config = fields.required_nested("config")
    layers = tuple(Descriptor.from_fields(f) for f in fields.objects("layers", required=True))
    artifact_type, subject, annotations = _oci_parts(fields, media_type)
    manifest = Manifest(
        config=Descriptor.from_fields(config),
        layers=layers,
        media_type=media_type,
        artifact_type=artifact_type,
        subject=subject,
        annotations=annotations,
        extra=fields.rest(),
    )
    object.__setattr__(manifest, "raw", bytes(data))
    return manifest


def _index(fields: Fields, data: bytes, given: str | None) -> Index:
    media_type = _media_type(fields, given, mt.OCI_INDEX, mt.INDEXES)
    manifests = tuple(
        Descriptor.from_fields(f) for f in fields.objects("manifests", required=True)
    )
    artifact_type, subject, annotations = _oci_parts(fields, media_type)
    index = Index(
        manifests=manifests,
        media_type=media_type,
        artifact_type=artifact_type,
        subject=subject,
        annotations=annotations,
        extra=fields.rest(),
    )
    object.__setattr__(index, "raw", bytes(data))
    return index
