"""Platforms (image-index.md ``platform``) and how to match them, as containerd's platforms
package does it: normalisation of names, the ``os/arch/variant`` specifier, and a matcher that
also accepts the older variants a CPU still runs (arm64 runs arm/v8..v5, amd64 runs 386).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass, field

from dockyard.errors import InvalidArgument
from dockyard.oci.codec import JSON, Fields

KNOWN_OS = frozenset({"aix", "android", "darwin", "dragonfly", "freebsd", "hurd", "illumos", "ios",
                      "js", "linux", "nacl", "netbsd", "openbsd", "plan9", "solaris", "windows",
                      "zos"})
KNOWN_ARCH = frozenset({"386", "amd64", "amd64p32", "arm", "armbe", "arm64", "arm64be", "ppc64",
                        "ppc64le", "loong64", "mips", "mipsle", "mips64", "mips64le", "mips64p32",
                        "mips64p32le", "ppc", "riscv", "riscv64", "s390", "s390x", "sparc",
                        "sparc64", "wasm"})
_MACHINES = {"x86_64": ("amd64", ""), "amd64": ("amd64", ""), "i386": ("386", ""),
             "i486": ("386", ""), "i586": ("386", ""), "i686": ("386", ""),
             "aarch64": ("arm64", ""), "arm64": ("arm64", ""), "armv8l": ("arm", "v8"),
             "armv7l": ("arm", "v7"), "armv6l": ("arm", "v6"), "armv5tel": ("arm", "v5"),
             "armv5tejl": ("arm", "v5"), "loongarch64": ("loong64", "")}


def normalize_os(name: str) -> str:
    name = name.lower()
    if name == "":
        return "linux"
    return "darwin" if name == "macos" else name


def normalize_arch(arch: str, variant: str) -> tuple[str, str]:
    """containerd's normalizeArch: ``x86_64`` -> ``amd64``, ``aarch64`` -> ``arm64``, and so on."""
    arch, variant = arch.lower(), variant.lower()
    if arch == "i386":
        return "386", ""
    if arch in ("x86_64", "x86-64", "amd64"):
        return "amd64", "" if variant == "v1" else variant
    if arch in ("aarch64", "arm64"):
        if variant in ("8", "v8", "v8.0"):
            return "arm64", ""
        return "arm64", "v9" if variant in ("9", "9.0", "v9.0") else variant
    if arch == "armhf":
        return "arm", "v7"
    if arch == "armel":
        return "arm", "v6"
    if arch == "arm":
        if variant in ("", "7"):
            return "arm", "v7"
        if variant in ("5", "6", "8"):
            return "arm", "v" + variant
    return arch, variant


@dataclass(frozen=True, slots=True)
class Platform:
    """The platform an image or manifest is for. Empty strings mean "not given"."""

    architecture: str
    os: str
    os_version: str = ""
    os_features: tuple[str, ...] = ()
    variant: str = ""

    def normalize(self) -> Platform:
        arch, variant = normalize_arch(self.architecture, self.variant)
        features = tuple(sorted(set(self.os_features)))
        return Platform(arch, normalize_os(self.os), self.os_version, features, variant)

    @classmethod
    def current(cls, machine: str | None = None, system: str = "linux") -> Platform:
        """The host's platform, from ``uname -m`` unless ``machine`` is given."""
        machine = os.uname().machine if machine is None else machine
        arch, variant = _MACHINES.get(machine.lower(), (machine.lower(), ""))
        return cls(arch, system, variant=variant).normalize()

    @classmethod
    def parse(cls, specifier: str, host: Platform | None = None) -> Platform:
        """Parse ``os``, ``arch``, ``os/arch`` or ``os/arch/variant`` (docker ``--platform``);
        a missing part comes from ``host`` (default: :meth:`current`)."""
        parts = specifier.split("/")
        if len(parts) > 3 or any(not _specifier_part(part) for part in parts):
            raise InvalidArgument(f"invalid platform {specifier!r}: want os[/arch[/variant]]")
        if len(parts) == 1:
            return cls._parse_single(specifier, host or cls.current())
        arch, variant = normalize_arch(parts[1], parts[2] if len(parts) == 3 else "")
        if len(parts) == 2 and arch == "arm" and variant == "v7":
            variant = ""
        if len(parts) == 3 and arch == "arm64" and variant == "":
            variant = "v8"
        return cls(arch, normalize_os(parts[0]), variant=variant)

    @classmethod
    def _parse_single(cls, specifier: str, host: Platform) -> Platform:
        name = normalize_os(specifier)
        if name in KNOWN_OS:
            variant = host.variant if host.architecture == "arm" and host.variant != "v7" else ""
            return cls(host.architecture, name, variant=variant)
        arch, variant = normalize_arch(specifier, "")
        if arch == "arm" and variant == "v7":
            variant = ""
        if arch in KNOWN_ARCH:
            return cls(arch, host.os, variant=variant)
        raise InvalidArgument(f"invalid platform {specifier!r}: unknown os or architecture")

    def __str__(self) -> str:
        return "/".join(part for part in (self.os, self.architecture, self.variant) if part)

    def to_dict(self) -> dict[str, JSON]:
        out: dict[str, JSON] = {"architecture": self.architecture, "os": self.os}
        if self.os_version:
            out["os.version"] = self.os_version
        if self.os_features:
            out["os.features"] = list(self.os_features)
        if self.variant:
            out["variant"] = self.variant
        return out

    @classmethod
    def from_fields(cls, fields: Fields) -> Platform:
        """Read a platform object; unknown fields (Docker's ``features``) are dropped as Go does."""
        return cls(
            architecture=fields.string("architecture", required=True),
            os=fields.string("os", required=True),
            os_version=fields.string("os.version"),
            os_features=fields.strings("os.features") or (),
            variant=fields.string("variant"),
        )


