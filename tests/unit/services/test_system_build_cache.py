"""``/system/df`` shows what the build service reports of its cache."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from dockyard.services.system import Build, Settings, SystemService


class FakeBuilds:
    def __init__(self, records: list[dict[str, Any]], size: int) -> None:
        self.records = records
        self.size = size

    def usage(self) -> tuple[list[dict[str, Any]], int]:
        return self.records, self.size


def _system(tmp_path: Path, builds: FakeBuilds | None) -> SystemService:
    return SystemService(Build("0", "x", "t", "py"),
                         Settings("id", tmp_path / "data", tmp_path / "exec", "native"),
                         builds=builds)


def test_no_cache_is_null_and_zero(tmp_path: Path) -> None:
    usage = _system(tmp_path, FakeBuilds([], 0)).disk_usage()
    assert (usage["BuildCache"], usage["BuilderSize"]) == (None, 0)
    usage = _system(tmp_path, None).disk_usage()
    assert (usage["BuildCache"], usage["BuilderSize"]) == (None, 0)


def test_records_and_size(tmp_path: Path) -> None:
    record = {"ID": "abc", "Size": 12, "Shared": False}
    usage = _system(tmp_path, FakeBuilds([record], 12)).disk_usage()
    assert (usage["BuildCache"], usage["BuilderSize"]) == ([record], 12)
