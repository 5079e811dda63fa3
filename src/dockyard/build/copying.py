"""COPY and ADD into a mounted root filesystem (moby ``performCopyForInfo``).

The destination is made absolute against WORKDIR (a trailing ``/`` kept) and resolved inside
the root. For each source:

* a directory: its contents are copied into the destination, created when missing;
* for ADD, a local tar (plain, gzip, bzip2, xz or zstd): unpacked into the destination, owners
  as the archive has them, nothing outside the destination reachable (as a layer is applied);
* a file: copied to the destination, or into it when it ends with ``/`` or is a directory,
  under the source's own name.

Remote ADD sources (http and https URLs) are downloaded first: the file is named by the URL's
path or its Content-Disposition, mode 0600, with the Last-Modified time; ``--checksum`` is
checked against the download.
"""

from __future__ import annotations

import bz2
import hashlib
import logging
import lzma
import os
import posixpath
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO

from dockyard.archive.apply import apply_layer
from dockyard.archive.compression import detect
from dockyard.build.fsops import ROOT, Owner, TreeCopy, copy_file, host_path, is_dir, mkdir_all
from dockyard.build.fsops import scoped as resolve_in
from dockyard.build.sources import Source
from dockyard.errors import DataCorrupt, InvalidArgument, NotFound, Unavailable
from dockyard.oci.digest import Digest
from dockyard.oci.dockerignore import PatternMatcher

if TYPE_CHECKING:
    import email.message

log = logging.getLogger(__name__)

UNNAMED = "__unnamed__"
_TAR_MAGIC_AT = 257


def destination(workdir: str, dest: str) -> str:
    """moby's ``normalizeDest``: a relative destination is joined to WORKDIR, cleaned, and
    keeps its trailing slash."""
    if dest.startswith("/"):
        return dest
    joined = posixpath.normpath(posixpath.join("/", workdir, dest))
    return joined + "/" if dest.endswith("/") and joined != "/" else joined


@dataclass(frozen=True, slots=True)
class CopyOptions:
    """How sources are copied: the owner (None keeps the sources'), ``--chmod``, whether ADD
    unpacks archives, ``--exclude`` patterns and ``--parents`` (keep each source's path)."""

    owner: Owner | None = ROOT
    mode: int | None = None
    unpack: bool = False
    excludes: tuple[str, ...] = ()
    parents: bool = False


def copy_sources(root: str, dest: str, sources: Sequence[Source],
                 options: CopyOptions) -> None:
    """Copy ``sources`` to ``dest`` (absolute) inside the filesystem mounted at ``root``."""
    matcher = PatternMatcher(options.excludes) if options.excludes else None
    for source in sources:
        if matcher is not None and matcher.matches(source.name.strip("/")):
            continue
        where = dest
        if options.parents and posixpath.dirname(source.name.strip("/")):
            where = posixpath.join(dest, posixpath.dirname(source.name.strip("/"))) + "/"
        _copy_one(root, where, source, options, matcher)


def _copy_one(root: str, dest: str, source: Source, options: CopyOptions,
              matcher: PatternMatcher | None) -> None:
    owner = options.owner
    rel = resolve_in(root, dest)
    target = host_path(root, rel)
    if source.is_dir:
        existed = is_dir(target)
        mkdir_all(root, rel, ROOT)
        keep = None if matcher is None else (lambda path: not matcher.matches(path))
        TreeCopy(owner, options.mode, keep).copy(source.path, target)
        if owner is not None and not existed:
            os.lchown(target, owner.uid, owner.gid)
    elif options.unpack and source.local and is_archive(source.path):
        mkdir_all(root, rel, ROOT)
        with open(source.path, "rb") as stream:
            apply_layer(_decompressed(stream), Path(target), whiteouts="copy",
                        name=source.name, threads=0)
    else:
        if dest.endswith("/") or is_dir(target):
            rel = f"{rel}/{posixpath.basename(source.name.rstrip('/'))}".lstrip("/")
            target = host_path(root, rel)
        mkdir_all(root, posixpath.dirname(rel), owner or ROOT)
        copy_file(source.path, target, owner, options.mode)


def _magic(head: bytes) -> str:
    if head.startswith(b"BZh"):
        return "bzip2"
    if head.startswith(b"\xfd7zXZ\x00"):
        return "xz"
    return detect(head)


