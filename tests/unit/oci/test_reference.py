"""References: the value object's rules, its derived forms, and round trips under Hypothesis."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from dockyard import errors
from dockyard.oci.digest import Digest
from dockyard.oci.reference import (
    Reference,
    id_prefix,
    parse_any_reference,
    parse_reference,
    validate_repository_name,
    validate_tag,
)

DIGEST = Digest("sha256", "ab" * 32)

alnum = st.text("abcdefghijklmnopqrstuvwxyz0123456789", min_size=1, max_size=8)
separator = st.sampled_from([".", "_", "__", "-", "--"])
path_component = st.builds(
    lambda first, rest: first + "".join(s + a for s, a in rest),
    alnum,
    st.lists(st.tuples(separator, alnum), max_size=3),
)
paths = st.lists(path_component, min_size=1, max_size=4).map("/".join)
domain_label = st.from_regex(r"[a-zA-Z0-9]([a-zA-Z0-9-]{0,6}[a-zA-Z0-9])?", fullmatch=True)
hosts = st.one_of(
    st.lists(domain_label, min_size=2, max_size=3).map(".".join),
    st.just("localhost"),
    st.from_regex(r"\[[0-9a-f]{0,4}(:[0-9a-f]{0,4}){1,7}\]", fullmatch=True),
    domain_label.filter(lambda label: label.lower() != label),  # upper case: always a domain
)
ports = st.one_of(st.just(""), st.integers(1, 65535).map(lambda p: f":{p}"))
tags = st.from_regex(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,20}", fullmatch=True)
digests = st.binary(min_size=32, max_size=32).map(lambda b: Digest("sha256", b.hex()))


@st.composite
def references(draw: st.DrawFn) -> Reference:
    tag = draw(st.none() | tags)
    digest = draw(st.none() | digests)
    if draw(st.booleans()):
        path = draw(paths)
        if "/" not in path:
            path = "library/" + path
        return Reference("docker.io", path, tag, digest)
    domain = draw(hosts) + draw(ports)
    if domain == "index.docker.io":
        domain = "docker.io"
    return Reference(domain, draw(paths), tag, digest)


def _familiar_is_ambiguous(ref: Reference) -> bool:
    """Docker's familiar form of docker.io/foo.com/x is foo.com/x, another domain."""
    first = ref.familiar_name().split("/")[0]
    return ref.domain == "docker.io" and (
        "." in first or first == "localhost" or len(ref.familiar_name()) == 64
    )


@given(references())
def test_fully_qualified_form_parses_back(ref: Reference) -> None:
    assert parse_reference(str(ref)) == ref


@given(references())
def test_familiar_form_parses_back(ref: Reference) -> None:
    if not _familiar_is_ambiguous(ref):
        assert parse_reference(ref.familiar()) == ref


@given(st.text(max_size=80))
def test_any_text_parses_to_a_fixed_point_or_invalid_argument(text: str) -> None:
    check_fixed_point(text)


@given(st.from_regex(r"[a-zA-Z0-9:/._@-]{1,60}", fullmatch=True))
def test_reference_like_text_parses_to_a_fixed_point(text: str) -> None:
    check_fixed_point(text)


def check_fixed_point(text: str) -> None:
    try:
        ref = parse_reference(text)
    except (errors.InvalidArgument, errors.Unsupported):
        return
    assert parse_reference(str(ref)) == ref


def test_derived_forms() -> None:
    ref = parse_reference("nginx")
    assert (ref.repository, ref.familiar_name(), ref.name_only) == (
        "docker.io/library/nginx", "nginx", True,
    )
    assert str(ref.with_default_tag()) == "docker.io/library/nginx:latest"
    assert ref.with_default_tag().familiar() == "nginx:latest"
    pinned = ref.with_digest(DIGEST)
    assert pinned.with_default_tag() == pinned
    tagged = pinned.with_tag("1.25")
    assert tagged.familiar() == f"nginx:1.25@{DIGEST}"
    assert tagged.without_tag() == pinned
    assert tagged.trim() == ref


def test_familiar_names() -> None:
    cases = {
        "docker.io/library/redis": "redis",
        "docker.io/library/foo/bar": "library/foo/bar",
        "docker.io/dmcgowan/myapp": "dmcgowan/myapp",
        "localhost:5000/a/b": "localhost:5000/a/b",
        "quay.io/library/redis": "quay.io/library/redis",
    }
    assert {text: parse_reference(text).familiar_name() for text in cases} == cases


def test_constructor_refuses_forms_that_normalisation_changes() -> None:
    for domain, path in [("docker.io", "nginx"), ("index.docker.io", "library/nginx")]:
        with pytest.raises(errors.InvalidArgument, match="not normalised"):
            Reference(domain, path)


def test_constructor_checks_grammar() -> None:
    bad = [("docker.io", "library/Nginx"), ("-x.com", "a"), ("x.com", "a//b"), ("", "a/b")]
    with pytest.raises(errors.InvalidArgument, match="'foo' does not read as a domain"):
        Reference("foo", "bar")
    for domain, path in bad:
        with pytest.raises(errors.InvalidArgument, match="invalid reference format"):
            Reference(domain, path)
    with pytest.raises(errors.InvalidArgument, match="invalid tag format: '-x'"):
        Reference("docker.io", "library/a", "-x")
    with pytest.raises(errors.InvalidArgument, match="must not be more than 255"):
        Reference("x.com", "a" * 256)


def test_validate_tag() -> None:
    assert validate_tag("v1.0_rc-2") == "v1.0_rc-2"
    for bad in ["", ".x", "-x", "a" * 129, "a:b", "ä"]:
        with pytest.raises(errors.InvalidArgument, match="invalid tag format"):
            validate_tag(bad)


def test_validate_repository_name_does_not_normalise() -> None:
    assert validate_repository_name("library/nginx") == ("library", "nginx")
    assert validate_repository_name("nginx") == ("", "nginx")
    assert validate_repository_name("localhost:5000/a/b") == ("localhost:5000", "a/b")
    for bad in ["Library/nginx/X", "a//b", "a:tag", "", "a" * 2000]:
        with pytest.raises(errors.InvalidArgument, match="invalid reference format"):
            validate_repository_name(bad)
    with pytest.raises(errors.InvalidArgument, match="must not be more than 255"):
        validate_repository_name("x.com/" + "a" * 256)


def test_parse_any_reference_types() -> None:
    hex64 = "ab" * 32
    assert parse_any_reference(hex64) == Digest("sha256", hex64)
    assert parse_any_reference(f"sha256:{hex64}") == Digest("sha256", hex64)
    assert parse_any_reference("md5:" + "a" * 32) == parse_reference("md5:" + "a" * 32)
    assert parse_any_reference("ab12") == parse_reference("ab12")


def test_id_prefix() -> None:
    cases = {"3f57d9401f8d": "3f57d9401f8d", "sha256:3f57": "3f57", "a" * 64: "a" * 64,
             "nginx": None, "a" * 65: None, "3F57": None, "": None, "sha256:": None}
    assert {text: id_prefix(text) for text in cases} == cases


def test_long_hostile_input_is_refused_quickly() -> None:
    for text in ["a" * 5000, "a-" * 3000 + "!", "a." * 3000 + "/x", "[" + "a:" * 3000]:
        with pytest.raises(errors.InvalidArgument):
            parse_reference(text)
