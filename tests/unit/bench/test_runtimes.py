"""bench/runtimes.py and the runtime rows' commands (no container is run)."""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Callable
from pathlib import Path
from types import ModuleType

import pytest

BenchModule = Callable[[str], ModuleType]


def _context(bench_module: BenchModule, tmp_path: Path) -> object:
    rows = bench_module("bench.rows")
    return rows.Context(repo=tmp_path, python=tmp_path / "venv/bin/python", work=tmp_path / "w",
                        cache=tmp_path / "c", docker="docker", podman="podman")  # fmt: skip


@pytest.mark.skipif(shutil.which("runc") is None or not os.path.exists("/bin/busybox"),
                    reason="needs runc (for `runc spec`) and busybox-static")  # fmt: skip
def test_bundle_is_runc_spec_running_true(bench_module: BenchModule, tmp_path: Path) -> None:
    runtimes = bench_module("bench.runtimes")
    bundle = runtimes.make_bundle(_context(bench_module, tmp_path), tmp_path / "bundle")
    config = json.loads((bundle / "config.json").read_text())
    assert (config["process"]["terminal"], config["process"]["args"]) == (False, ["true"])
    assert config["root"]["path"] == "rootfs"
    bin_dir = bundle / "rootfs" / "bin"
    assert sorted(p.name for p in bin_dir.iterdir()) == ["busybox", "sh", "true"]
    assert os.readlink(bin_dir / "true") == "busybox"
    runtimes.make_bundle(_context(bench_module, tmp_path), tmp_path / "bundle")  # again: fine


def test_commands_of_the_runtime_run_row(bench_module: BenchModule, tmp_path: Path) -> None:
    runtimes, row = bench_module("bench.runtimes"), bench_module("bench.rows.runtime_run")
    ctx = _context(bench_module, tmp_path)
    assert runtimes.binary(ctx, "dockyard") == str(tmp_path / "venv/bin/dockyard-runtime")
    timed = row.make(ctx).setup("dockyard", 3)
    work = tmp_path / "w" / "runtime_run"
    assert timed.argv == (str(tmp_path / "venv/bin/dockyard-runtime"), "--root",
                          str(work / "root-dockyard"), "run", "--bundle", str(work / "bundle"),
                          "dockyard-bench-dockyard-3")  # fmt: skip


def test_launcher_is_recognised(bench_module: BenchModule, tmp_path: Path) -> None:
    runtimes = bench_module("bench.runtimes")
    launcher, pip = tmp_path / "launcher", tmp_path / "pip"
    launcher.write_text("#!/venv/bin/python -SI\n# dockyard-runtime launcher: python -m ...\n")
    pip.write_text("#!/venv/bin/python\nimport re\nimport sys\n")
    assert (runtimes.is_launcher(str(launcher)), runtimes.is_launcher(str(pip))) == (True, False)
    assert not runtimes.is_launcher(str(tmp_path / "missing"))
