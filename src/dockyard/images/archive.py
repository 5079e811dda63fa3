"""Image archives (``docker save`` / ``docker load``): the documents and the tar around them.

One archive is two formats at once, laid out as docker 25 writes it::

    blobs/
    blobs/sha256/
    blobs/sha256/<hex>      configs, manifests, and layers (uncompressed tars named by diffID)
    index.json              OCI image layout index: one manifest descriptor per name
    manifest.json           docker-archive: [{"Config": path, "RepoTags": [...], "Layers": [...]}]
    oci-layout              {"imageLayoutVersion": "1.0.0"}
    repositories            legacy {"<familiar name>": {"<tag>": "<hex>"}} (only when tagged)

docker 20.10 writes the legacy docker-archive instead (``<v1 id>/{VERSION,json,layer.tar}`` and
``<config hex>.json``, with ``layer.tar`` symlinks for repeated layers); ``manifest.json`` names the
files either way, so a reader follows its paths (moby ``image/tarexport``). OCI image layout:
image-spec image-layout.md; the name annotations are containerd's and image-spec
annotations.md's.

This module holds what save and load share: entry paths, ``manifest.json`` entries, the name
annotations, and :class:`TarOut`, a deterministic tar writer (fixed owner, mode and mtime).
"""

from __future__ import annotations

import json
import posixpath
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import BinaryIO

from dockyard.archive.tarreader import BLOCK, DIR, REG, Entry
from dockyard.archive.tarwriter import encode_header
from dockyard.errors import Breakout, DockyardError, InvalidArgument
from dockyard.oci.codec import JSON, encode
from dockyard.oci.descriptor import ANNOTATION_IMAGE_NAME, ANNOTATION_REF_NAME, Descriptor
from dockyard.oci.digest import Digest
from dockyard.oci.reference import Reference, parse_reference

MANIFEST_JSON = "manifest.json"
INDEX_JSON = "index.json"
OCI_LAYOUT = "oci-layout"
REPOSITORIES = "repositories"
METADATA = frozenset({MANIFEST_JSON, INDEX_JSON, OCI_LAYOUT, REPOSITORIES})
LAYOUT_CONTENT = b'{"imageLayoutVersion": "1.0.0"}'  # docker's bytes (image-layout.md)
BLOBS = "blobs"
MAX_METADATA = 32 << 20  # a manifest.json or index.json bigger than this is refused

# Labels on a compressed layer blob, so a save knows the size of the tar before writing it.
LABEL_UNCOMPRESSED = "containerd.io/uncompressed"  # the diffID (containerd's label)
LABEL_UNCOMPRESSED_SIZE = "dockyard/uncompressed-size"  # bytes of the uncompressed tar


def blob_path(digest: Digest) -> str:
    return f"{BLOBS}/{digest.algorithm}/{digest.encoded}"


def clean_entry(name: str, what: str = "archive entry") -> str:
    """``name`` as a path relative to the archive's root; ``""`` is the root itself.

    A leading ``/`` is dropped (docker extracts into a chroot); a path that climbs out is a
    :class:`~dockyard.errors.Breakout`.
    """
    if "\0" in name:
        raise InvalidArgument(f"{what} {name!r} has a NUL byte in its name")
    path = posixpath.normpath(name.lstrip("/") or ".")
    if path == ".." or path.startswith("../"):
        raise Breakout(f"{what} {name!r} points outside the archive")
    return "" if path == "." else path


def link_target(entry: str, target: str) -> str:
    """Where the link ``entry`` points, as a cleaned archive path (absolute targets are
    relative to the archive's root)."""
    joined = target if target.startswith("/") else posixpath.join(posixpath.dirname(entry), target)
    return clean_entry(joined, f"archive link {entry!r} to")


def digest_of_path(path: str) -> Digest | None:
    """The digest a ``blobs/<algorithm>/<encoded>`` path names, or None."""
    parts = path.split("/")
    if len(parts) != 3 or parts[0] != BLOBS:
        return None
    try:
        return Digest.parse(f"{parts[1]}:{parts[2]}")
    except DockyardError:  # not a digest, or an algorithm dockyard does not verify
        return None


@dataclass(frozen=True, slots=True)
class ManifestItem:
    """One entry of a docker-archive's ``manifest.json`` (moby ``tarexport.manifestItem``)."""

    config: str
    repo_tags: tuple[str, ...] = ()
    layers: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, JSON]:
        return {
            "Config": self.config,
            "RepoTags": list(self.repo_tags) or None,  # Go writes a nil slice as null
            "Layers": list(self.layers),
        }


