"""The build context: the tar a client sends, extracted into a private directory, with the
checksum of every entry.

The tar is read once (plain, gzip, bzip2 or xz). Each entry is written below the context
directory (no entry can leave it: every parent is checked, nothing is followed) and hashed as
moby's classic builder hashes it (``pkg/tarsum`` version 1 over the header as sent, without
mtime, user and group names, then the data), so a COPY's cache key and its history line
(``COPY file:<sum> in /dest``) change exactly when the content or metadata of its sources do.
Devices and fifos are skipped; owners are not kept (COPY gives its files to root or --chown).

After the Dockerfile is read, ``.dockerignore`` and the Dockerfile are removed from the context
if ``.dockerignore`` matches them (moby ``remotecontext.removeDockerfile``): they are sent, but
``COPY . /`` does not copy them. Other ignored files never reach the daemon: the client leaves
them out. On disk (under the builder's temp root)::

    <tmp>/<build-id>/context/   the extracted files
"""

from __future__ import annotations

import errno
import hashlib
import logging
import os
import stat
import tarfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, BinaryIO

from dockyard.archive.paths import clean_path, parent_of
from dockyard.archive.target import Target, remove_tree
from dockyard.build import fsops
from dockyard.errors import (
    Breakout,
    DockyardError,
    InvalidArgument,
    NotFound,
    SystemCallError,
)
from dockyard.oci.dockerignore import PatternMatcher, read_patterns

log = logging.getLogger(__name__)

DEFAULT_DOCKERFILE = "Dockerfile"
MAX_DOCKERFILE = 16 << 20
_CHUNK = 1 << 20
_CREATE = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
_XATTR = "SCHILY.xattr."


def tarsum_header(info: tarfile.TarInfo) -> bytes:
    """The header part of an entry's tarsum v1 (moby ``v1TarHeaderSelect``; user and group
    names blanked as ``tarSum.encodeHeader`` does)."""
    typeflag = info.type.decode("latin-1")
    if typeflag == "\0":
        typeflag = "0"
    name = info.name.rstrip("/") + "/" if info.isdir() else info.name
    fields = [
        ("name", name), ("mode", str(info.mode)), ("uid", str(info.uid)),
        ("gid", str(info.gid)), ("size", str(info.size if info.isreg() else 0)),
        ("typeflag", typeflag), ("linkname", info.linkname), ("uname", ""), ("gname", ""),
        ("devmajor", str(info.devmajor)), ("devminor", str(info.devminor)),
    ]
    xattrs = sorted((k[len(_XATTR):], v) for k, v in info.pax_headers.items()
                    if k.startswith(_XATTR))
    fields += xattrs
    return "".join(key + value for key, value in fields).encode("utf-8", "surrogateescape")


