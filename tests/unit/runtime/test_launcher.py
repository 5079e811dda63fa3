"""The ``dockyard-runtime`` launcher: a script the interpreter runs with ``-S -I``."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

import dockyard
from dockyard.runtime.launcher import MARKER, install, script


def test_the_script_starts_the_interpreter_without_site_and_isolated() -> None:
    assert script("/venv/bin/python3.11", "/src") == (
        "#!/venv/bin/python3.11 -SI\n"
        f"{MARKER}: python -m dockyard.runtime.launcher writes this\n"
        "import sys\n"
        "sys.path[:0] = ['/src']\n"
        "from dockyard.runtime.main import main\n"
        "main()\n"
    )
    with pytest.raises(ValueError, match="white space"):
        script("/my venv/python", "/src")


def test_installed_launcher_runs_the_runtime_ignoring_the_environment(tmp_path: Path) -> None:
    decoy = tmp_path / "decoy"  # stands in for a module of the standard library, and site's
    decoy.mkdir()
    for name in ("__future__", "sitecustomize"):
        (decoy / f"{name}.py").write_text(f"raise SystemExit('decoy {name} imported')\n")
    path = install(str(tmp_path), sys.executable)
    assert path == str(tmp_path / "dockyard-runtime")
    assert os.stat(path).st_mode & 0o777 == 0o755
    package_dir = str(Path(dockyard.__file__).resolve().parent.parent)
    assert Path(path).read_text() == script(sys.executable, package_dir)
    result = subprocess.run(
        [path, "--version"], capture_output=True, text=True, check=False, timeout=60,
        env={**os.environ, "PYTHONPATH": str(decoy)},
    )  # fmt: skip
    assert (result.returncode, result.stderr) == (0, "")
    assert result.stdout.startswith(f"dockyard-runtime version {dockyard.__version__}\n")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["decoy", "dockyard-runtime"]