def _specifier_part(part: str) -> bool:
    return part != "" and all(c.isascii() and (c.isalnum() or c in "_.-") for c in part)


def _lower_variants(prefix: str, newest: int, oldest: int, template: Platform) -> list[Platform]:
    return [
        Platform(template.architecture, template.os, template.os_version, template.os_features,
                 f"{prefix}{n}")
        for n in range(newest, oldest - 1, -1)
    ]


def _number(text: str) -> int | None:
    return int(text) if text.isascii() and text.isdigit() else None


def _arm64_levels(variant: str) -> list[tuple[int, int]] | None:
    """(major, newest minor) pairs an arm64 variant runs, newest first; v9.x also runs v8.(x+5)
    (v9.0 forked from v8.5). None for a variant containerd does not know."""
    major, dot, minor_text = variant.removeprefix("v").partition(".")
    minor = _number(minor_text) if dot else 0
    if minor is None or len(minor_text) > 1 or not variant.startswith("v"):
        return None
    if major == "8":
        return [(8, minor)]
    if major == "9" and minor <= 7:
        return [(9, minor), (8, min(minor + 5, 9))]
    return None


def _arm64_vector(p: Platform) -> list[Platform]:
    variant = p.variant or "v8"
    levels = _arm64_levels(variant)
    if levels is None:
        return [p]
    out = [
        Platform("arm64", p.os, p.os_version, p.os_features, f"v{major}.{m}" if m else f"v{major}")
        for major, newest in levels
        for m in range(newest, -1, -1)
    ]
    # Every arm64 v8.x and v9.x CPU also runs 32-bit arm/v8 and older.
    arm = Platform("arm", p.os, p.os_version, p.os_features, "v8")
    return out + platform_vector(arm)


def platform_vector(p: Platform) -> list[Platform]:
    """``p`` followed by the older platforms it can run, best first (containerd's Only)."""
    vector = [p]
    level = _number(p.variant.removeprefix("v"))
    if p.architecture == "amd64":
        if level is not None and level > 1:
            vector += _lower_variants("v", level - 1, 1, p)
        vector.append(Platform("386", p.os, p.os_version, p.os_features))
    elif p.architecture == "arm":
        if level is not None and level > 5:
            vector += _lower_variants("v", level - 1, 5, p)
    elif p.architecture == "arm64":
        vector = _arm64_vector(p)
    return vector


def _same(wanted: Platform, candidate: Platform) -> bool:
    """containerd's matcher: equal os, arch, variant; the candidate's features a subset."""
    got = candidate.normalize()
    if (wanted.os, wanted.architecture, wanted.variant) != (got.os, got.architecture, got.variant):
        return False
    # Windows runs an image only on the same build: major.minor.build must agree.
    if wanted.os == "windows" and not _same_build(wanted.os_version, candidate.os_version):
        return False
    return set(got.os_features) <= set(wanted.os_features)


def _same_build(wanted: str, got: str) -> bool:
    return not wanted or not got or wanted.split(".")[:3] == got.split(".")[:3]


@dataclass(frozen=True, slots=True)
class PlatformMatcher:
    """Matches platforms against an ordered list of wanted ones; earlier ranks first."""

    wanted: tuple[Platform, ...] = field(default=())

    @classmethod
    def only(cls, platform: Platform) -> PlatformMatcher:
        """``platform`` and what it also runs (containerd ``platforms.Only``)."""
        return cls(tuple(w.normalize() for w in platform_vector(platform.normalize())))

    @classmethod
    def strict(cls, platform: Platform) -> PlatformMatcher:
        """``platform`` alone (containerd ``platforms.OnlyStrict``)."""
        return cls((platform.normalize(),))

    @classmethod
    def ordered(cls, platforms: Sequence[Platform]) -> PlatformMatcher:
        return cls(tuple(p.normalize() for p in platforms))

    def rank(self, candidate: Platform | None) -> int | None:
        """The index of the first wanted platform ``candidate`` matches, or None."""
        if candidate is None:
            return None
        for index, wanted in enumerate(self.wanted):
            if _same(wanted, candidate):
                return index
        return None

    def match(self, candidate: Platform | None) -> bool:
        return self.rank(candidate) is not None