@dataclass
class BuildContext:
    """An extracted context. ``sums`` maps each cleaned path ("" for the root) to the hex
    tarsum of its first entry in the tar, as moby's ``FileInfoSums.GetFile`` finds it."""

    root: Path
    sums: dict[str, str] = field(default_factory=dict)
    size: int = 0

    @classmethod
    def receive(cls, stream: BinaryIO | IO[bytes], directory: Path) -> BuildContext:
        """Extract the context tar ``stream`` into the new directory ``directory``."""
        directory.mkdir(mode=0o700)
        context = cls(directory)
        try:
            _Extractor(context).run(stream)
        except tarfile.TarError as exc:
            raise InvalidArgument(f"build context: not a valid tar archive: {exc}") from exc
        except OSError as exc:
            raise SystemCallError("extract", exc.errno or errno.EIO,
                                  f"build context into {directory}") from exc
        return context

    @classmethod
    def empty(cls, directory: Path) -> BuildContext:
        directory.mkdir(mode=0o700)
        return cls(directory)

    def path(self, rel: str) -> Path:
        return self.root / rel if rel else self.root

    def close(self) -> None:
        """Remove the extracted files."""
        if self.root.exists():
            remove_tree(str(self.root))

    # -- the Dockerfile and .dockerignore -------------------------------------------------

    def read_dockerfile(self, name: str = "") -> tuple[str, str]:
        """The text of the Dockerfile ``name`` (a path in the context, default Dockerfile, or
        dockerfile if only that exists) and the name it was found under."""
        name = name or DEFAULT_DOCKERFILE
        rel = self._find_dockerfile(name)
        if rel is None and name == DEFAULT_DOCKERFILE:
            rel = self._find_dockerfile(name.lower())
            name = name.lower() if rel is not None else name
        if rel is None:
            raise InvalidArgument(f"Cannot locate specified Dockerfile: {name}")
        path = self.path(rel)
        if path.stat().st_size > MAX_DOCKERFILE:
            raise InvalidArgument(f"Dockerfile {name} is larger than {MAX_DOCKERFILE} bytes")
        data = path.read_bytes()
        try:
            return data.decode("utf-8"), name
        except UnicodeDecodeError as exc:
            raise InvalidArgument(f"Dockerfile {name} is not UTF-8 text: {exc}") from exc

    def _find_dockerfile(self, name: str) -> str | None:
        try:
            rel = self.resolve(clean_path(name, "build context"))
        except (Breakout, InvalidArgument):
            return None
        try:
            mode = os.lstat(self.path(rel)).st_mode
        except FileNotFoundError:
            return None
        if stat.S_ISDIR(mode):
            raise InvalidArgument(f"the Dockerfile {name} is a directory")
        return rel if stat.S_ISREG(mode) else None

    def drop_ignored_build_files(self, dockerfile: str) -> None:
        """Remove ``.dockerignore`` and the Dockerfile if ``.dockerignore`` matches them."""
        ignore = self.path(".dockerignore")
        try:
            patterns = read_patterns(ignore.read_bytes())
        except (FileNotFoundError, IsADirectoryError):
            return
        matcher = PatternMatcher(patterns)
        for name in (".dockerignore", dockerfile):
            if matcher.matches(name):
                self.remove(clean_path(name, "build context"))

    def remove(self, rel: str) -> None:
        path = self.path(rel)
        try:
            mode = os.lstat(path).st_mode
        except FileNotFoundError:
            return
        if stat.S_ISDIR(mode):
            remove_tree(str(path))
        else:
            path.unlink()
        prefix = rel + "/"
        for key in [k for k in self.sums if k == rel or k.startswith(prefix)]:
            del self.sums[key]

    # -- paths --------------------------------------------------------------------------

    def resolve(self, rel: str, *, follow_last: bool = True) -> str:
        """``rel`` with every symlink on the way followed inside the context. A path or link
        that leads out of it (``..`` above the root, an absolute link target) is a Breakout."""
        done: list[str] = []
        todo = _parts(rel)
        link = ""
        while todo:
            part = todo.pop()
            if part == "..":
                if not done:
                    raise Breakout(_outside(rel, link))
                done.pop()
                continue
            current = "/".join([*done, part])
            try:
                st = os.lstat(self.path(current))
            except (FileNotFoundError, NotADirectoryError):
                done.append(part)
                continue
            if not stat.S_ISLNK(st.st_mode) or (not todo and not follow_last):
                done.append(part)
                continue
            target = os.readlink(self.path(current))
            link = f" (symlink {current} -> {target})"
            if target.startswith("/") or len(link) > 8192:
                raise Breakout(_outside(rel, link))
            todo.extend(_parts(target))
            if len(todo) > 4096:
                raise InvalidArgument(f"{rel}: too many levels of symbolic links")
        return "/".join(done)

    def resolve_scoped(self, rel: str) -> str:
        """``rel`` with symlinks followed as moby's FollowSymlinkInScope does: an absolute
        target starts again at the context root and ``..`` stops there (used for checksums of
        entries inside a copied directory, never to read a file)."""
        return fsops.scoped(str(self.root), rel, loops_fail=False)

    def sum_of(self, rel: str) -> str:
        """moby ``archiveContext.Hash``: the tarsum of the entry ``rel`` leads to, symlinks
        followed in scope, else the path itself."""
        resolved = self.resolve_scoped(rel)
        return self.sums.get(resolved, rel)


def _parts(path: str) -> list[str]:
    """The components of ``path`` in reverse order (a stack: the first is popped first)."""
    return [p for p in reversed(path.split("/")) if p and p != "."]


def _outside(rel: str, link: str) -> str:
    return f"forbidden path outside the build context: {rel}{link}"


