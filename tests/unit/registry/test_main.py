"""The ``dockyard registry`` command: reached from the CLI by exec, flags over a config file."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from dockyard.registry.access import Rule
from dockyard.registry.config import build
from dockyard.registry.main import _parser, _settings, main

PROBE = """
import sys
from dockyard.cli.main import main
main(["registry", "--help"])
"""


def test_the_cli_execs_the_registry_without_importing_it() -> None:
    result = subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True,
                            timeout=60, check=False)
    assert (result.returncode, result.stdout.startswith("usage: dockyard registry")) == (0, True)


def test_flags_override_the_config_file(tmp_path: Path) -> None:
    (tmp_path / "registry.toml").write_text('root = "data"\naddr = "127.0.0.1:6000"\n'
                                            '[auth]\nmode = "token"\n')
    args = _parser().parse_args([
        "serve", "--config", str(tmp_path / "registry.toml"), "--addr", "127.0.0.1:7000",
        "--read-only", "--max-upload-size", "1MiB", "--access", "ci:ci/*:pull,push",
    ])
    config = build(_settings(args))
    assert (config.root, config.port, config.read_only, config.delete_enabled,
            config.max_upload_size, config.auth.mode, config.auth.access) == (
        tmp_path / "data", 7000, True, False, 1 << 20, "token",
        (Rule("ci", "ci/*", frozenset({"pull", "push"})),))


def test_bad_settings_exit_125(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["serve", "--root", str(tmp_path), "--addr", "nowhere"]) == 125
    assert "invalid address" in capsys.readouterr().err
    assert main(["gc", "--root", str(tmp_path), "--grace", "soon"]) == 125


def test_htpasswd_line(capsys: pytest.CaptureFixture[str]) -> None:
    pytest.importorskip("bcrypt")
    assert main(["htpasswd", "alice", "secret"]) == 0
    user, hashed = capsys.readouterr().out.strip().split(":", 1)
    import bcrypt

    assert (user, bcrypt.checkpw(b"secret", ("$2b$" + hashed[4:]).encode())) == ("alice", True)