def encode_manifest_json(items: Sequence[ManifestItem]) -> bytes:
    """``manifest.json`` as Go's json.Encoder writes it: compact, then a newline."""
    return encode([item.to_dict() for item in items]) + b"\n"


def parse_manifest_json(data: bytes) -> list[ManifestItem]:
    """Read ``manifest.json``; errors name the entry and field."""
    try:
        doc = json.loads(data)
    except (UnicodeDecodeError, ValueError) as exc:
        raise InvalidArgument(f"invalid {MANIFEST_JSON}: {exc}") from exc
    if not isinstance(doc, list):
        raise InvalidArgument(f"invalid {MANIFEST_JSON}: want a list, got {type(doc).__name__}")
    return [_manifest_item(i, entry) for i, entry in enumerate(doc)]


def _manifest_item(index: int, entry: object) -> ManifestItem:
    where = f"invalid {MANIFEST_JSON}: entry {index}"
    if not isinstance(entry, dict):
        raise InvalidArgument(f"{where}: want an object")
    config = entry.get("Config")
    if not isinstance(config, str) or not config:
        raise InvalidArgument(f"{where}: Config: want a path")
    return ManifestItem(config, _strings(entry, "RepoTags", where),
                        _strings(entry, "Layers", where))


def _strings(entry: Mapping[str, object], key: str, where: str) -> tuple[str, ...]:
    value = entry.get(key)
    if value is None:
        return ()
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise InvalidArgument(f"{where}: {key}: want a list of strings")
    return tuple(str(v) for v in value)


def encode_repositories(tags: Iterable[tuple[Reference, Digest]]) -> bytes:
    """The legacy ``repositories`` file: familiar name -> tag -> top layer (hex)."""
    repos: dict[str, dict[str, JSON]] = {}
    for ref, top in tags:
        repos.setdefault(ref.familiar_name(), {})[ref.tag or "latest"] = top.encoded
    doc: dict[str, JSON] = {name: dict(sorted(t.items())) for name, t in sorted(repos.items())}
    return encode(doc) + b"\n"


def name_annotations(ref: Reference) -> dict[str, str]:
    """What docker 25 puts on an ``index.json`` manifest descriptor for a tagged name."""
    return {ANNOTATION_IMAGE_NAME: ref.fully_qualified(), ANNOTATION_REF_NAME: ref.tag or "latest"}


def name_of_descriptor(descriptor: Descriptor) -> Reference | None:
    """The tagged name an ``index.json`` entry carries, if any.

    containerd's ``io.containerd.image.name`` is a full name. ``org.opencontainers.image.ref.name``
    is a full name when skopeo or buildkit write it, but only a tag when docker does; a bare tag
    names no repository, so it is ignored.
    """
    for key in (ANNOTATION_IMAGE_NAME, ANNOTATION_REF_NAME):
        text = descriptor.annotations.get(key, "")
        if key == ANNOTATION_REF_NAME and "/" not in text and ":" not in text:
            continue
        try:
            ref = parse_reference(text) if text else None
        except DockyardError:
            ref = None
        if ref is not None and ref.tag is not None:
            return ref
    return None


class TarOut:
    """Writes a tar stream: ustar headers (pax when needed), owner 0:0, a fixed mtime."""

    def __init__(self, out: BinaryIO, mtime: int = 0) -> None:
        self._out = out
        self._mtime_ns = mtime * 1_000_000_000

    def directory(self, name: str) -> None:
        self._out.write(encode_header(Entry(name, DIR, 0o755, 0, 0, 0, self._mtime_ns)))

    def file(self, name: str, data: bytes) -> None:
        self.begin_file(name, len(data))
        self._out.write(data)
        self.end_file(len(data))

    def begin_file(self, name: str, size: int) -> None:
        """Write the header; the caller then writes exactly ``size`` bytes and calls
        :meth:`end_file`."""
        self._out.write(encode_header(Entry(name, REG, 0o644, 0, 0, size, self._mtime_ns)))

    def write(self, data: bytes | memoryview) -> None:
        self._out.write(data)

    def end_file(self, size: int) -> None:
        if size % BLOCK:
            self._out.write(bytes(BLOCK - size % BLOCK))

    def close(self) -> None:
        """End the archive with two zero blocks, as Go's archive/tar does."""
        self._out.write(bytes(2 * BLOCK))
        self._out.flush()
