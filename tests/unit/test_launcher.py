"""The ``dockyard`` and ``dockyard-runtime`` launchers: scripts the interpreter runs with
``-S -I``."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

import dockyard
from dockyard.launcher import COMMANDS, install, main, marker, script


def test_the_script_starts_the_interpreter_without_site_and_isolated() -> None:
    assert script("/venv/bin/python3.11", "/src") == (
        "#!/venv/bin/python3.11 -SI\n"
        "# dockyard-runtime launcher: python -m dockyard.launcher writes this\n"
        "import sys\n"
        "sys.path[:0] = ['/src']\n"
        "from dockyard.runtime.main import main\n"
        "main()\n"
    )
    assert script("/venv/bin/python3.11", "/src", "dockyard") == (
        "#!/venv/bin/python3.11 -SI\n"
        "# dockyard launcher: python -m dockyard.launcher writes this\n"
        "import sys\n"
        "sys.path[:0] = ['/src']\n"
        "from dockyard.cli.main import main\n"
        "sys.exit(main())\n"
    )
    with pytest.raises(ValueError, match="white space"):
        script("/my venv/python", "/src")


@pytest.mark.parametrize(("name", "args", "expected"), [
    ("dockyard-runtime", ["--version"], f"dockyard-runtime version {dockyard.__version__}\n"),
    ("dockyard", ["--version"], f"dockyard version {dockyard.__version__}"),
])
def test_installed_launcher_runs_the_command_ignoring_the_environment(
        tmp_path: Path, name: str, args: list[str], expected: str) -> None:
    decoy = tmp_path / "decoy"  # stands in for a module of the standard library, and site's
    decoy.mkdir()
    for module in ("__future__", "sitecustomize"):
        (decoy / f"{module}.py").write_text(f"raise SystemExit('decoy {module} imported')\n")
    path = install(str(tmp_path), sys.executable, name)
    assert path == str(tmp_path / name)
    assert os.stat(path).st_mode & 0o777 == 0o755
    package_dir = str(Path(dockyard.__file__).resolve().parent.parent)
    assert Path(path).read_text() == script(sys.executable, package_dir, name)
    assert marker(name) in Path(path).read_text()
    result = subprocess.run(
        [path, *args], capture_output=True, text=True, check=False, timeout=60,
        env={**os.environ, "PYTHONPATH": str(decoy)},
    )  # fmt: skip
    assert (result.returncode, result.stderr) == (0, "")
    assert result.stdout.startswith(expected)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["decoy", name]


def test_main_writes_every_command(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main([str(tmp_path)]) == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(COMMANDS)
    assert capsys.readouterr().out.split() == [str(tmp_path / name) for name in COMMANDS]
