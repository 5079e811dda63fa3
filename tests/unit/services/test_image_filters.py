"""Image list and prune filters: Go path.Match globs, labels, dangling, durations, times."""

from __future__ import annotations

import fnmatch
import string
from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from dockyard.errors import InvalidArgument
from dockyard.oci.reference import parse_reference
from dockyard.services.image_filters import (
    check_keys,
    dangling_only,
    go_path_match,
    match_labels,
    match_prune_labels,
    match_reference,
    parse_go_duration,
    parse_timestamp,
    parse_until,
)


@pytest.mark.parametrize(
    ("pattern", "name", "matched"),
    [
        ("busybox", "busybox", True),
        ("busybox:*", "busybox:latest", True),
        ("busy*", "busybox", True),
        ("*", "a/b", False),  # * stops at /
        ("*/*", "a/b", True),
        ("a?c", "abc", True),
        ("a?c", "a/c", False),
        ("[a-c]x", "bx", True),
        ("[^a-c]x", "bx", False),
        ("[^a-c]x", "dx", True),
        ("a\\*", "a*", True),
        ("a\\*", "ab", False),
        ("localhost:5000/*:v1", "localhost:5000/app:v1", True),
        ("a.c", "abc", False),
    ],
)
def test_go_path_match(pattern: str, name: str, matched: bool) -> None:
    assert go_path_match(pattern, name) is matched


@pytest.mark.parametrize("pattern", ["[", "[]", "[a-", "a\\", "[z-a]", "[-a]"])
def test_bad_patterns(pattern: str) -> None:
    with pytest.raises(InvalidArgument, match="syntax error in pattern"):
        go_path_match(pattern, "a")


@given(st.text(alphabet=string.ascii_lowercase + "*?", max_size=6),
       st.text(alphabet=string.ascii_lowercase, max_size=6))
def test_globs_without_slashes_agree_with_fnmatch(pattern: str, name: str) -> None:
    assert go_path_match(pattern, name) == fnmatch.fnmatchcase(name, pattern)


def test_reference_matches_the_tagged_then_the_bare_familiar_name() -> None:
    busybox = parse_reference("docker.io/library/busybox:latest")
    assert match_reference(["busybox"], busybox)
    assert match_reference(["busybox:latest"], busybox)
    assert match_reference(["busybox:*"], busybox)
    assert match_reference(["nope", "busy*"], busybox)
    assert not match_reference(["docker.io/library/busybox"], busybox)
    assert not match_reference(["bus"], busybox)


def test_labels() -> None:
    labels = {"a": "1", "b": ""}
    assert match_labels([], None)
    assert match_labels(["a"], labels)
    assert match_labels(["a=1", "b"], labels)
    assert match_labels(["b="], labels)
    assert not match_labels(["a=2"], labels)
    assert not match_labels(["c"], labels)
    assert not match_labels(["a"], None)
    assert match_prune_labels({"label!": ["c"]}, labels)
    assert not match_prune_labels({"label!": ["a=1"]}, labels)
    assert not match_prune_labels({"label": ["a"], "label!": ["b"]}, labels)


def test_dangling() -> None:
    assert dangling_only({}, prune=False) is False
    assert dangling_only({}, prune=True) is True
    assert dangling_only({"dangling": ["true"]}, prune=False) is True
    assert dangling_only({"dangling": ["false"]}, prune=False) is False
    assert dangling_only({"dangling": ["0"]}, prune=True) is False
    with pytest.raises(InvalidArgument) as caught:
        dangling_only({"dangling": ["maybe"]}, prune=False)
    assert str(caught.value) == "Invalid filter 'dangling=[maybe]'"
    with pytest.raises(InvalidArgument):
        dangling_only({"dangling": ["1"]}, prune=False)


def test_unknown_keys() -> None:
    check_keys({"label": []}, frozenset({"label"}))
    with pytest.raises(InvalidArgument) as caught:
        check_keys({"foo": ["bar"]}, frozenset({"label"}))
    assert str(caught.value) == "Invalid filter 'foo'"


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("0", 0.0), ("10s", 10.0), ("1h30m", 5400.0), ("1.5h", 5400.0), ("300ms", 0.3),
     ("-2m", -120.0), ("1m0.5s", 60.5)],
)
def test_go_durations(text: str, seconds: float) -> None:
    assert parse_go_duration(text) == pytest.approx(seconds)


@pytest.mark.parametrize("text", ["", "10", "s", "1x", ".s", "1h-2m"])
def test_bad_go_durations(text: str) -> None:
    with pytest.raises(InvalidArgument):
        parse_go_duration(text)


def test_timestamps() -> None:
    now = 1_800_000_000.0
    assert parse_timestamp("24h", now) == now - 86400
    assert parse_timestamp("1700000000", now) == 1_700_000_000.0
    assert parse_timestamp("1700000000.5", now) == 1_700_000_000.5
    day = datetime(2024, 1, 2, tzinfo=UTC).timestamp()
    assert parse_timestamp("2024-01-02", now) == day
    assert parse_timestamp("2024-01-02T00:00:00Z", now) == day
    assert parse_timestamp("2024-01-02T01:00:00+01:00", now) == day
    with pytest.raises(InvalidArgument):
        parse_timestamp("yesterday", now)
    assert parse_until({}, now) is None
    with pytest.raises(InvalidArgument):
        parse_until({"until": ["1h", "2h"]}, now)
