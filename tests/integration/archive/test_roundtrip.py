"""Round trips: apply -> write_layer -> apply, and write_diff replayed on the lower tree, keep
ownership, modes, xattrs, hardlinks, device nodes and mtimes. Overlay-mode layers mounted with
overlayfs show the same tree as copy-mode layers applied one over another."""

from __future__ import annotations

import io
import os
import subprocess
import tarfile
from collections.abc import Callable
from pathlib import Path

import pytest

from dockyard.archive.apply import apply_layer
from dockyard.archive.diff import write_diff, write_layer
from dockyard.archive.tarwriter import LayerInfo
from dockyard.errors import SystemCallError
from dockyard.oci.digest import Digest
from dockyard.sys import MS_RDONLY
from dockyard.sys.linux import LinuxSyscalls

from .conftest import MTIME, Member, d, f, hard, member, sym, tar_bytes, tree

pytestmark = pytest.mark.root

Apply = Callable[..., object]
CAP = bytes.fromhex("01000002" "00200000" "00000000" "00000000" "00000000")


def base_layer() -> list[Member]:
    xattrs = {"SCHILY.xattr.security.capability": CAP.decode("utf-8", "surrogateescape"),
              "SCHILY.xattr.user.mime": "text/x", "SCHILY.xattr.trusted.t": "\udcff\x00v"}
    return [
        d("bin/"), f("bin/su", b"su", mode=0o4755, uid=7, gid=8),
        f("bin/ping", b"ping", mode=0o2755, uid=7, pax_headers=xattrs),
        hard("bin/su2", "bin/su", mode=0o4755, uid=7, gid=8),
        sym("sbin", "bin", uid=3, gid=4, mtime=11),
        d("dev/", mode=0o700, mtime=12),
        (member("dev/null", tarfile.CHRTYPE, devmajor=1, devminor=3, mode=0o666), None),
        (member("dev/sda", tarfile.BLKTYPE, devmajor=8, devminor=0, mode=0o660, gid=6), None),
        (member("dev/fifo", tarfile.FIFOTYPE, mode=0o620, uid=1), None),
        d("tmp/", mode=0o1777, mtime=13),
        d("etc/", pax_headers={"SCHILY.xattr.user.dir": "yes"}), d("etc/opt/"),
        f("etc/opt/conf", b"c" * 5000), f("etc/hosts", b"127.0.0.1 localhost\n"),
        d("var/"), d("var/lib/"), f("var/lib/state", b"1"), d("var/cache/"), f("var/cache/x"),
        d("naïve/", mtime=5), f("naïve/ünï", b"\xff\x00" * 3000, uid=70000, gid=70001),
        *[d("deep/" + "/".join(["d" * 60] * i)) for i in range(6)],
        f("deep/" + "/".join(["d" * 60] * 5) + "/file", b"long"),
    ]


def change_layer() -> list[Member]:
    return [
        f(".wh.sbin"), d("etc/", mode=0o750), f("etc/hosts", b"changed"), f("etc/opt/.wh.conf"),
        d("var/"), f("var/.wh..wh..opq"), d("var/new/"), f("var/new/x", b"new"),
        f("tmp/late", mtime=99), hard("tmp/late2", "tmp/late"),
    ]


def write(write_fn: Callable[[io.BytesIO], LayerInfo]) -> tuple[bytes, LayerInfo]:
    out = io.BytesIO()
    info = write_fn(out)
    return out.getvalue(), info


@pytest.mark.parametrize("compression", ["none", "gzip", "zstd"])
def test_apply_write_layer_apply(tmp_path: Path, apply_tar: Apply, compression: str) -> None:
    first, second = tmp_path / "first", tmp_path / "second"
    first.mkdir()
    second.mkdir()
    apply_tar(first, base_layer() + change_layer())
    blob, info = write(lambda out: write_layer(first, out, compression=compression))  # type: ignore[arg-type]
    assert (info.digest, info.size) == (Digest.of(blob), len(blob))
    result = apply_layer(io.BytesIO(blob), second, whiteouts="overlay")
    assert (result.diff_id, result.compression) == (info.diff_id, compression)
    assert tree(second) == tree(first)
    # Deterministic: the copy writes the very same bytes.
    assert write(lambda out: write_layer(second, out, compression=compression)) == (blob, info)  # type: ignore[arg-type]


def test_write_layer_emits_whiteouts_and_opaque_markers(tmp_path: Path, apply_tar: Apply) -> None:
    apply_tar(tmp_path, [d("a/", mode=0o750, uid=2, gid=3, mtime=40), f("a/.wh..wh..opq"),
                         f("a/x"), f(".wh.gone", uid=5, gid=6, mtime=7)])
    blob, _ = write(lambda out: write_layer(tmp_path, out))
    with tarfile.open(fileobj=io.BytesIO(blob)) as tar:
        listed = [(m.name, m.type, m.mode, m.uid, m.gid, m.mtime, m.size) for m in tar]
    assert listed == [
        (".wh.gone", tarfile.REGTYPE, 0o600, 5, 6, 7, 0),
        ("a", tarfile.DIRTYPE, 0o750, 2, 3, 40, 0),
        ("a/.wh..wh..opq", tarfile.REGTYPE, 0o750, 2, 3, 40, 0),
        ("a/x", tarfile.REGTYPE, 0o644, 0, 0, MTIME, 0),
    ]


