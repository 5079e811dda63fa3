"""Image lookup (dockyard.images.resolve): IDs, prefixes, names and digests as dockerd 20.10."""

from __future__ import annotations

import pytest

from dockyard.errors import InvalidArgument, NotFound
from dockyard.images.resolve import (
    Candidate,
    Lookup,
    by_id_prefix,
    is_id_prefix,
    lookup,
    record_key,
)
from dockyard.images.store import ImageRecord, Target
from dockyard.oci import mediatypes as mt
from dockyard.oci.digest import Digest
from dockyard.oci.reference import parse_reference

BUSYBOX = Digest("sha256", "cbd6520f9b0c" + "1" * 52)
ALPINE = Digest("sha256", "cbd7" + "2" * 60)
OTHER = Digest("sha256", "42c6d2d5866b" + "3" * 52)
MANIFEST = Digest("sha256", "a" * 64)


def _candidate(name: str, image: Digest, manifest: Digest = MANIFEST) -> Candidate:
    return Candidate(ImageRecord(name, Target(mt.DOCKER_MANIFEST, manifest, 100), 1.0, 1.0), image)


CANDIDATES = [
    _candidate("docker.io/library/busybox:latest", BUSYBOX),
    _candidate("docker.io/library/alpine:3.10", ALPINE),
    _candidate("localhost:5000/a/b:v1", OTHER),
    _candidate(f"docker.io/library/digested@{MANIFEST}", OTHER),
    _candidate(f"moby-dangling@sha256:{'b' * 64}", OTHER),
]


@pytest.mark.parametrize(
    ("text", "image"),
    [
        (str(BUSYBOX), BUSYBOX),
        (BUSYBOX.encoded, BUSYBOX),
        ("busybox", BUSYBOX),
        ("busybox:latest", BUSYBOX),
        ("docker.io/library/busybox:latest", BUSYBOX),
        ("library/busybox", BUSYBOX),
        ("alpine:3.10", ALPINE),
        ("localhost:5000/a/b:v1", OTHER),
        (f"digested@{MANIFEST}", OTHER),
        (f"digested:sometag@{MANIFEST}", OTHER),
        ("cbd65", BUSYBOX),
        ("sha256:cbd65", BUSYBOX),
        ("42", OTHER),
    ],
)
def test_lookup_finds(text: str, image: Digest) -> None:
    assert lookup(text, CANDIDATES).image_id == image


def test_lookup_reports_the_name_it_used() -> None:
    assert lookup("busybox", CANDIDATES) == Lookup(BUSYBOX, parse_reference("busybox"))
    assert lookup(str(BUSYBOX), CANDIDATES) == Lookup(BUSYBOX, None)


def test_a_manifest_digest_of_the_same_repository_finds_a_tagged_image() -> None:
    found = lookup(f"busybox@{MANIFEST}", CANDIDATES)
    assert found.image_id == BUSYBOX


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("nosuchimage", "No such image: nosuchimage:latest"),
        ("alpine", "No such image: alpine:latest"),
        ("cbd", "No such image: cbd:latest"),  # ambiguous prefix: not found, as dockerd 20.10
        ("sha256:42x", "No such image: sha256:42x"),
        ("0" * 64, f"No such image: sha256:{'0' * 64}"),
        (f"sha256:{'0' * 64}", f"No such image: sha256:{'0' * 64}"),
        (f"other@{MANIFEST}", f"No such image: other@{MANIFEST}"),
        ("localhost:5000/a/b", "No such image: localhost:5000/a/b:latest"),
    ],
)
def test_lookup_misses_with_dockerd_text(text: str, message: str) -> None:
    with pytest.raises(NotFound) as caught:
        lookup(text, CANDIDATES)
    assert str(caught.value) == message


def test_a_malformed_name_is_invalid() -> None:
    with pytest.raises(InvalidArgument):
        lookup("UPPER", CANDIDATES)
    with pytest.raises(InvalidArgument):
        lookup("a b", CANDIDATES)


def test_dangling_records_are_no_name() -> None:
    with pytest.raises(NotFound):
        lookup("moby-dangling", CANDIDATES)


def test_prefix_rules() -> None:
    assert by_id_prefix("cbd", CANDIDATES) is None
    assert by_id_prefix("cbd6", CANDIDATES) == BUSYBOX
    assert by_id_prefix("xyz", CANDIDATES) is None
    assert is_id_prefix(BUSYBOX, "cbd6")
    assert is_id_prefix(BUSYBOX, "sha256:cbd6")
    assert not is_id_prefix(BUSYBOX, "busybox")


def test_record_keys() -> None:
    assert record_key(parse_reference("busybox")) == "docker.io/library/busybox:latest"
    assert record_key(parse_reference(f"a/b:t@{MANIFEST}")) == f"docker.io/a/b@{MANIFEST}"
