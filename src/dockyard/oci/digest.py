"""Content digests as the OCI image spec defines them (descriptor.md, "Digests").

A digest is ``algorithm:encoded``. dockyard computes and stores sha256 only; sha512 digests are
parsed and verified so content from elsewhere is still checked.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass

from dockyard.errors import InvalidArgument, Unsupported

_ENCODED = {"sha256": re.compile(r"[a-f0-9]{64}"), "sha512": re.compile(r"[a-f0-9]{128}")}
_GRAMMAR = re.compile(r"[a-z0-9]+(?:[+._-][a-z0-9]+)*:[a-zA-Z0-9=_-]+")


@dataclass(frozen=True, slots=True, order=True)
class Digest:
    """A validated digest. ``str(d)`` is the canonical ``sha256:<hex>`` text."""

    algorithm: str
    encoded: str

    @classmethod
    def parse(cls, text: str) -> Digest:
        if not _GRAMMAR.fullmatch(text):
            raise InvalidArgument(f"invalid digest {text!r}: want algorithm:hex")
        algorithm, encoded = text.split(":", 1)
        pattern = _ENCODED.get(algorithm)
        if pattern is None:
            raise Unsupported(f"unsupported digest algorithm {algorithm!r} in {text!r}")
        if not pattern.fullmatch(encoded):
            raise InvalidArgument(f"invalid {algorithm} digest {text!r}")
        return cls(algorithm, encoded)

    @classmethod
    def of(cls, data: bytes) -> Digest:
        return cls("sha256", hashlib.sha256(data).hexdigest())

    @classmethod
    def from_hasher(cls, hasher: hashlib._Hash) -> Digest:
        return cls(hasher.name, hasher.hexdigest())

    def hasher(self) -> hashlib._Hash:
        return hashlib.new(self.algorithm)

    def __str__(self) -> str:
        return f"{self.algorithm}:{self.encoded}"

    @property
    def short(self) -> str:
        """The 12-hex-digit form docker prints in tables."""
        return self.encoded[:12]
