"""The images a build service found lately, by manifest digest and platform."""

from __future__ import annotations

from dockyard.build.job import BaseImage
from dockyard.oci.config import ImageConfig
from dockyard.oci.digest import Digest
from dockyard.oci.platform import Platform
from dockyard.services.build import Resolved

AMD64 = Platform("linux", "amd64")
ARM64 = Platform("linux", "arm64")


def _image(n: int) -> BaseImage:
    return BaseImage(str(Digest.of(b"%d" % n)), ImageConfig("amd64", "linux"))


def test_found_by_digest_and_platform_newest_kept() -> None:
    resolved = Resolved(size=2)
    one, two, three = Digest.of(b"1"), Digest.of(b"2"), Digest.of(b"3")
    resolved.put(one, AMD64, _image(1))
    resolved.put(two, AMD64, _image(2))
    assert (resolved.get(one, AMD64), resolved.get(one, ARM64)) == (_image(1), None)
    resolved.put(three, AMD64, _image(3))  # two is the least recently used
    assert [resolved.get(d, AMD64) for d in (one, two, three)] == [_image(1), None, _image(3)]
