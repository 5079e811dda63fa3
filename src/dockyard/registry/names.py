"""Repository names, tags and manifest references as the distribution spec defines them.

``<name>`` matches ``[a-z0-9]+((\\.|_|__|-+)[a-z0-9]+)*(\\/[a-z0-9]+((\\.|_|__|-+)[a-z0-9]+)*)*``
and a tag matches ``[a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}`` (spec.md, "Pulling manifests"). A
manifest ``<reference>`` is a tag or a digest and nothing else. Names are limited to 255
characters, as distribution limits them; clients limit host plus name to the same.

Both grammars yield names that are safe as path components: no component starts with ``.`` or
``_``, so a repository's own ``_layers`` and ``_manifests`` directories never collide with a
nested repository, and temp files (``.tmp-*``) never collide with a tag.
"""

from __future__ import annotations

import re

from dockyard.errors import DockyardError
from dockyard.oci.digest import Digest
from dockyard.registry import errcode
from dockyard.registry.errcode import RegistryError

NAME_MAX = 255
_COMPONENT = r"[a-z0-9]+(?:(?:\.|_|__|-+)[a-z0-9]+)*"
NAME_RE = re.compile(rf"{_COMPONENT}(?:/{_COMPONENT})*")
TAG_RE = re.compile(r"[A-Za-z0-9_][A-Za-z0-9._-]{0,127}")


def check_name(name: str) -> str:
    """``name`` if it is a valid repository name; RegistryError NAME_INVALID otherwise."""
    if len(name) > NAME_MAX or not NAME_RE.fullmatch(name):
        raise RegistryError(
            errcode.NAME_INVALID,
            f"invalid repository name {name[:NAME_MAX + 1]!r}: want lower-case path components "
            f"joined by '/', at most {NAME_MAX} characters",
            detail={"name": name[:NAME_MAX + 1]},
        )
    return name


def is_tag(text: str) -> bool:
    return TAG_RE.fullmatch(text) is not None


def parse_digest(text: str) -> Digest:
    """A digest from a URL or a query; RegistryError DIGEST_INVALID if malformed."""
    try:
        return Digest.parse(text)
    except DockyardError as exc:
        raise RegistryError(errcode.DIGEST_INVALID, str(exc), detail={"digest": text}) from exc


def parse_reference(text: str) -> Digest | str:
    """A manifest reference: a Digest, or a tag string. MANIFEST_INVALID if it is neither."""
    if ":" in text:
        return parse_digest(text)
    if not is_tag(text):
        raise RegistryError(
            errcode.MANIFEST_INVALID,
            f"invalid manifest reference {text[:200]!r}: want a tag "
            "([A-Za-z0-9_][A-Za-z0-9._-]{0,127}) or a digest",
            detail={"reference": text[:200]},
        )
    return text
