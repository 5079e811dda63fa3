"""Wiring helpers: the engine ID, the git commit read from .git, the default headers."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

from dockyard.daemon.main import remove_pidfile, write_pidfile
from dockyard.daemon.wiring import build_facts, default_headers, engine_id, git_commit
from dockyard.errors import Conflict


def test_engine_id_is_made_once_and_kept(tmp_path: Path) -> None:
    first = engine_id(tmp_path)
    uuid.UUID(first)
    assert engine_id(tmp_path) == first
    assert (tmp_path / "engine-id").read_text() == first + "\n"
    assert [p.name for p in tmp_path.iterdir()] == ["engine-id"]


def test_git_commit_from_loose_and_packed_refs(tmp_path: Path) -> None:
    git = tmp_path / ".git"
    (git / "refs" / "heads").mkdir(parents=True)
    (git / "HEAD").write_text("ref: refs/heads/main\n")
    (git / "packed-refs").write_text("# pack-refs\n" + "b" * 40 + " refs/heads/main\n")
    assert git_commit(git) == "bbbbbbb"
    (git / "refs" / "heads" / "main").write_text("a" * 40 + "\n")
    assert git_commit(git) == "aaaaaaa"
    (git / "HEAD").write_text("c" * 40 + "\n")
    assert git_commit(git) == "ccccccc"
    assert git_commit(tmp_path / "nothing") == "unknown"


def test_default_headers() -> None:
    build = build_facts()
    assert default_headers(build) == {
        "Api-Version": "1.41",
        "Docker-Experimental": "false",
        "Ostype": "linux",
        "Server": f"Docker/{build.version} (linux)",
    }
    assert build.python_version.startswith("python3.")


def test_pidfile_is_written_replaced_when_stale_and_removed(tmp_path: Path) -> None:
    path = tmp_path / "run" / "d.pid"
    write_pidfile(path)
    assert path.read_text() == str(os.getpid())
    remove_pidfile(path)
    assert not path.exists()
    path.write_text("999999999")  # no such process
    write_pidfile(path)
    assert path.read_text() == str(os.getpid())
    path.write_text("12345")  # someone else's file: left alone
    remove_pidfile(path)
    assert path.exists()


def test_pidfile_of_a_live_dockyardd_refuses(tmp_path: Path) -> None:
    # a process whose command line names dockyardd
    proc = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)", "dockyardd"])
    try:
        while b"dockyardd" not in Path(f"/proc/{proc.pid}/cmdline").read_bytes():
            time.sleep(0.001)  # right after exec the command line reads empty for a moment
        path = tmp_path / "d.pid"
        path.write_text(str(proc.pid))
        with pytest.raises(Conflict, match="pid file found, ensure dockyardd is not running"):
            write_pidfile(path)
    finally:
        proc.kill()
        proc.wait()
