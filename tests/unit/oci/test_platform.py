"""Platforms: normalisation, specifiers, the host platform and matching (containerd's rules)."""

from __future__ import annotations

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from dockyard import errors
from dockyard.oci.platform import Platform, PlatformMatcher, normalize_arch

AMD64 = Platform("amd64", "linux")
ARM64 = Platform("arm64", "linux")


def test_normalize_arch() -> None:
    cases = {
        ("x86_64", ""): ("amd64", ""),
        ("x86-64", ""): ("amd64", ""),
        ("AMD64", "v1"): ("amd64", ""),
        ("amd64", "v3"): ("amd64", "v3"),
        ("aarch64", ""): ("arm64", ""),
        ("arm64", "v8"): ("arm64", ""),
        ("arm64", "8"): ("arm64", ""),
        ("arm64", "v8.0"): ("arm64", ""),
        ("arm64", "9.0"): ("arm64", "v9"),
        ("arm64", "v8.2"): ("arm64", "v8.2"),
        ("i386", "whatever"): ("386", ""),
        ("armhf", ""): ("arm", "v7"),
        ("armel", ""): ("arm", "v6"),
        ("arm", ""): ("arm", "v7"),
        ("arm", "6"): ("arm", "v6"),
        ("arm", "v5"): ("arm", "v5"),
        ("riscv64", ""): ("riscv64", ""),
    }
    assert {case: normalize_arch(*case) for case in cases} == cases


def test_normalize_platform() -> None:
    raw = Platform("x86_64", "Linux", os_features=("b", "a", "b"))
    assert raw.normalize() == Platform("amd64", "linux", os_features=("a", "b"))
    assert Platform("arm64", "MacOS", variant="v8").normalize() == Platform("arm64", "darwin")
    assert Platform("arm64", "").normalize().os == "linux"


def test_current_from_uname_machine() -> None:
    cases = {"x86_64": AMD64, "aarch64": ARM64, "armv7l": Platform("arm", "linux", variant="v7"),
             "armv6l": Platform("arm", "linux", variant="v6"), "i686": Platform("386", "linux"),
             "s390x": Platform("s390x", "linux"), "ppc64le": Platform("ppc64le", "linux")}
    assert {machine: Platform.current(machine) for machine in cases} == cases
    assert Platform.current().os == "linux"


@pytest.mark.parametrize(
    ("specifier", "expected"),
    [
        ("linux/amd64", AMD64),
        ("linux/x86_64", AMD64),
        ("Linux/AMD64", AMD64),
        ("linux/arm64", ARM64),
        ("linux/arm64/v8", Platform("arm64", "linux", variant="v8")),
        ("linux/arm", Platform("arm", "linux")),
        ("linux/arm/v7", Platform("arm", "linux", variant="v7")),
        ("linux/arm/6", Platform("arm", "linux", variant="v6")),
        ("windows/amd64", Platform("amd64", "windows")),
        ("linux", AMD64),
        ("arm64", ARM64),
        ("aarch64", ARM64),
        ("armhf", Platform("arm", "linux")),
        ("armel", Platform("arm", "linux", variant="v6")),
    ],
)
def test_parse_specifier(specifier: str, expected: Platform) -> None:
    assert Platform.parse(specifier, host=AMD64) == expected


def test_parse_os_alone_takes_the_host_arm_variant() -> None:
    host = Platform("arm", "linux", variant="v6")
    assert Platform.parse("linux", host=host) == host
    assert Platform.parse("linux", host=Platform("arm", "linux", variant="v7")) == Platform(
        "arm", "linux"
    )


@pytest.mark.parametrize("specifier", ["", "/", "linux/", "linux/amd64/v1/x", "linux/*",
                                       "nonsense", "linux/am d64"])
def test_parse_errors_name_the_specifier(specifier: str) -> None:
    with pytest.raises(errors.InvalidArgument, match=re.escape(f"invalid platform {specifier!r}")):
        Platform.parse(specifier, host=AMD64)


def test_str() -> None:
    assert [str(p) for p in (AMD64, Platform("arm", "linux", variant="v7"))] == [
        "linux/amd64", "linux/arm/v7",
    ]


