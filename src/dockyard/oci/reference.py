"""Image references, parsed and normalised exactly as Docker's reference package does it.

Grammar (distribution/reference, reference.go)::

    reference        := name [ ":" tag ] [ "@" digest ]
    name             := [domain "/"] path
    domain           := host [":" port]
    host             := domain-name | "[" IPv6 "]"
    domain-name      := component ("." component)*
    component        := [a-zA-Z0-9] | [a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9]
    path             := path-component ("/" path-component)*
    path-component   := [a-z0-9]+ ((?:[._]|__|[-]+) [a-z0-9]+)*
    tag              := [\\w][\\w.-]{0,127}
    digest           := algorithm ":" hex{32,}

Normalisation (``ParseNormalizedNamed``): the first path element is a domain only when it contains
``.`` or ``:``, is ``localhost``, or has an upper-case letter; otherwise the domain is
``docker.io``, and a one-element path on docker.io gains ``library/``. ``index.docker.io`` is
written ``docker.io``. So ``nginx`` is ``docker.io/library/nginx`` and its familiar form (what
``docker images`` shows) is ``nginx`` again.

A bare 64-hex string is an image ID, never a name (``ParseAnyReference``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from dockyard.errors import DockyardError, InvalidArgument
from dockyard.oci.digest import Digest

DEFAULT_DOMAIN = "docker.io"
LEGACY_DEFAULT_DOMAIN = "index.docker.io"
OFFICIAL_REPO_PREFIX = "library/"
DEFAULT_TAG = "latest"
PATH_LENGTH_MAX = 255
"""Longest path, domain excluded (distribution/reference v0.6.0 stopped counting the domain)."""

_ALNUM = r"[a-z0-9]+"
_SEPARATOR = r"(?:[._]|__|[-]+)"
_PATH_COMPONENT = rf"{_ALNUM}(?:{_SEPARATOR}{_ALNUM})*"
_REMOTE_NAME = rf"{_PATH_COMPONENT}(?:/{_PATH_COMPONENT})*"
_DOMAIN_COMPONENT = r"(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])"
_DOMAIN_NAME = rf"{_DOMAIN_COMPONENT}(?:\.{_DOMAIN_COMPONENT})*"
_IPV6 = r"\[(?:[a-fA-F0-9:]+)\]"
_DOMAIN = rf"(?:{_DOMAIN_NAME}|{_IPV6})(?::[0-9]+)?"
_TAG = r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}"
_DIGEST = r"[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,}"
_NAME = rf"(?:{_DOMAIN}/)?{_REMOTE_NAME}"

_REFERENCE_RE = re.compile(rf"({_NAME})(?::({_TAG}))?(?:@({_DIGEST}))?")
_NAME_RE = re.compile(rf"(?:({_DOMAIN})/)?({_REMOTE_NAME})")
_DOMAIN_RE = re.compile(_DOMAIN)
_PATH_RE = re.compile(_REMOTE_NAME)
_TAG_RE = re.compile(_TAG)
_IDENTIFIER_RE = re.compile(r"[a-f0-9]{64}")
_ID_PREFIX_RE = re.compile(r"(?:sha256:)?([a-f0-9]{1,64})")
# Longest text worth matching: a 255-character name, a 128-character tag and a long digest.
_MAX_INPUT = 1024


@dataclass(frozen=True, slots=True)
class Reference:
    """A normalised reference: ``domain/path[:tag][@digest]`` with docker.io spelled out.

    The constructor checks the grammar and refuses forms normalisation would change
    (``index.docker.io``, ``docker.io/nginx``), so equal references are equal values.
    """

    domain: str
    path: str
    tag: str | None = None
    digest: Digest | None = None

    def __post_init__(self) -> None:
        text = f"{self.domain}/{self.path}"
        if not _DOMAIN_RE.fullmatch(self.domain) or not _PATH_RE.fullmatch(self.path):
            raise InvalidArgument(f"invalid reference format: repository name {text!r}")
        if len(self.path) > PATH_LENGTH_MAX:
            raise InvalidArgument(_too_long(self.path))
        if not _reads_as_domain(self.domain):
            raise InvalidArgument(
                f"invalid reference {text!r}: {self.domain!r} does not read as a domain "
                "(want a '.', a ':', 'localhost' or an upper-case letter)"
            )
        if self.domain == LEGACY_DEFAULT_DOMAIN or (
            self.domain == DEFAULT_DOMAIN and "/" not in self.path
        ):
            raise InvalidArgument(f"reference {text!r} is not normalised: parse it first")
        if self.tag is not None:
            validate_tag(self.tag)

    @property
    def repository(self) -> str:
        """``domain/path``: the name without tag or digest (Docker's ``Name()``)."""
        return f"{self.domain}/{self.path}"

    def familiar_name(self) -> str:
        """The name as ``docker images`` shows it: no ``docker.io/``, no ``library/``."""
        if self.domain != DEFAULT_DOMAIN:
            return self.repository
        rest = self.path.removeprefix(OFFICIAL_REPO_PREFIX)
        return rest if rest != self.path and "/" not in rest else self.path

    def familiar(self) -> str:
        """Docker's ``FamiliarString``: ``nginx:latest``, ``user/app@sha256:...``."""
        return self.familiar_name() + self._suffix()

    def fully_qualified(self) -> str:
        return self.repository + self._suffix()

    def __str__(self) -> str:
        return self.fully_qualified()

    def _suffix(self) -> str:
        tag = f":{self.tag}" if self.tag is not None else ""
        digest = f"@{self.digest}" if self.digest is not None else ""
        return tag + digest

    @property
    def name_only(self) -> bool:
        return self.tag is None and self.digest is None

    def with_default_tag(self) -> Reference:
        """Add ``:latest`` to a bare name (Docker's ``TagNameOnly``); others unchanged."""
        return self.with_tag(DEFAULT_TAG) if self.name_only else self

    def with_tag(self, tag: str) -> Reference:
        return Reference(self.domain, self.path, tag, self.digest)

    def with_digest(self, digest: Digest) -> Reference:
        return Reference(self.domain, self.path, self.tag, digest)

    def without_tag(self) -> Reference:
        return Reference(self.domain, self.path, None, self.digest)

    def trim(self) -> Reference:
        """The bare name, without tag or digest (Docker's ``TrimNamed``)."""
        return Reference(self.domain, self.path)


def validate_tag(tag: str) -> str:
    if not _TAG_RE.fullmatch(tag):
        raise InvalidArgument(f"invalid tag format: {tag!r}")
    return tag


def validate_repository_name(name: str) -> tuple[str, str]:
    """Check a name as a registry route carries it (``[domain/]path``, no normalisation);
    returns (domain or "", path)."""
    match = _NAME_RE.fullmatch(name) if len(name) <= _MAX_INPUT else None
    if match is None:
        raise InvalidArgument(f"invalid reference format: repository name {name!r}")
    if len(match.group(2)) > PATH_LENGTH_MAX:
        raise InvalidArgument(_too_long(match.group(2)))
    return match.group(1) or "", match.group(2)


def _too_long(name: str) -> str:
    return (
        f"invalid reference format: repository name ({name}) must not be more than "
        f"{PATH_LENGTH_MAX} characters"
    )


def _reads_as_domain(first: str) -> bool:
    """Docker's test for a domain as a name's first element."""
    return first == "localhost" or "." in first or ":" in first or first.lower() != first


def split_docker_domain(name: str) -> tuple[str, str]:
    """Split ``name`` (no tag yet removed) into domain and remainder, as Docker does."""
    first, slash, rest = name.partition("/")
    if not slash:
        return DEFAULT_DOMAIN, OFFICIAL_REPO_PREFIX + name
    if _reads_as_domain(first):
        domain, remainder = first, rest
    else:
        domain, remainder = DEFAULT_DOMAIN, name
    if domain == LEGACY_DEFAULT_DOMAIN:
        domain = DEFAULT_DOMAIN
    if domain == DEFAULT_DOMAIN and "/" not in remainder:
        remainder = OFFICIAL_REPO_PREFIX + remainder
    return domain, remainder


def _parse_digest(text: str, source: str) -> Digest:
    try:
        return Digest.parse(text)
    except DockyardError as exc:
        raise type(exc)(f"invalid reference format: {source!r}: {exc}") from exc


def _parse(text: str, source: str) -> Reference:
    """distribution's ``Parse`` of an already split ``domain/remainder``."""
    match = _REFERENCE_RE.fullmatch(text) if len(text) <= _MAX_INPUT else None
    if match is None:
        lowered = text.lower()
        if lowered != text and _REFERENCE_RE.fullmatch(lowered):
            raise InvalidArgument(
                f"invalid reference format: repository name ({source}) must be lowercase"
            )
        raise InvalidArgument(f"invalid reference format: {source!r}")
    name, tag, digest = match.group(1, 2, 3)
    named = _NAME_RE.fullmatch(name)
    if named is None or named.group(1) is None:  # cannot happen: the caller added a domain
        raise InvalidArgument(f"invalid reference format: {source!r}")
    if len(named.group(2)) > PATH_LENGTH_MAX:
        raise InvalidArgument(_too_long(named.group(2)))
    return Reference(
        domain=named.group(1),
        path=named.group(2),
        tag=tag,
        digest=_parse_digest(digest, source) if digest else None,
    )


def parse_reference(text: str) -> Reference:
    """Parse a name as users type it (Docker's ``ParseNormalizedNamed``).

    ``nginx`` -> ``docker.io/library/nginx``; no default tag is added (see
    :meth:`Reference.with_default_tag`).
    """
    if text == "":
        raise InvalidArgument(
            "invalid reference format: repository name must have at least one component"
        )
    if _IDENTIFIER_RE.fullmatch(text):
        raise InvalidArgument(
            f"invalid repository name ({text}), cannot specify 64-byte hexadecimal strings"
        )
    domain, remainder = split_docker_domain(text)
    remote = remainder.partition(":")[0]
    if remote.lower() != remote:
        raise InvalidArgument(
            f"invalid reference format: repository name ({remote}) must be lowercase"
        )
    return _parse(f"{domain}/{remainder}", text)


def parse_docker_reference(text: str) -> Reference:
    """Docker's ``ParseDockerRef``: tagged or digested, never both, never bare.

    ``busybox`` -> ``docker.io/library/busybox:latest``; a reference with both a tag and a
    digest keeps only the digest.
    """
    ref = parse_reference(text)
    if ref.tag is not None and ref.digest is not None:
        return ref.without_tag()
    return ref.with_default_tag()


def parse_any_reference(text: str) -> Reference | Digest:
    """Docker's ``ParseAnyReference``: a 64-hex ID or a full digest is a :class:`Digest`;
    anything else is parsed as a name."""
    if _IDENTIFIER_RE.fullmatch(text):
        return Digest("sha256", text)
    try:
        return Digest.parse(text)
    except DockyardError:
        pass
    return parse_reference(text)


def id_prefix(text: str) -> str | None:
    """The hex of an image-ID prefix (``3f57d9401f8d``, ``sha256:3f57``), or None.

    Docker falls back to looking an image up by ID prefix when a name is not found.
    """
    match = _ID_PREFIX_RE.fullmatch(text)
    return match.group(1) if match else None
