"""The CLI starts fast: ``dockyard version`` imports no asyncio, HTTP server, daemon or ctypes."""

from __future__ import annotations

import subprocess
import sys

PROBE = """
import sys
from dockyard.cli.main import run
run(["-H", "unix:///nonexistent/dockyard.sock", "version"])
print("MODULES", " ".join(sorted(sys.modules)))
"""
FORBIDDEN = ("typing", "asyncio", "http.server", "http.client", "ctypes", "dockyard.daemon",
             "dockyard.api", "dockyard.services", "dockyard.store", "dockyard.images",
             "ssl", "email", "argparse", "tarfile", "dockyard.oci.reference")


def test_version_imports_nothing_heavy() -> None:
    result = subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True,
                            check=False, timeout=60)
    line = next(ln for ln in result.stdout.splitlines() if ln.startswith("MODULES "))
    modules = line.split()[1:]
    loaded = sorted(m for m in modules
                    if any(m == f or m.startswith(f + ".") for f in FORBIDDEN))
    assert loaded == []
    assert "Cannot connect to the dockyard daemon" in result.stderr


def test_images_imports_no_daemon_code() -> None:
    probe = PROBE.replace('"version"', '"images"')
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                            check=False, timeout=60)
    modules = next(ln for ln in result.stdout.splitlines() if ln.startswith("MODULES ")).split()
    assert [m for m in modules if m.startswith(("asyncio", "dockyard.daemon", "dockyard.api",
                                                "dockyard.services", "ctypes"))] == []
