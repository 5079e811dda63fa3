"""The network stores' JSON files: replaced without renaming over the file (ext4 starts the
writeback of a file renamed over another), and whole after a crash between the renames."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from dockyard.errors import DataCorrupt
from dockyard.network import jsonfile


def test_write_replaces_and_leaves_nothing_else(tmp_path: Path) -> None:
    path = tmp_path / "a.json"
    jsonfile.write(path, {"n": 1})
    jsonfile.write(path, {"n": 2})
    assert jsonfile.read(path) == {"n": 2}
    assert os.listdir(tmp_path) == ["a.json"]


def test_remove_temps_puts_an_old_file_back_where_the_file_is_missing(tmp_path: Path) -> None:
    (tmp_path / "a.json.old").write_text('{"n": 1}')  # the crash came between the renames
    (tmp_path / ".tmp-a.json").write_text('{"n": 2')
    (tmp_path / "b.json").write_text('{"n": 3}')  # the crash came after the second rename
    (tmp_path / "b.json.old").write_text('{"n": 2}')
    jsonfile.remove_temps(tmp_path)
    assert sorted(os.listdir(tmp_path)) == ["a.json", "b.json"]
    assert (jsonfile.read(tmp_path / "a.json"), jsonfile.read(tmp_path / "b.json")) == (
        {"n": 1}, {"n": 3})


def test_read_errors(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        jsonfile.read(tmp_path / "missing.json")
    (tmp_path / "bad.json").write_text("{")
    with pytest.raises(DataCorrupt, match=r"bad\.json: not valid json"):
        jsonfile.read(tmp_path / "bad.json")