ONLY = {
    "linux/amd64": (["linux/amd64", "linux/386"],
                    ["linux/amd64/v2", "linux/arm/v7", "linux/arm64", "windows/amd64"]),
    "linux/amd64/v2": (["linux/amd64", "linux/amd64/v1", "linux/amd64/v2", "linux/386"],
                       ["linux/amd64/v3", "linux/arm/v7", "linux/arm64"]),
    "linux/386": (["linux/386"], ["linux/amd64", "linux/arm64"]),
    "linux/arm/v8": (["linux/arm", "linux/arm/v5", "linux/arm/v6", "linux/arm/v7",
                      "linux/arm/v8"], ["linux/arm/v4", "linux/arm64", "linux/amd64"]),
    "linux/arm/v7": (["linux/arm", "linux/arm/v5", "linux/arm/v6", "linux/arm/v7"],
                     ["linux/arm/v4", "linux/arm/v8", "linux/arm64"]),
    "linux/arm/v6": (["linux/arm/v5", "linux/arm/v6"], ["linux/arm", "linux/arm/v7"]),
    "linux/arm64": (["linux/arm", "linux/arm/v5", "linux/arm/v8", "linux/arm64",
                     "linux/arm64/v8"], ["linux/arm/v4", "linux/arm/v9", "linux/arm64/v9",
                                         "linux/amd64", "windows/arm"]),
    "linux/arm64/v8.1": (["linux/arm/v8", "linux/arm64", "linux/arm64/v8.1"],
                         ["linux/arm64/v8.2", "linux/arm64/v9"]),
    "linux/arm64/v9": (["linux/arm", "linux/arm/v8", "linux/arm64", "linux/arm64/v8.5",
                        "linux/arm64/v9", "linux/arm64/v9.0"],
                       ["linux/arm64/v8.6", "linux/arm64/v9.1", "linux/arm/v4"]),
}


@pytest.mark.parametrize("wanted", sorted(ONLY))
def test_only_matches_what_the_cpu_runs(wanted: str) -> None:
    matcher = PlatformMatcher.only(Platform.parse(wanted, host=AMD64))
    yes, no = ONLY[wanted]
    got = {spec: matcher.match(Platform.parse(spec, host=AMD64)) for spec in yes + no}
    assert got == {spec: spec in yes for spec in yes + no}


def test_strict_matches_only_the_platform() -> None:
    matcher = PlatformMatcher.strict(Platform.parse("linux/arm64", host=AMD64))
    candidates = ["linux/arm64", "linux/arm64/v8", "linux/arm/v8", "linux/arm64/v9"]
    got = {c: matcher.match(Platform.parse(c, host=AMD64)) for c in candidates}
    assert got == {"linux/arm64": True, "linux/arm64/v8": True, "linux/arm/v8": False,
                   "linux/arm64/v9": False}


def test_rank_orders_by_preference() -> None:
    matcher = PlatformMatcher.only(Platform("amd64", "linux", variant="v3"))
    ranks = [matcher.rank(Platform("amd64", "linux", variant=v)) for v in ("v3", "v2", "", "v4")]
    assert ranks == [0, 1, 2, None]
    assert matcher.rank(Platform("386", "linux")) == 3
    assert matcher.rank(None) is None


def test_os_features_must_be_a_subset() -> None:
    matcher = PlatformMatcher.strict(Platform("amd64", "windows", os_features=("win32k",)))
    assert matcher.match(Platform("amd64", "windows", os_features=("win32k",)))
    assert matcher.match(Platform("amd64", "windows"))
    assert not matcher.match(Platform("amd64", "windows", os_features=("other",)))


def test_windows_builds_must_agree() -> None:
    matcher = PlatformMatcher.strict(Platform("amd64", "windows", os_version="10.0.17763.1"))
    assert matcher.match(Platform("amd64", "windows", os_version="10.0.17763.2300"))
    assert matcher.match(Platform("amd64", "windows"))
    assert not matcher.match(Platform("amd64", "windows", os_version="10.0.20348.1"))


@given(st.sampled_from(["386", "amd64", "arm", "arm64", "ppc64le", "s390x", "riscv64"]),
       st.sampled_from(["", "v5", "v6", "v7", "v8", "v8.3", "v9", "v2", "v3"]))
def test_a_platform_always_matches_itself(arch: str, variant: str) -> None:
    platform = Platform(arch, "linux", variant=variant)
    assert PlatformMatcher.only(platform).rank(platform) == 0
    assert platform.normalize().normalize() == platform.normalize()