def copy_tree(source: Path, dest: Path) -> None:
    subprocess.run(["cp", "-a", str(source), str(dest)], check=True)


def truncate_mtimes(root: Path) -> None:
    """Layers carry whole seconds (as moby writes them): make the tree's mtimes whole."""
    for path in [root / r.path for r in tree(root)]:
        st = os.lstat(path)
        whole = st.st_mtime_ns // 1_000_000_000 * 1_000_000_000
        os.utime(path, ns=(whole, whole), follow_symlinks=False)


def test_write_diff_replayed_on_the_lower_tree(tmp_path: Path, apply_tar: Apply) -> None:
    lower, upper, replay = tmp_path / "lower", tmp_path / "upper", tmp_path / "replay"
    lower.mkdir()
    apply_tar(lower, base_layer(), whiteouts="copy")
    copy_tree(lower, upper)
    copy_tree(lower, replay)
    apply_tar(upper, change_layer(), whiteouts="copy")
    # Changes made in place, as a container would.
    os.chmod(upper / "bin" / "ping", 0o755)
    os.setxattr(upper / "etc" / "opt", "user.new", b"v")
    os.chown(upper / "naïve" / "ünï", 5, 5)
    os.unlink(upper / "dev" / "fifo")
    os.mkfifo(upper / "dev" / "fifo2")
    (upper / "bin" / "su").unlink()
    (upper / "bin" / "su").mkdir()
    os.symlink("/elsewhere", upper / "etc" / "hosts2")
    truncate_mtimes(upper)
    blob, info = write(lambda out: write_diff(lower, upper, out, compression="zstd"))
    result = apply_layer(io.BytesIO(blob), replay, whiteouts="copy")
    assert result.diff_id == info.diff_id
    assert tree(replay) == tree(upper)


def test_write_diff_of_equal_trees_is_empty(tmp_path: Path, apply_tar: Apply) -> None:
    lower, upper = tmp_path / "lower", tmp_path / "upper"
    lower.mkdir()
    apply_tar(lower, base_layer(), whiteouts="copy")
    copy_tree(lower, upper)
    blob, info = write(lambda out: write_diff(lower, upper, out))
    assert (blob, info.diff_id) == (bytes(1024), Digest.of(bytes(1024)))


LAYERS = [
    base_layer(),
    change_layer(),
    [d("etc/", mode=0o750), f("etc/.wh.opt"), d("etc/opt/"), f("etc/opt/fresh"),
     f(".wh.naïve"), d("bin/"), f("bin/.wh.su2"),
     d("tmp/"), f("tmp/.wh..wh..opq"), f("tmp/kept")],
]


def test_overlay_mount_matches_copy_mode(tmp_path: Path, apply_tar: Apply) -> None:
    copy = tmp_path / "copy"
    copy.mkdir()
    uppers = []
    for i, layer in enumerate(LAYERS):
        apply_tar(copy, layer, whiteouts="copy")
        upper = tmp_path / f"u{i}"
        upper.mkdir()
        apply_tar(upper, layer, whiteouts="overlay")
        uppers.append(upper)
    merged = tmp_path / "merged"
    merged.mkdir()
    syscalls = LinuxSyscalls()
    lowerdir = ":".join(str(u) for u in reversed(uppers))
    try:
        syscalls.mount("overlay", str(merged), "overlay", MS_RDONLY, f"lowerdir={lowerdir}")
    except SystemCallError as exc:
        pytest.skip(f"overlayfs does not mount here: {exc}")
    try:
        # overlayfs shows a lower file's link count even where a link to it was whited out.
        assert tree(merged, dir_mtimes=False, links=False) == tree(
            copy, dir_mtimes=False, links=False
        )
    finally:
        syscalls.umount(str(merged))


def test_write_layer_of_a_plain_upper_after_whiteout_round_trip(tmp_path: Path,
                                                                apply_tar: Apply) -> None:
    upper = tmp_path / "u"
    upper.mkdir()
    apply_tar(upper, LAYERS[2])
    truncate_mtimes(upper)  # its implicit parent directories got the time of day
    blob, _ = write(lambda out: write_layer(upper, out))
    again = tmp_path / "again"
    again.mkdir()
    apply_layer(io.BytesIO(blob), again, whiteouts="overlay")
    assert tree(again) == tree(upper)
    assert tar_bytes([]) != blob  # not empty: whiteouts and opaque markers were written


def test_names_that_are_not_utf8_round_trip(tmp_path: Path, apply_tar: Apply) -> None:
    first, second = tmp_path / "first", tmp_path / "second"
    first.mkdir()
    second.mkdir()
    latin1 = os.fsdecode(b"caf\xe9")
    apply_tar(first, [d(latin1 + "/"), f(latin1 + "/" + latin1, b"x"), sym("l", latin1)])
    assert sorted(os.listdir(os.fsencode(first))) == [b"caf\xe9", b"l"]
    blob, _ = write(lambda out: write_layer(first, out))
    apply_layer(io.BytesIO(blob), second, whiteouts="overlay")
    assert tree(second) == tree(first)
