"""The sources of a COPY or ADD: which files they are, and their checksums.

Context sources follow moby's classic builder (``builder/dockerfile/copy.go``): a source is
cleaned and made relative to the context root; wildcards (``*``, ``?``, ``[...]``, as Go's
``filepath.Match``) match every context path, each match a source of its own; a symlink is
followed, but one that leads out of the context is refused (moby would resolve it as if the
context were ``/``). A file's checksum is ``file:<tarsum>``; a directory's is ``dir:`` and the
sha256 of its entries' sorted tarsums joined with commas; several sources together are
``multi:`` and the sha256 of theirs. These strings are both the cache key and what dockerd
writes in the history line (``COPY file:<sum> in /dest``).

Sources in an image (``COPY --from``) are resolved inside that image's root; their checksums
are computed the same way from the files themselves (over a header of path, mode, owner, size,
type and link target), so a history line names the same content the same way.
"""

from __future__ import annotations

import hashlib
import os
import re
import stat
from collections.abc import Sequence
from dataclasses import dataclass

from dockyard.build.context import BuildContext, missing
from dockyard.build.fsops import host_path, scoped
from dockyard.errors import Breakout, InvalidArgument, NotFound


@dataclass(frozen=True, slots=True)
class Source:
    """One source: the host path to read (symlinks followed), the name it was given (its base
    names the copy), whether it is a directory, its checksum, and whether ADD may unpack it."""

    path: str
    name: str
    is_dir: bool
    checksum: str
    local: bool = True


def has_wildcards(name: str) -> bool:
    """moby's ``containsWildcards``: an unescaped ``*``, ``?`` or ``[``."""
    index = 0
    while index < len(name):
        ch = name[index]
        if ch == "\\":
            index += 2
            continue
        if ch in "*?[":
            return True
        index += 1
    return False


def go_match(pattern: str) -> re.Pattern[str]:
    """Go's ``filepath.Match`` as a regex: ``*`` and ``?`` stay inside one component."""
    out: list[str] = []
    index = 0
    while index < len(pattern):
        ch = pattern[index]
        index += 1
        if ch == "*":
            out.append("[^/]*")
        elif ch == "?":
            out.append("[^/]")
        elif ch == "\\" and index < len(pattern):
            out.append(re.escape(pattern[index]))
            index += 1
        elif ch == "[":
            end = pattern.find("]", index + 1)
            if end < 0:
                raise InvalidArgument(f"syntax error in pattern {pattern!r}")
            body = pattern[index:end]
            negate = body.startswith("^")
            body = body[1:] if negate else body
            out.append("[" + ("^" if negate else "") + body.replace("\\", "\\\\") + "]")
            index = end + 1
        else:
            out.append(re.escape(ch))
    return re.compile("".join(out), re.DOTALL)


def _clean_source(name: str) -> str:
    """What moby makes of a source path: leading ``/`` and ``./`` dropped."""
    name = name.removeprefix("/")
    return name.removeprefix("./")


def hash_strings(prefix: str, values: Sequence[str]) -> str:
    """moby's ``hashStringSlice``."""
    return prefix + ":" + hashlib.sha256(",".join(values).encode()).hexdigest()


def combined(sources: Sequence[Source]) -> str:
    """The checksum of a step's sources (``getSourceHashFromInfos``)."""
    if len(sources) == 1:
        return sources[0].checksum
    return hash_strings("multi", [s.checksum for s in sources])


# -- the build context ------------------------------------------------------------------------


def from_context(context: BuildContext, names: Sequence[str]) -> list[Source]:
    """The sources ``names`` name in the context (wildcards expanded)."""
    found: list[Source] = []
    for name in names:
        cleaned = _clean_source(name)
        if has_wildcards(cleaned):
            found += _wildcard(context, cleaned)
        else:
            found.append(_one(context, cleaned))
    if not found:
        raise InvalidArgument("no source files were specified")
    return found


def _rel(name: str) -> str:
    parts: list[str] = []
    for part in name.split("/"):
        if part in ("", "."):
            continue
        if part == "..":
            if not parts:
                raise Breakout(f"forbidden path outside the build context: {name} ()")
            parts.pop()
        else:
            parts.append(part)
    return "/".join(parts)


def _one(context: BuildContext, name: str) -> Source:
    rel = context.resolve(_rel(name))
    path = str(context.path(rel))
    try:
        st = os.stat(path)
    except (FileNotFoundError, NotADirectoryError):
        raise missing(_rel(name) or ".") from None
    if stat.S_ISDIR(st.st_mode):
        return Source(path, name, True, _dir_checksum(context, rel))
    return Source(path, name, False, "file:" + context.sums.get(rel, rel))


def _dir_checksum(context: BuildContext, rel: str) -> str:
    sums: list[str] = []
    top = str(context.path(rel))
    for directory, dirs, files in os.walk(top):
        dirs.sort()
        base = os.path.relpath(directory, str(context.root))
        base = "" if base == "." else base
        if base:
            sums.append(context.sum_of(base))
        for name in [*files, *(d for d in dirs if os.path.islink(os.path.join(directory, d)))]:
            sums.append(context.sum_of(f"{base}/{name}" if base else name))
    return hash_strings("dir", sorted(sums))


