"""The build context ``dockyard build`` sends, made as the docker CLI makes it.

A directory context is walked in name order; what ``.dockerignore`` excludes is left out (a
directory with nothing re-included under it is not even entered), except the Dockerfile and
``.dockerignore`` themselves. Entries keep their modes, mtimes and symlinks; hard links inside
the context stay links; owners are 0. A Dockerfile outside the context (``-f ../x``) or from
stdin (``-f -``) is added as ``.dockerfile.<random>`` and listed in ``.dockerignore`` so the
daemon does not copy it (docker's ``AddDockerfileToBuildContext``). A context given as ``-``
is a tar, or a Dockerfile alone.
"""

from __future__ import annotations

import io
import os
import secrets
import tarfile
import tempfile
import time
from dataclasses import dataclass
from typing import IO, BinaryIO

from dockyard.cli.session import StatusError
from dockyard.errors import DockyardError
from dockyard.oci.dockerignore import PatternMatcher, keep_build_files, read_patterns

DEFAULT_DOCKERFILE = "Dockerfile"


@dataclass
class Context:
    """The tar to send (a file positioned at 0), its size, and the Dockerfile's name in it."""

    body: IO[bytes]
    size: int
    dockerfile: str


def _spool() -> IO[bytes]:
    """Where the context is packed: memory up to 4 MiB, then a temp file (closed by the
    caller, through :class:`Context`)."""
    return tempfile.SpooledTemporaryFile(4 << 20)


def _dockerfile_in(directory: str, name: str) -> tuple[str, str | None]:
    """The Dockerfile's path relative to the context, or (random name, absolute path) when it
    lies outside."""
    if name == "-":
        return "-", None
    if not name:
        path = os.path.join(directory, DEFAULT_DOCKERFILE)
        if not os.path.lexists(path) and os.path.lexists(os.path.join(directory, "dockerfile")):
            path = os.path.join(directory, "dockerfile")
    else:
        path = os.path.abspath(name)
    real = os.path.realpath(path)
    if not os.path.exists(real):
        raise StatusError(f'unable to prepare context: Cannot locate Dockerfile: "{path}"')
    rel = os.path.relpath(real, os.path.realpath(directory))
    if rel.startswith(".." + os.sep) or rel == "..":
        return rel, real
    return rel.replace(os.sep, "/"), None


def from_directory(directory: str, dockerfile: str, stdin: BinaryIO | None = None) -> Context:
    """The context of a local directory."""
    if not os.path.isdir(directory):
        raise StatusError(f'unable to prepare context: path "{directory}" not found')
    rel, outside = _dockerfile_in(directory, dockerfile)
    try:
        with open(os.path.join(directory, ".dockerignore"), "rb") as ignore:
            patterns = read_patterns(ignore.read())
    except FileNotFoundError:
        patterns = []
    try:
        matcher = PatternMatcher(keep_build_files(patterns, rel, rel == "-"))
    except DockyardError as exc:
        raise StatusError(f"error checking context: {exc}") from exc
    body = _spool()
    try:
        with tarfile.open(fileobj=body, mode="w", format=tarfile.PAX_FORMAT) as tar:
            extra: bytes | None = None
            if rel == "-":
                assert stdin is not None
                extra = stdin.read()
            elif outside is not None:
                with open(outside, "rb") as file:
                    extra = file.read()
            if extra is not None:
                rel = _add_outside(tar, directory, extra, patterns)
                matcher = PatternMatcher([*keep_build_files(patterns, rel), rel])
            _walk(tar, directory, "", matcher, None, skip_ignore=extra is not None)
    except BaseException:
        body.close()
        raise
    size = body.tell()
    body.seek(0)
    return Context(body, size, rel)


def _add_outside(tar: tarfile.TarFile, directory: str, data: bytes,
                 patterns: list[str]) -> str:
    """Add a Dockerfile from elsewhere under a random name, and a .dockerignore naming it."""
    name = ".dockerfile." + secrets.token_hex(10)
    now = time.time()
    _add_bytes(tar, name, data, 0o600, now)
    ignore = os.path.join(directory, ".dockerignore")
    try:
        with open(ignore, "rb") as file:
            text = file.read()
    except FileNotFoundError:
        text = b""
    if text and not text.endswith(b"\n"):
        text += b"\n"
    _add_bytes(tar, ".dockerignore", text + name.encode() + b"\n", 0o600, now)
    return name


def _add_bytes(tar: tarfile.TarFile, name: str, data: bytes, mode: int, mtime: float) -> None:
    info = tarfile.TarInfo(name)
    info.size, info.mode, info.mtime = len(data), mode, int(mtime)
    tar.addfile(info, io.BytesIO(data))


def _walk(tar: tarfile.TarFile, root: str, rel: str, matcher: PatternMatcher,
          parent: list[bool] | None, *, skip_ignore: bool) -> None:
    try:
        entries = sorted(os.scandir(os.path.join(root, rel) if rel else root),
                         key=lambda e: e.name)
    except PermissionError as exc:
        raise StatusError(f"error checking context: can't stat '{exc.filename}'") from exc
    for entry in entries:
        child = f"{rel}/{entry.name}" if rel else entry.name
        excluded, answers = matcher.matches_under(child, parent)
        is_dir = entry.is_dir(follow_symlinks=False)
        if excluded and not (is_dir and matcher.may_include_under(child)):
            continue
        if not excluded and not (skip_ignore and child == ".dockerignore"):
            _add(tar, entry.path, child)
        if is_dir:
            _walk(tar, root, child, matcher, answers, skip_ignore=skip_ignore)


def _add(tar: tarfile.TarFile, path: str, name: str) -> None:
    try:
        info = tar.gettarinfo(path, name)
    except OSError as exc:
        raise StatusError(f"error checking context: can't stat '{path}'") from exc
    if info is None:  # sockets: tar has no type for them
        return
    info.uid = info.gid = 0
    info.uname = info.gname = ""
    info.mtime = int(info.mtime)
    if info.isreg():
        try:
            with open(path, "rb") as data:
                tar.addfile(info, data)
        except PermissionError as exc:
            raise StatusError(f"error checking context: no permission to read from "
                              f"'{path}'") from exc
    elif info.isdir() or info.issym() or info.islnk():
        tar.addfile(info)


def from_stdin(stdin: BinaryIO, dockerfile: str) -> Context:
    """A context given as ``-``: a tar (maybe compressed), or a Dockerfile alone."""
    data = stdin.read()
    if _is_archive(data):
        body = _spool()
        body.write(data)
        body.seek(0)
        return Context(body, len(data), dockerfile or DEFAULT_DOCKERFILE)
    if dockerfile == "-":
        raise StatusError("build context is not an archive")
    if dockerfile:
        raise StatusError("ambiguous Dockerfile source: both stdin and flag correspond to "
                          "Dockerfiles")
    body = _spool()
    with tarfile.open(fileobj=body, mode="w", format=tarfile.PAX_FORMAT) as tar:
        _add_bytes(tar, DEFAULT_DOCKERFILE, data, 0o644, time.time())
    size = body.tell()
    body.seek(0)
    return Context(body, size, DEFAULT_DOCKERFILE)


def _is_archive(data: bytes) -> bool:
    if data[:2] == b"\x1f\x8b" or data[:3] == b"BZh" or data[:6] == b"\xfd7zXZ\x00" \
            or data[:4] == b"\x28\xb5\x2f\xfd":
        return True
    try:
        with tarfile.open(fileobj=io.BytesIO(data[:1024]), mode="r:") as tar:
            return tar.next() is not None
    except tarfile.TarError:
        return False
