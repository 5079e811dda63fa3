"""``dockyard run`` starts fast: it imports no asyncio, HTTP server, daemon or ctypes code (the
streams are a select loop), nor ``typing`` (5-6 ms of a start on this machine: the CLI's
modules import it only for the type checker), and ``dockyard ps`` no more than the images list
does."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

import dockyard

PROBE = """
import sys
from dockyard.cli.main import run
run(["-H", "unix:///nonexistent/dockyard.sock", *sys.argv[1:]])
import dockyard.cli.containerio, dockyard.client.hijack  # what an attached run goes on with
print("MODULES", " ".join(sorted(sys.modules)))
"""
FORBIDDEN = ("typing", "asyncio", "http.server", "http.client", "ctypes", "threading",
             "dockyard.daemon", "dockyard.api", "dockyard.services", "dockyard.store",
             "dockyard.images", "dockyard.containers", "dockyard.runtime", "ssl", "email",
             "argparse", "tarfile")


@pytest.mark.parametrize("argv", [["run", "--rm", "-i", "-e", "A=1", "busybox", "sh"],
                                  ["exec", "-i", "c", "sh"], ["ps", "-a"], ["logs", "c"],
                                  ["events"]])
def test_container_commands_import_nothing_heavy(argv: list[str]) -> None:
    result = subprocess.run([sys.executable, "-c", PROBE, *argv], capture_output=True,
                            text=True, check=False, timeout=60)
    line = next(ln for ln in result.stdout.splitlines() if ln.startswith("MODULES "))
    loaded = sorted(m for m in line.split()[1:]
                    if any(m == f or m.startswith(f + ".") for f in FORBIDDEN))
    assert loaded == []
    assert "Cannot connect to the dockyard daemon" in result.stderr


LEAN = ("re", "json", "enum", "socket", "signal", "collections")


def test_run_imports_only_c_accelerators() -> None:
    """An attached ``run`` goes without re, json, enum, socket, signal and collections (about
    7 ms of its start): wirejson drives _json, the transport _socket, attach _signal."""
    argv = ["run", "--rm", "-i", "-e", "A=1", "busybox", "sh"]
    result = subprocess.run([sys.executable, "-S", "-c", PROBE, *argv], capture_output=True,
                            text=True, check=False, timeout=60,
                            env={"PYTHONPATH": os.path.dirname(os.path.dirname(
                                dockyard.__file__))})  # -S: no site, as the launcher
    line = next(ln for ln in result.stdout.splitlines() if ln.startswith("MODULES "))
    assert [m for m in line.split()[1:] if m.split(".")[0] in LEAN] == []
    assert "Cannot connect to the dockyard daemon" in result.stderr