def _wildcard(context: BuildContext, pattern: str) -> list[Source]:
    regex = go_match(pattern)
    found: list[Source] = []
    root = str(context.root)
    for directory, dirs, files in os.walk(root):
        dirs.sort()
        base = os.path.relpath(directory, root)
        base = "" if base == "." else base
        for name in sorted([*dirs, *files]):
            rel = f"{base}/{name}" if base else name
            if regex.fullmatch(rel):
                found.append(_one(context, rel))
    return found


# -- an image's filesystem (COPY --from) ---------------------------------------------------


def from_image(root: str, names: Sequence[str], stage: str) -> list[Source]:
    """The sources ``names`` name in the image mounted at ``root``."""
    found: list[Source] = []
    for name in names:
        cleaned = _clean_source(name)
        if has_wildcards(cleaned):
            regex = go_match(cleaned)
            for rel in _walk(root):
                if regex.fullmatch(rel):
                    found.append(_image_one(root, rel, stage))
        else:
            found.append(_image_one(root, cleaned, stage))
    if not found:
        raise InvalidArgument("no source files were specified")
    return found


def _walk(root: str) -> list[str]:
    out: list[str] = []
    for directory, dirs, files in os.walk(root):
        dirs.sort()
        base = os.path.relpath(directory, root)
        base = "" if base == "." else base
        out += [f"{base}/{n}" if base else n for n in sorted([*dirs, *files])]
    return out


def _image_one(root: str, name: str, stage: str) -> Source:
    rel = scoped(root, name)
    path = host_path(root, rel)
    try:
        st = os.stat(path)
    except (FileNotFoundError, NotADirectoryError):
        raise NotFound(f"stat {name.removeprefix('/') or '.'}: file does not exist "
                       f"in {stage}") from None
    lazy = _LazySums(root)
    if stat.S_ISDIR(st.st_mode):
        sums = [s for r in [rel, *_under(root, rel)] if r and (s := lazy.sum(r)) is not None]
        return Source(path, name, True, hash_strings("dir", sorted(sums)))
    return Source(path, name, False, "file:" + (lazy.sum(rel) or rel))


def _under(root: str, rel: str) -> list[str]:
    top = host_path(root, rel)
    return [f"{rel}/{r}" if rel else r for r in _walk(top)]


class _LazySums:
    """Checksums of an image's files as moby's ``lazySource`` makes them: the entry a path
    leads to (symlinks followed inside the image), hashed over the tar header Go's
    ``FileInfoHeader`` gives it (file type in the mode, owners named from the host's user
    database, ``security.capability``), then the data."""

    def __init__(self, root: str) -> None:
        self.root = root
        self.sums: dict[str, str] = {}

    def sum(self, rel: str) -> str | None:
        resolved = scoped(self.root, rel)
        if resolved in self.sums:
            return self.sums[resolved]
        try:
            value = _entry_sum(self.root, resolved)
        except (FileNotFoundError, NotADirectoryError):
            return None
        self.sums[resolved] = value
        return value


_TYPEFLAGS = {stat.S_IFREG: "0", stat.S_IFDIR: "5", stat.S_IFLNK: "2", stat.S_IFCHR: "3",
              stat.S_IFBLK: "4", stat.S_IFIFO: "6"}


def _host_name(ident: int, group: bool) -> str:
    import grp
    import pwd

    try:
        return grp.getgrgid(ident).gr_name if group else pwd.getpwuid(ident).pw_name
    except KeyError:
        return ""


def _entry_sum(root: str, rel: str) -> str:
    path = host_path(root, rel)
    st = os.lstat(path)
    kind = _TYPEFLAGS.get(stat.S_IFMT(st.st_mode), "0")
    link = os.readlink(path) if kind == "2" else ""
    name = rel + "/" if kind == "5" and not rel.endswith("/") else rel
    size = st.st_size if kind == "0" else 0
    major = os.major(st.st_rdev) if kind in "34" else 0
    minor = os.minor(st.st_rdev) if kind in "34" else 0
    header = (f"name{name}mode{st.st_mode}uid{st.st_uid}gid{st.st_gid}size{size}"
              f"typeflag{kind}linkname{link}uname{_host_name(st.st_uid, False)}"
              f"gname{_host_name(st.st_gid, True)}devmajor{major}devminor{minor}")
    hasher = hashlib.sha256(header.encode("utf-8", "surrogateescape"))
    try:
        capability = os.getxattr(path, "security.capability", follow_symlinks=False)
        hasher.update(b"security.capability" + capability)
    except OSError:
        pass
    if kind == "0" and st.st_size:
        with open(path, "rb") as data:
            while chunk := data.read(1 << 20):
                hasher.update(chunk)
    return hasher.hexdigest()
