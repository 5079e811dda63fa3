"""bench/builds.py and the build_* rows: the contexts and their edits, the build command, what
is removed after builds (from the image list, by parent chain), and the row family's names."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from types import ModuleType

import pytest

BenchModule = Callable[[str], ModuleType]


def test_the_contexts_hold_what_their_dockerfiles_copy(bench_module: BenchModule) -> None:
    builds = bench_module("bench.builds")
    files = {
        name: sorted(str(p.relative_to(builds.CONTEXTS / name))
                     for p in (builds.CONTEXTS / name).rglob("*") if p.is_file())
        for name in builds.NAMES
    }  # fmt: skip
    assert files == {
        "nginx-site": ["Dockerfile", "nginx.conf", "site/index.html"],
        "hello-multistage": ["Dockerfile", "hello.c", "motd.txt"],
    }
    nginx = (builds.CONTEXTS / "nginx-site" / "Dockerfile").read_text().splitlines()
    hello = (builds.CONTEXTS / "hello-multistage" / "Dockerfile").read_text().splitlines()
    assert nginx[0] == "FROM debian:bookworm-slim"
    assert nginx[-1] == 'CMD ["nginx", "-g", "daemon off;"]'
    assert [line for line in hello if line.startswith("FROM")] == [
        "FROM debian:bookworm-slim AS build",
        "FROM busybox:latest",
    ]


@pytest.mark.parametrize(
    ("name", "edited", "kept"),
    [("nginx-site", "site/index.html", "nginx.conf"), ("hello-multistage", "hello.c", "motd.txt")],
)
def test_edit_changes_the_late_copied_file_each_time(
    bench_module: BenchModule, tmp_path: Path, name: str, edited: str, kept: str
) -> None:
    builds = bench_module("bench.builds")
    context = builds.copy_context(name, tmp_path / "context")
    original = (context / edited).read_text()
    first = builds.edit(context, name)
    once = (context / edited).read_text()
    second = builds.edit(context, name)
    twice = (context / edited).read_text()
    assert len({original, once, twice}) == 3
    assert (first in once, second in twice, first in twice) == (True, True, False)
    assert (context / kept).read_bytes() == (builds.CONTEXTS / name / kept).read_bytes()
    assert (builds.CONTEXTS / name / edited).read_text() == original  # the source is untouched
    assert len(once.splitlines()) == len(original.splitlines())


def test_edit_of_an_unknown_context_fails(bench_module: BenchModule, tmp_path: Path) -> None:
    builds, rows = bench_module("bench.builds"), bench_module("bench.rows")
    with pytest.raises(rows.RowFailed, match="no edit defined for the context other"):
        builds.edit(tmp_path, "other")


def test_build_argv(bench_module: BenchModule, tmp_path: Path) -> None:
    builds, rows = bench_module("bench.builds"), bench_module("bench.rows")
    ctx = rows.Context(tmp_path, tmp_path / "python", tmp_path / "work", tmp_path, "docker", "p")
    tag = builds.image_name("nginx-site")
    assert builds.build_argv(ctx, tmp_path / "c", tag, no_cache=True) == (
        "docker", "build", "--network=host", "--no-cache",
        "-t", "dockyard-bench/nginx-site:latest", str(tmp_path / "c"),
    )  # fmt: skip
    assert "--no-cache" not in builds.build_argv(ctx, tmp_path / "c", tag, no_cache=False)
    assert builds.BUILD_ENV == {"DOCKER_BUILDKIT": "0"}


def _image(image: str, parent: str = "", *tags: str) -> dict[str, object]:
    return {"Id": image, "ParentId": parent, "RepoTags": list(tags) or None}


def test_removals_are_the_images_built_on_the_bases(bench_module: BenchModule) -> None:
    builds = bench_module("bench.builds")
    images = [
        _image("base", "", "debian:bookworm-slim"),
        _image("run", "base"),  # a RUN step's intermediate image
        _image("copy", "run"),
        _image("final", "copy", "dockyard-bench/nginx-site:latest"),
        _image("stage", "base"),  # the last image of a build stage, untagged
        _image("theirs", "base", "<none>:<none>"),
        _image("child", "theirs", "someone/else:1"),  # another name: it and its parents stay
        _image("other", "", "busybox:latest"),
        _image("orphan", "gone"),
    ]
    assert builds.removals(images, frozenset({"base"})) == [
        "dockyard-bench/nginx-site:latest", "final", "copy", "run", "stage",
    ]  # fmt: skip
    assert builds.removals(images, frozenset({"nothing"})) == []
    dockyardd = [{"Id": "final", "ParentId": "", "RepoTags": ["dockyard-bench/x:latest"]}]
    assert builds.removals(dockyardd, frozenset({"base"})) == []  # no parents listed


def test_build_rows_are_one_module(bench_module: BenchModule, tmp_path: Path) -> None:
    rows = bench_module("bench.rows")
    ctx = rows.Context(tmp_path, tmp_path / "python", tmp_path / "work", tmp_path, "docker", "p")
    found = {n: rows.instantiate(n, ctx).default_runs for n in rows.names() if "build" in n}
    assert found == {
        "build_nginx-site_cold": 3, "build_nginx-site_cached": 10, "build_nginx-site_edit": 10,
        "build_hello-multistage_cold": 3, "build_hello-multistage_cached": 10,
        "build_hello-multistage_edit": 10,
    }  # fmt: skip
    assert "builds" in rows.modules()
    assert "builds" not in rows.names()
    with pytest.raises(KeyError):
        rows.instantiate("build_nginx-site_warm", ctx)
