"""The golden build cases: each directory is a build context with a ``case.json``.

``case.json`` has ``about``, and optionally ``build_args``, ``labels``, ``target`` and
``archives`` (tar files made at run time from a directory of the case: ``name.tar`` or
``name.tar.gz`` -> directory). :func:`prepare` copies a case to a scratch directory, makes its
archives and gives every entry the same mtime, so the context is the same for dockerd (which
``record.py`` asks) and for dockyard. :func:`context_tar` packs it as the docker CLI 20.10
does (``.dockerignore`` applied, the Dockerfile and ``.dockerignore`` kept, modes with the file
type bits, owners 0); :func:`layer_listing` describes a layer tar the same way for both.
"""

from __future__ import annotations

import gzip
import io
import json
import os
import shutil
import stat
import tarfile
from pathlib import Path
from typing import Any

from dockyard.oci.dockerignore import PatternMatcher, keep_build_files, read_patterns

HERE = Path(__file__).parent
MTIME = 1_600_000_000
RECENT = 1_700_000_000  # a layer entry newer than this was made during the build
CASES = sorted(p.name for p in HERE.iterdir() if (p / "case.json").is_file())
_NOT_CONTEXT = ("case.json", "expected.json")


def case(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((HERE / name / "case.json").read_text())
    return data


def _archive(source: Path, target: Path) -> None:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for path in sorted(source.rglob("*")):
            info = tar.gettarinfo(str(path), str(path.relative_to(source)))
            info.uid = info.gid = 1234
            info.uname = info.gname = ""
            info.mtime = MTIME
            if info.isreg():
                with open(path, "rb") as data:
                    tar.addfile(info, data)
            else:
                tar.addfile(info)
    data = buf.getvalue()
    if target.name.endswith(".gz"):
        data = gzip.compress(data, mtime=0)
    target.write_bytes(data)


def prepare(name: str, target: Path) -> Path:
    """The context of case ``name``, ready in ``target`` (created)."""
    shutil.copytree(HERE / name, target, symlinks=True,
                    ignore=shutil.ignore_patterns(*_NOT_CONTEXT))
    for archive, directory in case(name).get("archives", {}).items():
        _archive(target / directory, target / archive)
    for path in [target, *target.rglob("*")]:
        os.utime(path, (MTIME, MTIME), follow_symlinks=False)
    return target


def context_tar(root: Path, dockerfile: str = "Dockerfile") -> bytes:
    """The context tar the docker CLI 20.10 sends for ``root``."""
    try:
        patterns = read_patterns((root / ".dockerignore").read_bytes())
    except FileNotFoundError:
        patterns = []
    matcher = PatternMatcher(keep_build_files(patterns, dockerfile))
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
        _walk(tar, root, "", matcher, None)
    return with_type_bits(buf.getvalue())


_TYPE_BITS = {b"0": 0o100000, b"\0": 0o100000, b"5": 0o040000, b"2": 0o120000, b"1": 0o100000}


def with_type_bits(data: bytes) -> bytes:
    """Go's tar headers as the docker CLI 20.10 writes them carry the file type in the mode
    field (0100644); Python's tarfile writes only the permission bits: add them."""
    out = bytearray(data)
    offset = 0
    while offset + 512 <= len(out) and any(out[offset:offset + 512]):
        header = out[offset:offset + 512]
        size = int(header[124:136].split(b"\0", 1)[0].strip() or b"0", 8)
        typeflag = bytes(header[156:157])
        if typeflag in _TYPE_BITS:
            mode = int(header[100:108].split(b"\0", 1)[0].strip() or b"0", 8)
            header[100:108] = b"%07o\0" % (mode | _TYPE_BITS[typeflag])
            header[148:156] = b" " * 8
            header[148:156] = b"%06o\0 " % sum(header)
            out[offset:offset + 512] = header
        data_size = 0 if typeflag in (b"1", b"2", b"5") else size
        offset += 512 + -(-data_size // 512) * 512
    return bytes(out)


def _walk(tar: tarfile.TarFile, root: Path, rel: str, matcher: PatternMatcher,
          parent: list[bool] | None) -> None:
    for entry in sorted(os.scandir(root / rel if rel else root), key=lambda e: e.name):
        child = f"{rel}/{entry.name}" if rel else entry.name
        skip, answers = matcher.matches_under(child, parent)
        is_dir = entry.is_dir(follow_symlinks=False)
        if skip and not (is_dir and matcher.may_include_under(child)):
            continue
        if not skip:
            info = tar.gettarinfo(entry.path, child)
            info.mode = entry.stat(follow_symlinks=False).st_mode  # with the type bits
            info.uid = info.gid = 0
            info.uname = info.gname = ""
            if info.isreg():
                with open(entry.path, "rb") as data:
                    tar.addfile(info, data)
            else:
                tar.addfile(info)
        if is_dir:
            _walk(tar, root, child, matcher, answers)


def layer_listing(data: bytes) -> list[list[Any]]:
    """A layer tar's entries: name, type, mode, owner, size, link, mtime ("new" when made by
    the build itself) and a digest of the content."""
    import hashlib

    out: list[list[Any]] = []
    with tarfile.open(fileobj=io.BytesIO(data), mode="r:*") as tar:
        for info in tar:
            content = ""
            if info.isreg():
                handle = tar.extractfile(info)
                content = hashlib.sha256(handle.read() if handle else b"").hexdigest()[:16]
            mtime: Any = int(info.mtime)
            if mtime > RECENT:
                mtime = "new"
            out.append([info.name.rstrip("/"), info.type.decode(), oct(stat.S_IMODE(info.mode)),
                        f"{info.uid}:{info.gid}", info.size, info.linkname, mtime, content])
    return sorted(out)
