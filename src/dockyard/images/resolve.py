"""Finding an image by what a user typed, with dockerd 20.10's rules and error texts.

What ``docker image inspect X``, ``docker rmi X`` or ``docker tag X ...`` accept, tried in
dockerd's order (daemon/images/image.go ``GetImage``)::

    X is 64 hex digits, or algorithm:hex        -> that image ID, exactly
    X parses as a name (busybox, busybox:1, busybox@sha256:<manifest>, localhost:5000/a/b:t)
        a record with that name (":latest" added to a bare name)  -> its image
        X@digest: a record of that repository whose manifest is digest -> its image
    X (or sha256:X) is a prefix of exactly one image ID           -> that image
    otherwise NotFound "No such image: <X as a familiar name>"

An ambiguous ID prefix is not found, as in dockerd 20.10 (its digest set's "ambiguous" error
never reaches the client). A name that does not parse is InvalidArgument.

Records are the image store's names; an image is the config digest a record's target leads to
(through an index, the manifest for this host's platform). Untagged images have records named
``moby-dangling@<manifest digest>``, which are no name anyone can type.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from dockyard.content.store import ContentStore
from dockyard.errors import DockyardError, NotFound
from dockyard.images.importer import DANGLING_PREFIX
from dockyard.images.store import ImageRecord, Target
from dockyard.oci import mediatypes as mt
from dockyard.oci.digest import Digest
from dockyard.oci.manifest import Index, Manifest, parse_manifest_or_index
from dockyard.oci.platform import Platform, PlatformMatcher
from dockyard.oci.reference import Reference, id_prefix, parse_any_reference, parse_reference


@dataclass(frozen=True, slots=True)
class Candidate:
    """One image record and the image ID (config digest) its target leads to."""

    record: ImageRecord
    image_id: Digest

    @property
    def dangling(self) -> bool:
        return is_dangling(self.record.name)


@dataclass(frozen=True, slots=True)
class Lookup:
    """The image found, and the name it was found by (None when found by ID)."""

    image_id: Digest
    reference: Reference | None


def is_dangling(name: str) -> bool:
    return name.startswith(DANGLING_PREFIX)


def record_reference(name: str) -> Reference | None:
    """The reference a record's name spells, or None for a dangling record."""
    if is_dangling(name):
        return None
    return parse_reference(name)


def record_key(reference: Reference) -> str:
    """The record name that stores ``reference``: a digest wins over a tag (dockerd's
    ``favorDigest``), a bare name gets ``:latest``."""
    if reference.digest is not None:
        return reference.without_tag().fully_qualified()
    return reference.with_default_tag().fully_qualified()


def not_found(reference: Reference | Digest) -> NotFound:
    """dockerd's ``ErrImageDoesNotExist`` text for what was looked up."""
    if isinstance(reference, Digest):
        return NotFound(f"No such image: {reference}")
    return NotFound(f"No such image: {reference.with_default_tag().familiar()}")


def lookup(text: str, candidates: Sequence[Candidate]) -> Lookup:
    """Find the image ``text`` names among ``candidates`` (see the module docstring)."""
    parsed = parse_any_reference(text)
    if isinstance(parsed, Digest):
        if any(c.image_id == parsed for c in candidates):
            return Lookup(parsed, None)
        raise not_found(parsed)
    key = record_key(parsed)
    for candidate in candidates:
        if candidate.record.name == key:
            return Lookup(candidate.image_id, parsed)
    if parsed.digest is not None:
        for candidate in candidates:
            if candidate.record.target.digest == parsed.digest and _same_repository(
                candidate.record.name, parsed
            ):
                return Lookup(candidate.image_id, parsed)
    found = by_id_prefix(text, candidates)
    if found is None:
        raise not_found(parsed)
    return Lookup(found, parsed)


def by_id_prefix(text: str, candidates: Sequence[Candidate]) -> Digest | None:
    """The one image whose ID starts with ``text`` (hex, or ``sha256:`` and hex), else None."""
    prefix = id_prefix(text)
    if prefix is None:
        return None
    matches = {c.image_id for c in candidates if c.image_id.encoded.startswith(prefix)}
    return matches.pop() if len(matches) == 1 else None


def is_id_prefix(image_id: Digest, text: str) -> bool:
    """dockerd's ``isImageIDPrefix``: ``text`` is a prefix of the ID, with or without
    ``sha256:``. Deleting by such a text removes the image, not one of its names."""
    return str(image_id).startswith(text) or image_id.encoded.startswith(text)


def _same_repository(name: str, reference: Reference) -> bool:
    try:
        recorded = record_reference(name)
    except DockyardError:
        return False
    return recorded is not None and recorded.repository == reference.repository


def resolve_manifest(
    content: ContentStore, target: Target, platform: Platform | None = None
) -> tuple[Digest, Manifest]:
    """The manifest a record's target names: itself, or an index's entry for ``platform``
    (default: this host's). NotFound if the index has no entry for it."""
    data = content.read_bytes(target.digest)
    document = parse_manifest_or_index(data, target.media_type if _known(target) else None)
    digest = target.digest
    if isinstance(document, Index):
        wanted = platform or Platform.current()
        chosen = document.select(PlatformMatcher.only(wanted))
        if chosen is None:
            raise NotFound(f"image index {target.digest} has no manifest for {wanted}")
        digest = chosen.digest
        document = Manifest.from_json(content.read_bytes(digest), chosen.media_type)
    return digest, document


def _known(target: Target) -> bool:
    return target.media_type in mt.MANIFESTS or target.media_type in mt.INDEXES
