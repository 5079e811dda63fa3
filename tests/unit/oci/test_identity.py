"""ChainIDs and image IDs (OCI image spec config.md)."""

from __future__ import annotations

import hashlib

import pytest

from dockyard import errors
from dockyard.oci.digest import Digest
from dockyard.oci.identity import chain_id, chain_ids, image_id

A = Digest.of(b"layer a")
B = Digest.of(b"layer b")
C = Digest.of(b"layer c")


def _sha(text: str) -> Digest:
    return Digest("sha256", hashlib.sha256(text.encode()).hexdigest())


def test_chain_ids_follow_the_spec_formula() -> None:
    ab = _sha(f"{A} {B}")
    abc = _sha(f"{ab} {C}")
    assert chain_ids([A, B, C]) == [A, ab, abc]
    assert chain_id([A, B, C]) == abc
    assert chain_id([A]) == A


def test_known_vector() -> None:
    # Two layers whose diffIDs are the digests of empty input and of "a".
    lower = Digest.parse("sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
    upper = Digest.parse("sha256:ca978112ca1bbdcafac231b39a23dc4da786eff8147c4e72b9807785afee48bb")
    assert str(chain_id([lower, upper])) == (
        "sha256:54310b28337ccdbb5477f2808753d5b0e7c87d84187cee28a330a3e71f6c16fc"
    )


def test_chain_id_of_nothing_is_an_error() -> None:
    assert chain_ids([]) == []
    with pytest.raises(errors.InvalidArgument, match="no layers"):
        chain_id([])


def test_image_id_is_the_config_digest() -> None:
    assert image_id(b'{"a":1}') == Digest.of(b'{"a":1}')
