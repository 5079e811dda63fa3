"""Hypothesis-made layers: random trees against GNU tar and through the round trip; random
hostile entry sequences that must never touch anything outside the target."""

from __future__ import annotations

import contextlib
import io
import shutil
import subprocess
import tarfile
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dockyard.archive.apply import apply_layer
from dockyard.archive.diff import write_layer
from dockyard.errors import DockyardError
from dockyard.services.image_catalog import diff_size
from dockyard.snapshots.directory import disk_usage

from .conftest import Member, make_scene, member, tar_bytes, tree

pytestmark = [pytest.mark.root, pytest.mark.slow]

NAMES = ["a", "b", "é", "x" * 90, ".hid", "sp ace", "c-d"]
owners = st.sampled_from([0, 1, 1000, 65534, 100_000])
mtimes = st.integers(0, 4_000_000_000)
modes = st.sampled_from([0o644, 0o600, 0o755, 0o4755, 0o2750, 0o1777, 0o000, 0o777])
xattrs = st.dictionaries(st.sampled_from(["user.a", "user.b", "trusted.t"]),
                         st.binary(min_size=1, max_size=20), max_size=2)


def _pax(values: dict[str, bytes]) -> dict[str, str]:
    return {f"SCHILY.xattr.{k}": v.decode("utf-8", "surrogateescape") for k, v in values.items()}


@st.composite
def layer_trees(draw: st.DrawFn) -> list[Member]:
    """A consistent tree (every parent listed first as a directory), in tar order."""
    paths = draw(st.lists(st.lists(st.sampled_from(NAMES), min_size=1, max_size=3).map(tuple),
                          min_size=1, max_size=10, unique=True))
    dirs = {p[:i] for p in paths for i in range(1, len(p))}
    files: list[str] = []
    members: list[Member] = []
    for path in sorted(dirs | set(paths)):
        name = "/".join(path)
        common = {"uid": draw(owners), "gid": draw(owners), "mtime": draw(mtimes)}
        kind = "dir" if path in dirs else draw(
            st.sampled_from(["file", "file", "sym", "fifo", "chr", "link", "dir"]))
        if kind == "link" and not files:
            kind = "file"
        if kind == "dir":
            members.append((member(name + "/", tarfile.DIRTYPE, mode=draw(modes),
                                   pax_headers=_pax(draw(xattrs)), **common), None))
        elif kind == "file":
            files.append(name)
            members.append((member(name, mode=draw(modes), pax_headers=_pax(draw(xattrs)),
                                   **common), draw(st.binary(max_size=3000))))
        elif kind == "sym":
            target = draw(st.sampled_from(["a", "../b", "/etc/passwd", "x" * 120, "."]))
            members.append((member(name, tarfile.SYMTYPE, linkname=target, **common), None))
        elif kind == "fifo":
            members.append((member(name, tarfile.FIFOTYPE, mode=draw(modes), **common), None))
        elif kind == "chr":
            members.append((member(name, tarfile.CHRTYPE, mode=draw(modes), devmajor=1,
                                   devminor=draw(st.integers(0, 9)), **common), None))
        else:
            source = draw(st.sampled_from(files))
            info = next(i for i, _ in members if i.name == source)
            members.append((member(name, tarfile.LNKTYPE, linkname=source, mode=info.mode,
                                   uid=info.uid, gid=info.gid, mtime=info.mtime,
                                   pax_headers=info.pax_headers), None))
    return members


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(layer_trees())
def test_random_trees_match_gnu_tar_and_round_trip(members: list[Member]) -> None:
    data = tar_bytes(members)
    base = Path(tempfile.mkdtemp(prefix="dockyard-fuzz-"))
    try:
        ours, gnu, again = base / "ours", base / "gnu", base / "again"
        for d in (ours, gnu, again):
            d.mkdir()
        result = apply_layer(io.BytesIO(data), ours, whiteouts="overlay", measure=True)
        assert (result.usage, result.diff_size) == (disk_usage(ours), diff_size(io.BytesIO(data)))
        subprocess.run(["tar", "-x", "-p", "--numeric-owner", "--xattrs",
                        "--xattrs-include=*", "-C", str(gnu)], input=data, check=True)
        assert tree(ours) == tree(gnu)
        out = io.BytesIO()
        write_layer(ours, out)
        apply_layer(io.BytesIO(out.getvalue()), again, whiteouts="copy")
        assert tree(again) == tree(ours)
    finally:
        shutil.rmtree(base)


PARTS = ["a", "b", "..", "outside", "secret", ".wh.secret", ".wh..wh..opq"]
SYMLINK_TARGETS = ["..", "../outside", "../outside/secret", "a", "/", "/outside/dir"]


@st.composite
def hostile_layers(draw: st.DrawFn) -> list[list[tuple[str, str, str]]]:
    """Two layers of (kind, name, link target) triples over a small pool of names, so that
    later entries meet what earlier ones planted; an absolute target points into the scene."""
    names = st.lists(st.sampled_from(PARTS), min_size=1, max_size=3).map("/".join)
    pool = draw(st.lists(names, min_size=1, max_size=4))
    name = st.sampled_from(pool) | st.sampled_from(pool).map(lambda n: n + "/secret") | names
    entry = st.tuples(st.sampled_from(["file", "dir", "sym", "sym", "hard", "fifo"]), name,
                      st.sampled_from(SYMLINK_TARGETS) | name)
    return [draw(st.lists(entry, min_size=1, max_size=8)) for _ in range(2)]


def _members(entries: list[tuple[str, str, str]], guard: Path) -> list[Member]:
    out: list[Member] = []
    for kind, name, raw_link in entries:
        # An absolute target points at the sentinel's parent, never at the real root.
        link = str(guard / "g") + raw_link if raw_link.startswith("/") else raw_link
        attrs = {"mode": 0o777, "uid": 4321, "gid": 4321, "mtime": 7}
        if kind == "file":
            out.append((member(name, **attrs), b"evil"))
        elif kind == "dir":
            out.append((member(name, tarfile.DIRTYPE, **attrs), None))
        elif kind == "sym":
            out.append((member(name, tarfile.SYMTYPE, linkname=link, **attrs), None))
        elif kind == "hard":
            out.append((member(name, tarfile.LNKTYPE, linkname=link, **attrs), None))
        else:
            out.append((member(name, tarfile.FIFOTYPE, **attrs), None))
    return out


@settings(max_examples=1000, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(hostile_layers(), st.sampled_from(["overlay", "copy"]))
def test_hostile_layers_never_leave_the_target(layers: list[list[tuple[str, str, str]]],
                                               whiteouts: str) -> None:
    guard = Path(tempfile.mkdtemp(prefix="dockyard-hostile-"))
    try:
        scene = make_scene(guard)
        for layer in layers:
            data = tar_bytes(_members(layer, guard))
            with contextlib.suppress(DockyardError):  # refusing is fine; escaping is not
                result = apply_layer(io.BytesIO(data), scene.target, measure=True,
                                     whiteouts=whiteouts)  # type: ignore[arg-type]
                # Counted only while nothing was removed, and then right.
                assert result.usage in (None, disk_usage(scene.target))
                assert result.diff_size == diff_size(io.BytesIO(data))
            scene.assert_outside_unchanged()
    finally:
        shutil.rmtree(guard)
