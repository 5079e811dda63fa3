"""The one-shot commands start fast: the runtime's own modules import nothing heavy."""

from __future__ import annotations

import subprocess
import sys

OURS = (
    "dockyard.runtime.main", "dockyard.runtime.cli", "dockyard.runtime.log",
    "dockyard.runtime.spec", "dockyard.runtime.state", "dockyard.runtime.validate",
    "dockyard.runtime.ops.create", "dockyard.runtime.ops.run", "dockyard.runtime.ops.start",
    "dockyard.runtime.ops.state", "dockyard.runtime.ops.kill", "dockyard.runtime.ops.delete",
    "dockyard.runtime.ops.exec", "dockyard.runtime.ops.list", "dockyard.runtime.spawn",
    "dockyard.runtime.init", "dockyard.runtime.channel", "dockyard.runtime.rootfs",
    "dockyard.runtime.mounts", "dockyard.runtime.devnodes", "dockyard.runtime.namespaces",
    "dockyard.runtime.process", "dockyard.runtime.confinement", "dockyard.runtime.exechelper",
    "dockyard.runtime.signals", "dockyard.runtime.foreground", "dockyard.runtime.library",
    "dockyard.runtime.capabilities", "dockyard.runtime.devices", "dockyard.runtime.cgroups",
    "dockyard.runtime.cgroups.fs", "dockyard.runtime.cgroups.v1", "dockyard.runtime.cgroups.v2",
    "dockyard.runtime.seccomp", "dockyard.sys.libseccomp",
    "dockyard.sys", "dockyard.sys.linux",
    "dockyard.runtime.hooks", "dockyard.runtime.ops.pause", "dockyard.runtime.ops.update",
    "dockyard.runtime.ops.events", "dockyard.runtime.ops.spec", "dockyard.runtime.ops.features",
    "dockyard.runtime.cgroups.stats", "dockyard.runtime.cgroups.statsv1",
    "dockyard.runtime.cgroups.statsv2", "dockyard.runtime.cgroups.io",
    "dockyard.runtime.cgroups.bpfdevices",
)  # fmt: skip
HEAVY = ("json", "re", "dataclasses", "typing", "logging", "pathlib", "enum", "socket",
         "signal", "subprocess", "datetime", "inspect", "contextlib")


def test_runtime_modules_import_nothing_heavy() -> None:
    probe = (f"import sys\nfor name in {OURS!r}: __import__(name)\n"
             "print(' '.join(sorted(sys.modules)))")
    result = subprocess.run([sys.executable, "-S", "-c", probe], capture_output=True,
                            text=True, check=True, timeout=60,
                            env={"PYTHONPATH": ":".join(p for p in sys.path if p)})
    loaded = set(result.stdout.split())
    assert sorted(loaded & set(HEAVY)) == []
