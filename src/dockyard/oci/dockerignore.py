"""``.dockerignore`` files: reading them and matching context paths as Docker does.

Shared by the client, which leaves matched files out of the context it sends, and the builder,
which drops the Dockerfile and ``.dockerignore`` from the context when they are matched (moby
``builder/remotecontext/detect.go``). The rules are moby/patternmatcher's:

* a line starting with ``#`` is a comment; blank lines are skipped; a UTF-8 BOM is dropped;
* ``!pattern`` re-includes what earlier patterns excluded; the last matching pattern wins;
* a pattern is cleaned as a path (``a/./b`` -> ``a/b``) and a leading ``/`` is dropped, so
  patterns are always relative to the context root;
* ``*`` matches within one path component, ``?`` one character, ``[...]`` a class, ``**``
  any number of components (``**/x``, ``a/**``, ``a/**/b``), ``\\`` escapes;
* a path is excluded when a pattern matches it or one of its parent directories.
"""

from __future__ import annotations

import posixpath
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from dockyard.errors import InvalidArgument

_BOM = "\ufeff"
_ESCAPED = frozenset(".+()|{}$")


def go_clean(path: str) -> str:
    """Go's ``path.Clean``: lexical, "" is ".", and at most one leading slash."""
    cleaned = posixpath.normpath(path) if path else "."
    if cleaned.startswith("//"):
        cleaned = "/" + cleaned.lstrip("/")
    return cleaned


def read_patterns(text: str | bytes) -> list[str]:
    """The patterns of a ``.dockerignore`` file, as moby's ``ignorefile.ReadAll`` reads them."""
    if isinstance(text, bytes):
        text = text.decode("utf-8", "surrogateescape")
    patterns: list[str] = []
    for number, raw in enumerate(text.split("\n")):
        line = raw.removesuffix("\r")
        if number == 0:
            line = line.removeprefix(_BOM)
        if line.startswith("#"):
            continue
        line = line.strip()
        if not line:
            continue
        invert = line.startswith("!")
        if invert:
            line = line[1:].strip()
        if line:
            line = go_clean(line)
            if len(line) > 1 and line.startswith("/"):
                line = line[1:]
        patterns.append("!" + line if invert else line)
    return patterns


@dataclass(frozen=True, slots=True)
class Pattern:
    """One compiled pattern: its cleaned text, whether it re-includes, and its matcher."""

    text: str
    exclusion: bool
    regex: re.Pattern[str]

    def match(self, path: str) -> bool:
        return self.regex.fullmatch(path) is not None


def _compile(pattern: str) -> re.Pattern[str]:
    if not any(ch in pattern for ch in "*?[]\\"):
        return re.compile(re.escape(pattern), re.DOTALL)  # patternmatcher's exact match
    out: list[str] = []
    i = 0
    while i < len(pattern):
        ch = pattern[i]
        i += 1
        if ch == "*":
            if i < len(pattern) and pattern[i] == "*":
                i += 1
                if i < len(pattern) and pattern[i] == "/":
                    i += 1
                out.append(".*" if i == len(pattern) else "(.*/)?")
            else:
                out.append("[^/]*")
        elif ch == "?":
            out.append("[^/]")
        elif ch in _ESCAPED:
            out.append("\\" + ch)
        elif ch == "\\":
            if i < len(pattern):
                out.append(re.escape(pattern[i]))
                i += 1
            else:
                out.append("\\\\")
        else:
            out.append(ch)
    try:
        return re.compile("".join(out), re.DOTALL)
    except re.error as exc:
        raise InvalidArgument(f"invalid .dockerignore pattern {pattern!r}: {exc}") from exc


class PatternMatcher:
    """The patterns of one ``.dockerignore`` (moby/patternmatcher ``PatternMatcher``)."""

    def __init__(self, patterns: Iterable[str]) -> None:
        self.patterns: list[Pattern] = []
        for raw in patterns:
            text = raw.strip()
            if not text:
                continue
            text = go_clean(text)
            exclusion = text.startswith("!")
            if exclusion:
                if len(text) == 1:
                    raise InvalidArgument('illegal exclusion pattern: "!"')
                text = text[1:]
            self.patterns.append(Pattern(text, exclusion, _compile(text)))

    @property
    def exclusions(self) -> bool:
        """Whether any pattern re-includes (``!``): then no excluded directory can be skipped
        whole without a look inside."""
        return any(p.exclusion for p in self.patterns)

    def matches(self, path: str) -> bool:
        """Whether ``path`` (relative, ``/``-separated) is excluded: a pattern matches it or
        one of its parents (``MatchesOrParentMatches``)."""
        path = go_clean(path)
        if path == ".":
            return False
        parents = _parents(path)
        matched = False
        for pattern in self.patterns:
            if pattern.exclusion != matched:
                continue
            hit = pattern.match(path) or any(pattern.match(p) for p in parents)
            if hit:
                matched = not pattern.exclusion
        return matched

    def matches_under(self, path: str, parent: Sequence[bool] | None) -> tuple[bool, list[bool]]:
        """For a walk from the root: whether ``path`` is excluded, given what each pattern
        answered for its parent directory (None at the top); returns that answer for ``path``
        too (``MatchesUsingParentResults``)."""
        matched = False
        answers: list[bool] = []
        for index, pattern in enumerate(self.patterns):
            hit = parent[index] if parent else False
            if not hit:
                if pattern.exclusion != matched:
                    answers.append(False)
                    continue
                hit = pattern.match(path)
                if not hit and not parent:
                    hit = any(pattern.match(p) for p in _parents(path))
            answers.append(hit)
            if hit:
                matched = not pattern.exclusion
        return matched, answers

    def may_include_under(self, directory: str) -> bool:
        """Whether some ``!`` pattern could re-include a path under the excluded
        ``directory``, so that a walk must look inside it."""
        prefix = directory + "/"
        return any(p.exclusion and (p.text + "/").startswith(prefix) for p in self.patterns)


def _parents(path: str) -> list[str]:
    parts = path.split("/")[:-1]
    return ["/".join(parts[: i + 1]) for i in range(len(parts))]


def excludes(path: str, patterns: Sequence[str]) -> bool:
    """``patternmatcher.Matches``: whether ``patterns`` exclude ``path``."""
    return PatternMatcher(patterns).matches(path)


def keep_build_files(patterns: Sequence[str], dockerfile: str,
                     dockerfile_from_stdin: bool = False) -> list[str]:
    """The patterns with ``!`` exceptions added so that ``.dockerignore`` and the Dockerfile are
    always sent (the docker CLI's ``TrimBuildFilesFromExcludes``)."""
    out = list(patterns)
    if excludes(".dockerignore", out):
        out.append("!.dockerignore")
    if excludes(dockerfile, out) and not dockerfile_from_stdin:
        out.append("!" + dockerfile)
    return out