def _decompressed(stream: BinaryIO) -> BinaryIO | bz2.BZ2File | lzma.LZMAFile:
    """The stream, with bzip2 and xz undone here (the layer reader handles gzip and zstd)."""
    head = stream.read(8)
    stream.seek(0)
    kind = _magic(head)
    if kind == "bzip2":
        return bz2.BZ2File(stream)
    if kind == "xz":
        return lzma.LZMAFile(stream)
    return stream


def is_archive(path: str) -> bool:
    """Whether ADD unpacks the file: after decompression, it starts with a valid tar header."""
    try:
        with open(path, "rb") as stream:
            head = stream.read(8)
            stream.seek(0)
            kind = _magic(head)
            if kind == "gzip":
                import gzip

                block = gzip.GzipFile(fileobj=stream).read(512)
            elif kind == "zstd":
                import zstandard

                block = zstandard.ZstdDecompressor().stream_reader(stream).read(512)
            else:
                block = _decompressed(stream).read(512)
    except (OSError, EOFError, lzma.LZMAError, ValueError):
        return False
    except Exception as exc:  # zstandard raises its own error type
        log.debug("%s is not an archive: %s", path, exc)
        return False
    return _tar_header(block)


def _tar_header(block: bytes) -> bool:
    if len(block) < 512 or block == bytes(512):
        return False
    try:
        stored = int(block[148:156].split(b"\0", 1)[0].strip(b" ") or b"0", 8)
    except ValueError:
        return False
    unsigned = sum(block) - sum(block[148:156]) + 8 * 32
    return stored == unsigned


# -- remote sources -----------------------------------------------------------------------------


def is_url(name: str) -> bool:
    return name.startswith(("http://", "https://"))


def download(url: str, directory: Path, dest: str, checksum: str = "",
             timeout: float = 600.0) -> Source:
    """Fetch ``url`` into ``directory``; the Source of the file (not unpacked by ADD)."""
    import urllib.error
    import urllib.parse
    import urllib.request

    expected = Digest.parse(checksum) if checksum else None
    try:
        response = urllib.request.urlopen(url, timeout=timeout)
    except urllib.error.HTTPError as exc:
        raise NotFound(f"failed to GET {url} with status {exc.code} {exc.reason}") from exc
    except (urllib.error.URLError, OSError) as exc:
        raise Unavailable(f"failed to GET {url}: {exc}") from exc
    with response:
        name = _filename(urllib.parse.urlparse(url).path, response.headers)
        if not name:
            if dest.endswith("/"):
                raise InvalidArgument(f"cannot determine filename for source {url}")
            name = UNNAMED
        directory.mkdir(parents=True, exist_ok=True)
        path = directory / name
        digest = _save(response, path)
        modified = response.headers.get("Last-Modified")
    if expected is not None and digest != expected:
        raise DataCorrupt(f"digest mismatch {digest}: {expected}")
    if modified:
        from email.utils import parsedate_to_datetime

        try:
            stamp = int(parsedate_to_datetime(modified).timestamp())
            os.utime(path, (stamp, stamp))
        except (TypeError, ValueError, OverflowError):
            log.debug("ignoring Last-Modified %r of %s", modified, url)
    return Source(str(path), name, False, f"file:{digest.encoded}", local=False)


def _save(response: BinaryIO, path: Path) -> Digest:
    """Write the download to ``path`` (mode 0600); its digest."""
    hasher = hashlib.sha256()
    with open(path, "xb") as out:
        while chunk := response.read(1 << 20):
            hasher.update(chunk)
            out.write(chunk)
    os.chmod(path, 0o600)
    return Digest.from_hasher(hasher)


def _filename(url_path: str, headers: email.message.Message) -> str:
    import email.message
    import urllib.parse

    if url_path and not url_path.endswith("/"):
        base = posixpath.basename(url_path)
        if base:
            return urllib.parse.unquote(base)
    disposition = headers.get("Content-Disposition", "")
    if disposition:
        message = email.message.Message()
        message["content-disposition"] = disposition
        filename = message.get_param("filename", header="content-disposition")
        if isinstance(filename, str) and filename and not filename.endswith("/"):
            return posixpath.basename(filename)
    return ""