class _Extractor:
    """Writes the entries of a context tar under the context root, hashing each."""

    def __init__(self, context: BuildContext) -> None:
        self.context = context
        self.target = Target(str(context.root), "build context")
        self.target.fresh.add("")
        self.dirs: dict[str, tarfile.TarInfo] = {}

    def run(self, stream: BinaryIO | IO[bytes]) -> None:
        counted = _Counting(stream)
        with tarfile.open(fileobj=counted, mode="r|*") as tar:  # type: ignore[call-overload]
            for info in tar:
                self._entry(tar, info)
        while counted.read(_CHUNK):  # the zero blocks after the end of the archive
            pass
        for rel, info in sorted(self.dirs.items(), reverse=True):
            path = self.target.path(rel)
            os.chmod(path, info.mode & 0o7777)
            os.utime(path, ns=(_mtime_ns(info), _mtime_ns(info)), follow_symlinks=False)
        self.context.size = counted.count

    def _entry(self, tar: tarfile.TarFile, info: tarfile.TarInfo) -> None:
        hasher = hashlib.sha256(tarsum_header(info))
        rel = clean_path(info.name, "build context")
        if info.isreg():
            self._file(tar, info, rel, hasher)
        elif rel:
            self._other(info, rel)
        self.context.sums.setdefault(rel, hasher.hexdigest())

    def _prepare(self, rel: str) -> str:
        """The path for a new non-directory entry: parents checked, whatever was there gone."""
        self.target.ensure_dir(parent_of(rel), rel)
        self.target.clear(rel)
        self.dirs.pop(rel, None)
        return self.target.path(rel)

    def _file(self, tar: tarfile.TarFile, info: tarfile.TarInfo, rel: str,
              hasher: hashlib._Hash) -> None:
        if not rel:
            raise InvalidArgument("build context: a file entry names the context root")
        path = self._prepare(rel)
        source = tar.extractfile(info)
        fd = os.open(path, _CREATE, 0o600)
        try:
            while source is not None and (chunk := source.read(_CHUNK)):
                hasher.update(chunk)
                view = memoryview(chunk)
                while view:
                    view = view[os.write(fd, view):]
            os.fchmod(fd, info.mode & 0o7777)
        finally:
            os.close(fd)
        os.utime(path, ns=(_mtime_ns(info), _mtime_ns(info)), follow_symlinks=False)

    def _other(self, info: tarfile.TarInfo, rel: str) -> None:
        if info.isdir():
            if rel not in self.target.dirs:
                self._prepare(rel)
                os.mkdir(self.target.path(rel), 0o700)
                self.target.add_dir(rel)
            self.dirs[rel] = info
        elif info.issym():
            path = self._prepare(rel)
            os.symlink(info.linkname, path)
            os.utime(path, ns=(_mtime_ns(info), _mtime_ns(info)), follow_symlinks=False)
        elif info.islnk():
            self._hardlink(info, rel)
        else:
            log.debug("build context: skipping %s (tar type %r)", rel, info.type)

    def _hardlink(self, info: tarfile.TarInfo, rel: str) -> None:
        source = clean_path(info.linkname, "build context")
        self.target.ensure_dir(parent_of(source), rel, create=False)
        source_path = self.target.path(source)
        try:
            mode = os.lstat(source_path).st_mode
        except FileNotFoundError:
            raise InvalidArgument(f"build context: hard link {rel} to missing "
                                  f"{info.linkname}") from None
        if not stat.S_ISREG(mode):
            raise InvalidArgument(f"build context: hard link {rel} to {info.linkname}, "
                                  "which is not a regular file")
        path = self._prepare(rel)
        os.link(source_path, path, follow_symlinks=False)


def _mtime_ns(info: tarfile.TarInfo) -> int:
    return int(info.mtime * 1_000_000_000)


class _Counting:
    """A read-only stream wrapper that counts the bytes read (the context's size).

    At the end of the stream it adds the zero blocks a tar ends with, when they are missing:
    the docker CLI 28 sends a context whose Dockerfile it added (``-f`` outside the context)
    without the last file's padding and the end-of-archive marker, and Go's tar reader, hence
    dockerd, takes such an archive as complete."""

    def __init__(self, stream: BinaryIO | IO[bytes]) -> None:
        self._stream = stream
        self.count = 0
        self._tail: bytes | None = None

    def read(self, size: int = -1) -> bytes:
        if self._tail is None:
            data = self._stream.read(size)
            if data:
                self.count += len(data)
                return data
            self._tail = bytes(-self.count % 512 + 1024)
        data = self._tail if size < 0 else self._tail[:size]
        self._tail = self._tail[len(data):]
        return data


def open_context(stream: BinaryIO | IO[bytes] | None, directory: Path) -> BuildContext:
    """The context of a build request: the body's tar, or an empty context without one."""
    if stream is None:
        return BuildContext.empty(directory)
    try:
        return BuildContext.receive(stream, directory)
    except DockyardError:
        if directory.exists():
            remove_tree(str(directory))
        raise


def missing(rel: str) -> NotFound:
    return NotFound(f"file not found in build context or excluded by .dockerignore: "
                    f"stat {rel}: file does not exist")
