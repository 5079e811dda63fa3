"""The cgroup v2 backend on the kernel's cgroup2 hierarchy, mounted by the test itself in a
private mount namespace (a child process's: the test's own namespace is left alone).

This machine's v1 hierarchies hold every controller, and a controller bound to v1 cannot be
enabled on cgroup2, so here the hierarchy offers none: what the kernel does is checked for
the core files (cgroup.procs, cgroup.freeze and cgroup.events, cgroup.max.*, cpu.stat) and
the eBPF device filter; a limit is checked where the hierarchy offers its controller, and
otherwise that it is reported as not applied. The limits themselves are written to a fake
tree in tests/unit/runtime/test_cgroups_full.py.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

pytestmark = pytest.mark.root
UNIFIED = Path("/sys/fs/cgroup/unified")

SCRIPT = """
import json, os, sys, time
from dockyard.runtime.cgroups import Memory, Resources
from dockyard.runtime.cgroups.stats import read
from dockyard.runtime.cgroups.v2 import V2Cgroups
from dockyard.runtime.devices import DeviceRule, cgroup_rules
from dockyard.sys import real
mount_point, name = sys.argv[1], sys.argv[2]
real().mount("cgroup2", mount_point, "cgroup2", 0, "")
out = {"controllers": open(f"{mount_point}/cgroup.controllers").read().split()}
handle = V2Cgroups(mount_point, "/").create(name, Resources(
    memory=Memory(limit=64 << 20), pids_limit=10,
    unified=(("cgroup.max.descendants", "2"),),
    devices=cgroup_rules([DeviceRule(allow=False)])))
directory = handle.paths[""]
r, w = os.pipe()
pid = os.fork()
if pid == 0:
    os.close(w)
    os.read(r, 1)
    devices = []
    for path in ("/dev/null", "/dev/kmsg"):
        try:
            os.close(os.open(path, os.O_RDONLY))
            devices.append("ok")
        except OSError as exc:
            devices.append(exc.strerror)
    print(json.dumps(devices), flush=True)
    count = 0
    while True:  # burns CPU time, which cpu.stat counts unless frozen
        count += 1
handle.add(pid)
os.write(w, b"x")
time.sleep(0.3)
out["pids"] = handle.pids() == [pid]
handle.freeze()
out["frozen"] = open(f"{directory}/cgroup.events").read().split()
first = read(handle.paths).cpu.total
time.sleep(0.3)
out["still_while_frozen"] = read(handle.paths).cpu.total == first
handle.thaw()
time.sleep(0.3)
sample = read(handle.paths)
out["running_again"] = sample.cpu.total > first
out["pids_current"] = sample.pids_current
out["max_descendants"] = open(f"{directory}/cgroup.max.descendants").read().strip()
out["memory_max"] = (open(f"{directory}/memory.max").read().strip()
                     if os.path.exists(f"{directory}/memory.max") else None)
out["warnings"] = [w.replace(directory, "<cgroup>") for w in handle.warnings]
os.kill(pid, 9)
os.waitpid(pid, 0)
handle.destroy()
out["gone"] = not os.path.exists(directory)
print(json.dumps(out))
"""


def test_v2_backend_on_a_cgroup2_mount_of_its_own(tmp_path: Path) -> None:
    if not (UNIFIED / "cgroup.controllers").exists():  # pragma: no cover - another layout
        pytest.skip("no cgroup2 hierarchy at /sys/fs/cgroup/unified to clean up through")
    name = f"dockyard-v2-{uuid.uuid4().hex[:8]}"
    mount_point = tmp_path / "cg2"
    mount_point.mkdir()
    try:
        done = subprocess.run(
            ["unshare", "--mount", "--propagation", "private", sys.executable, "-c", SCRIPT,
             str(mount_point), name],
            capture_output=True, text=True, timeout=60, check=False)
        assert done.returncode == 0, done.stderr
        devices, result = (json.loads(line) for line in done.stdout.splitlines())
    finally:
        leftover = UNIFIED / name
        if leftover.is_dir():
            for pid in (leftover / "cgroup.procs").read_text().split():
                os.kill(int(pid), 9)
            (leftover / "cgroup.freeze").write_text("0")
            os.rmdir(leftover)
    assert devices == ["ok", "Operation not permitted"]  # the eBPF filter: runc's list
    limits_applied = {"memory", "pids"} <= set(result.pop("controllers"))
    assert result == {
        "pids": True, "frozen": ["populated", "1", "frozen", "1"], "still_while_frozen": True,
        "running_again": True, "pids_current": 1, "max_descendants": "2",
        "memory_max": str(64 << 20) if limits_applied else None,
        "warnings": [] if limits_applied else [
            "cgroup: <cgroup>/pids.max does not exist: pids.max not applied",
            "cgroup: <cgroup>/memory.max does not exist: memory.max not applied",
        ],
        "gone": True,
    }
