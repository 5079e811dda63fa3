"""`.dockerignore` reading and matching, against cases from moby/patternmatcher's tests and the
docker CLI's TrimBuildFilesFromExcludes."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from dockyard.errors import InvalidArgument
from dockyard.oci.dockerignore import (
    PatternMatcher,
    excludes,
    go_clean,
    keep_build_files,
    read_patterns,
)


def test_read_patterns_as_ignorefile_reads_them() -> None:
    text = ("\ufeff# comment\n\n  node_modules  \n/abs/path\n!keep.txt\n! spaced \n"
            "a/./b/../c\n#x\r\n")
    assert read_patterns(text) == ["node_modules", "abs/path", "!keep.txt", "!spaced", "a/c"]
    assert read_patterns(b"/\n.\n") == ["/", "."]


@pytest.mark.parametrize(("pattern", "path", "want"), [
    ("*", "fileutils.go", True),
    ("*.go", "fileutils.go", True),
    ("*.go", "a/fileutils.go", False),  # * stays in the top directory
    ("**", "file", True),
    ("**", "file/", True),
    ("**/", "file", True),
    ("**/", "file/", True),
    ("**", "/", True),
    ("**/", "/", True),
    ("dir/**", "dir/file", True),
    ("dir/**", "dir/file/", True),
    ("dir/**", "dir/dir2/file", True),
    ("dir/**", "dir/dir2/file/", True),
    ("**/dir", "dir", True),
    ("**/dir", "dir/file", True),
    ("**/dir2/*", "dir/dir2/file", True),
    ("**/dir2/*", "dir/dir2/file/", True),
    ("**/dir2/**", "dir/dir2/dir3/file", True),
    ("**/dir2/**", "dir/dir2/dir3/file/", True),
    ("**file", "file", True),
    ("**file", "dir/file", True),
    ("**/file", "dir/file", True),
    ("**file", "dir/dir/file", True),
    ("**/file", "dir/dir/file", True),
    ("**/file*", "dir/dir/file", True),
    ("**/file*", "dir/dir/file.txt", True),
    ("**/file*txt", "dir/dir/file.txt", True),
    ("**/file*.txt", "dir/dir/file.txt", True),
    ("**/file*.txt*", "dir/dir/file.txt", True),
    ("**/**/*.txt", "dir/dir/file.txt", True),
    ("**/**/*.txt2", "dir/dir/file.txt", False),
    ("**/*.txt", "file.txt", True),
    ("**/**/*.txt", "file.txt", True),
    ("a**/*.txt", "a/file.txt", True),
    ("a**/*.txt", "a/dir/file.txt", True),
    ("a**/*.txt", "a/dir/dir/file.txt", True),
    ("a/*.txt", "a/dir/file.txt", False),
    ("a/*.txt", "a/file.txt", True),
    ("a/*.txt**", "a/file.txt", True),
    ("a[b-d]e", "ae", False),
    ("a[b-d]e", "ace", True),
    ("a[b-d]e", "aae", False),
    ("a[^b-d]e", "aze", True),
    (".*", ".foo", True),
    (".*", "foo", False),
    ("abc.def", "abcdef", False),
    ("abc.def", "abc.def", True),
    ("abc.def", "abcZdef", False),
    ("abc?def", "abcZdef", True),
    ("abc?def", "abcdef", False),
    ("a\\\\", "a\\", True),
    ("**/foo/bar", "foo/bar", True),
    ("**/foo/bar", "dir/foo/bar", True),
    ("**/foo/bar", "dir/dir2/foo/bar", True),
    ("abc/**", "abc", False),
    ("abc/**", "abc/def", True),
    ("abc/**", "abc/def/ghi", True),
    ("**/.foo", ".foo", True),
    ("**/.foo", "bar.foo", False),
    ("a(b)c/def", "a(b)c/def", True),
    ("a(b)c/def", "a(b)c/xyz", False),
    ("a.|)$(}+{bc", "a.|)$(}+{bc", True),
    ("dist/proxy.py-2.4.0rc3.dev36+g08acad9-py3-none-any.whl",
     "dist/proxy.py-2.4.0rc3.dev36+g08acad9-py3-none-any.whl", True),
    ("dist/*.whl", "dist/proxy.py-2.4.0rc3.dev36+g08acad9-py3-none-any.whl", True),
    ("docs", "docs/README.md", True),  # a matched directory excludes what is under it
    ("docs/*", "docs/sub/README.md", True),  # through the parent docs/sub
    ("docs/*.md", "docs/sub/README.md", False),
])
def test_matches(pattern: str, path: str, want: bool) -> None:
    assert PatternMatcher([pattern]).matches(path) is want


def test_exclusions_and_order() -> None:
    matcher = PatternMatcher(["docs", "!docs/README.md", "*.tmp"])
    assert matcher.exclusions
    assert [p for p in ("docs/a.md", "docs/README.md", "x.tmp", "src/x.tmp", "main.go")
            if matcher.matches(p)] == ["docs/a.md", "x.tmp"]
    assert matcher.may_include_under("docs")
    assert not matcher.may_include_under("src")
    # a later exclusion wins over an earlier re-include
    assert PatternMatcher(["!a", "a"]).matches("a")
    assert not PatternMatcher(["a", "!a"]).matches("a")


def test_walking_with_parent_answers() -> None:
    matcher = PatternMatcher(["vendor", "!vendor/keep"])
    top, answers = matcher.matches_under("vendor", None)
    assert top is True
    assert matcher.matches_under("vendor/keep", answers)[0] is False
    assert matcher.matches_under("vendor/drop", answers)[0] is True


def test_bad_patterns() -> None:
    with pytest.raises(InvalidArgument, match='illegal exclusion pattern: "!"'):
        PatternMatcher(["!"])
    with pytest.raises(InvalidArgument, match=r"invalid \.dockerignore pattern"):
        PatternMatcher(["a[b"])


def test_build_files_are_always_sent() -> None:
    assert keep_build_files(["*"], "Dockerfile") == ["*", "!.dockerignore", "!Dockerfile"]
    assert keep_build_files(["*.md"], "Dockerfile") == ["*.md"]
    assert keep_build_files(["sub"], "sub/Dockerfile.dev") == ["sub", "!sub/Dockerfile.dev"]
    assert keep_build_files(["*"], "Dockerfile", dockerfile_from_stdin=True) == [
        "*", "!.dockerignore"]
    assert excludes("Dockerfile", ["Dockerfile"])
    assert not excludes(".", ["*"])


def test_go_clean() -> None:
    assert [go_clean(p) for p in ("", "//a//b/", "a/../..", "/..", "./x/.")] == [
        ".", "/a/b", "..", "/", "x"]


@given(st.lists(st.sampled_from(["a", "b", "c", "*", "?", "**", "!"]), min_size=1, max_size=4),
       st.lists(st.sampled_from(["a", "b", "c", "ab"]), min_size=1, max_size=4))
def test_a_matched_parent_excludes_its_children(parts: list[str], path: list[str]) -> None:
    pattern = "/".join(parts)
    try:
        matcher = PatternMatcher([pattern])
    except InvalidArgument:
        return
    full = "/".join(path)
    if matcher.matches(full) and not pattern.startswith("!"):
        assert matcher.matches(full + "/child")
