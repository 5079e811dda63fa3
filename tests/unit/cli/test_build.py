"""``dockyard build``: the context it packs, the query it sends, how it shows the stream."""

from __future__ import annotations

import io
import json
import os
import tarfile
from pathlib import Path
from typing import Any

import pytest

from dockyard.cli.buildcontext import from_directory, from_stdin
from dockyard.cli.commands.build import BUILD, build_query, show
from dockyard.cli.flags import parse
from dockyard.cli.session import StatusError


def _names(data: bytes) -> list[str]:
    with tarfile.open(fileobj=io.BytesIO(data)) as tar:
        return tar.getnames()


def _tree(root: Path) -> None:
    (root / "docs").mkdir()
    (root / "docs" / "README.md").write_text("r")
    (root / "docs" / "x.md").write_text("x")
    (root / "node_modules").mkdir()
    (root / "node_modules" / "big").write_text("b")
    (root / "app.py").write_text("print()")
    (root / "Dockerfile").write_text("FROM scratch\n")
    (root / ".dockerignore").write_text("node_modules\ndocs\n!docs/README.md\nDockerfile\n")
    os.link(root / "app.py", root / "app-link.py")
    os.symlink("app.py", root / "link")


def test_directory_context_applies_dockerignore(tmp_path: Path) -> None:
    _tree(tmp_path)
    context = from_directory(str(tmp_path), "")
    with context.body:
        data = context.body.read()
    assert context.dockerfile == "Dockerfile"
    assert _names(data) == [".dockerignore", "Dockerfile", "app-link.py", "app.py",
                            "docs/README.md", "link"]
    with tarfile.open(fileobj=io.BytesIO(data)) as tar:
        members = {m.name: m for m in tar.getmembers()}
    assert members["app.py"].islnk() and members["app.py"].linkname == "app-link.py"
    assert members["link"].issym() and members["link"].linkname == "app.py"
    assert {(m.uid, m.gid) for m in members.values()} == {(0, 0)}
    assert context.size == len(data)


def test_a_dockerfile_from_outside_is_added_and_ignored(tmp_path: Path) -> None:
    context_dir = tmp_path / "ctx"
    context_dir.mkdir()
    (context_dir / "a.txt").write_text("a")
    outside = tmp_path / "Outside.dockerfile"
    outside.write_text("FROM busybox\n")
    context = from_directory(str(context_dir), str(outside))
    with context.body:
        data = context.body.read()
    assert context.dockerfile.startswith(".dockerfile.")
    assert sorted(_names(data)) == sorted([".dockerignore", context.dockerfile, "a.txt"])
    with tarfile.open(fileobj=io.BytesIO(data)) as tar:
        ignore = tar.extractfile(".dockerignore").read()  # type: ignore[union-attr]
        dockerfile = tar.extractfile(context.dockerfile).read()  # type: ignore[union-attr]
    assert (ignore, dockerfile) == (context.dockerfile.encode() + b"\n", b"FROM busybox\n")
    piped = from_directory(str(context_dir), "-", io.BytesIO(b"FROM scratch\n"))
    with piped.body:
        assert piped.dockerfile.startswith(".dockerfile.")


def test_stdin_contexts(tmp_path: Path) -> None:
    context = from_stdin(io.BytesIO(b"FROM scratch\n"), "")
    with context.body:
        assert (context.dockerfile, _names(context.body.read())) == ("Dockerfile",
                                                                     ["Dockerfile"])
    tar = io.BytesIO()
    with tarfile.open(fileobj=tar, mode="w") as out:
        info = tarfile.TarInfo("Dockerfile")
        info.size = 5
        out.addfile(info, io.BytesIO(b"FROM "))
    passed = from_stdin(io.BytesIO(tar.getvalue()), "")
    with passed.body:
        assert passed.body.read() == tar.getvalue()
    with pytest.raises(StatusError, match="not an archive"):
        from_stdin(io.BytesIO(b"FROM scratch\n"), "-")
    with pytest.raises(StatusError, match="not found"):
        from_directory(str(tmp_path / "nope"), "")


def test_query_sends_only_what_differs() -> None:
    parsed = parse(BUILD, ["-t", "a:1", "-t", "b", "--build-arg", "X=1", "--build-arg", "HOME",
                           "--label", "l=v", "--no-cache", "--target", "t", "--network",
                           "host", "--platform", "linux/amd64", "--rm=false", "."])
    query = build_query(parsed, "Dockerfile", {"HOME": "/root", "SOURCE_DATE_EPOCH": "10"})
    assert query == {
        "version": "1", "dockerfile": "Dockerfile", "t": ["a:1", "b"],
        "buildargs": '{"X":"1","HOME":"/root","SOURCE_DATE_EPOCH":"10"}',
        "labels": '{"l":"v"}', "nocache": "1", "rm": "0", "target": "t",
        "platform": "linux/amd64", "networkmode": "host"}
    assert build_query(parse(BUILD, ["."]), "D", {}) == {"version": "1", "dockerfile": "D"}


def _stream(messages: list[dict[str, Any]], *, terminal: bool = False) -> tuple[str, str]:
    out = io.StringIO()
    ticks = iter(range(100))
    image = show(iter(messages), out, io.StringIO(), terminal=terminal,
                 clock=lambda: float(next(ticks)))
    return out.getvalue(), image


def test_show_writes_docker_lines_and_takes_the_id_from_aux() -> None:
    messages = [{"stream": "Step 1/1 : FROM x"}, {"stream": "\n"}, {"stream": " ---> abc\n"},
                {"aux": {"ID": "sha256:" + "a" * 64}}, {"stream": "Successfully built abc\n"}]
    text, image = _stream(messages)
    assert text == "Step 1/1 : FROM x\n ---> abc\nSuccessfully built abc\n"
    assert image == "sha256:" + "a" * 64
    timed, _ = _stream(messages, terminal=True)
    assert timed.splitlines()[1] == " ---> abc (1.00s)"
    assert timed.splitlines()[2].startswith("Successfully built abc in ")


def test_show_raises_with_the_run_status() -> None:
    with pytest.raises(StatusError) as caught:
        _stream([{"errorDetail": {"code": 3, "message": "boom"}, "error": "boom"}])
    assert (str(caught.value), caught.value.exit_code) == ("boom", 3)
    with pytest.raises(StatusError) as plain:
        _stream([{"errorDetail": {"message": "bad"}, "error": "bad"}])
    assert plain.value.exit_code == 1


def test_quiet_line_is_the_id() -> None:
    assert _stream([{"stream": "sha256:" + "b" * 64 + "\n"}])[1] == "sha256:" + "b" * 64
    assert json.dumps({}) == "{}"
