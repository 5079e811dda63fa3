"""The busybox rootfs tar: layout, links, ownership, determinism."""

from __future__ import annotations

import io
import tarfile

from dockyard.cli.rootfs import applet_paths, busybox_tar

LISTING = ["usr/bin/[", "bin/sh", "bin/busybox", "sbin/init", "linuxrc", "usr/sbin/chroot",
           "bin/ls"]


def build(mtime: int = 0) -> bytes:
    out = io.BytesIO()
    busybox_tar(b"\x7fELF-binary", LISTING, out, mtime)
    return out.getvalue()


def test_layout() -> None:
    with tarfile.open(fileobj=io.BytesIO(build(1234))) as tar:
        members = {m.name: m for m in tar.getmembers()}
        assert tar.extractfile("bin/busybox").read() == b"\x7fELF-binary"  # type: ignore[union-attr]
        assert tar.extractfile("etc/passwd").read().decode().splitlines() == [  # type: ignore[union-attr]
            "root:x:0:0:root:/root:/bin/sh", "nobody:x:65534:65534:nobody:/home:/bin/false"]
    links = sorted(n for n, m in members.items() if m.islnk())
    assert links == ["bin/ls", "bin/sh", "linuxrc", "sbin/init", "usr/bin/[", "usr/sbin/chroot"]
    assert {members[n].linkname for n in links} == {"bin/busybox"}
    assert members["tmp"].mode == 0o1777 and members["root"].mode == 0o700
    assert {(m.uid, m.gid, m.mtime) for m in members.values()} == {(0, 0, 1234)}
    names = list(members)
    assert names.index("bin/busybox") < min(names.index(n) for n in links)


def test_same_input_same_bytes() -> None:
    assert build(5) == build(5)
    assert build(5) != build(6)


def test_applet_paths_skip_the_binary_and_slashes() -> None:
    assert applet_paths(["/bin/sh", "bin/busybox", "", "usr/bin/[\n"]) == ["bin/sh", "usr/bin/["]
