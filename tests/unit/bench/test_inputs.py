"""bench/inputs.py: the nonce appended to a rootfs tar, and the tiny distinct rootfs tars."""

from __future__ import annotations

import hashlib
import io
import tarfile
from collections.abc import Callable
from pathlib import Path
from types import ModuleType

import pytest

BenchModule = Callable[[str], ModuleType]


def test_append_nonce_adds_one_member(bench_module: BenchModule, tmp_path: Path) -> None:
    inputs = bench_module("bench.inputs")
    tar_path = tmp_path / "base.tar"
    with tarfile.open(tar_path, "w") as tar:
        tar.add(__file__, arcname="./etc/hello")
    inputs.append_nonce(tar_path, "abc")
    with tarfile.open(tar_path) as tar:
        assert tar.getnames() == ["./etc/hello", "./dockyard-bench-nonce"]
        member = tar.extractfile("./dockyard-bench-nonce")
        assert member is not None
        assert member.read() == b"abc\n"


def test_tiny_rootfs_is_small_distinct_and_repeatable(bench_module: BenchModule) -> None:
    inputs = bench_module("bench.inputs")
    tars = [inputs.tiny_rootfs(i) for i in range(200)]
    assert len({hashlib.sha256(t).digest() for t in tars}) == 200
    assert inputs.tiny_rootfs(7) == tars[7]
    assert max(len(t) for t in tars) <= 16 * 1024


def test_tiny_rootfs_members(bench_module: BenchModule) -> None:
    inputs = bench_module("bench.inputs")
    with tarfile.open(fileobj=io.BytesIO(inputs.tiny_rootfs(3))) as tar:
        members = {m.name: (m.type, m.mode, m.size) for m in tar.getmembers()}
        bench_id = tar.extractfile("etc/bench-id")
        assert bench_id is not None
        content = bench_id.read()
    assert members == {
        "etc": (tarfile.DIRTYPE, 0o755, 0),
        "tmp": (tarfile.DIRTYPE, 0o1777, 0),
        "etc/hostname": (tarfile.REGTYPE, 0o644, 15),
        "etc/bench-id": (tarfile.REGTYPE, 0o644, 2 + 2048 + 1),
    }
    assert content.startswith(b"3\n")


FAKE_BUSYBOX = """#!/bin/sh
test "$1" = --list-full || exit 2
printf '%s\\n' bin/sh usr/bin/[ sbin/ip usr/local/sbin/odd bin/busybox
"""


def test_busybox_rootfs_links_every_applet(bench_module: BenchModule, tmp_path: Path) -> None:
    inputs = bench_module("bench.inputs")
    binary = tmp_path / "busybox"
    binary.write_text(FAKE_BUSYBOX)
    binary.chmod(0o755)
    tar_path = inputs.busybox_rootfs(tmp_path / "rootfs.tar", binary)
    with tarfile.open(tar_path) as tar:
        members = {m.name: (m.type, m.mode, m.linkname) for m in tar.getmembers()}
        passwd = tar.extractfile("etc/passwd")
        assert passwd is not None
        assert passwd.read().startswith(b"root:x:0:0:root:/root:/bin/sh\n")
    links = {name for name, (kind, _, target) in members.items() if kind == tarfile.LNKTYPE}
    assert links == {"bin/sh", "usr/bin/[", "sbin/ip", "usr/local/sbin/odd"}
    assert {members[name][2] for name in links} == {"bin/busybox"}
    assert members["bin/busybox"] == (tarfile.REGTYPE, 0o755, "")
    assert members["tmp"] == (tarfile.DIRTYPE, 0o1777, "")
    assert members["usr/local/sbin"] == (tarfile.DIRTYPE, 0o755, "")
    names = list(members)
    assert names.index("usr/local/sbin") < names.index("bin/busybox") < names.index("bin/sh")


def test_busybox_rootfs_without_busybox_fails(bench_module: BenchModule, tmp_path: Path) -> None:
    inputs, rows = bench_module("bench.inputs"), bench_module("bench.rows")
    with pytest.raises(rows.RowFailed, match="busybox-static"):
        inputs.busybox_rootfs(tmp_path / "rootfs.tar", tmp_path / "missing")
