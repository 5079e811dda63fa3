"""The warm-spawner interface: one process creates, waits for and deletes containers by
forking, with nothing of its own reaching them."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from .corebundle import DOCKYARD, Runtime, host_picture, make_bundle, runc_spec

pytestmark = pytest.mark.root

SPAWNER = """
import json, os, signal, sys
from dockyard.runtime.library import Runtime
from dockyard.runtime.spec import Process
root, bundle = sys.argv[1], sys.argv[2]
signal.signal(signal.SIGPIPE, signal.SIG_IGN)          # what a daemon may have done
leak = os.open("/", os.O_RDONLY)                     # inheritable fds of the spawner
os.set_inheritable(leak, True)
runtime = Runtime(root, subreaper=True)
runtime.warm_up()
r, w = os.pipe()
null = os.open("/dev/null", os.O_RDWR)
results = {}
for n in range(3):
    container = runtime.run(f"lib{n}", bundle, stdio=(null, w, w))
    results[f"status{n}"] = runtime.wait(container)
    runtime.delete(f"lib{n}")
os.close(w)
results["output"] = os.read(r, 65536).decode()
box = runtime.create("box", bundle.replace("/b", "/sleeper"), stdio=(null, null, null))
runtime.start("box")
results["state"] = runtime.state("box").status
proc = runtime.exec("box", Process(args=("sh", "-c", "exit 4"), cwd="/", env=("PATH=/bin",)),
                    stdio=(null, null, null))
results["exec"] = runtime.wait(proc)
results["ps"] = len(runtime.ps("box"))
runtime.kill("box", 9)
results["init"] = runtime.wait(box)
runtime.delete("box")
results["list"] = [s.id for s in runtime.list()]
runtime.close()
import gc
results["gc"] = gc.isenabled()                       # off only while a child shares pages
print(json.dumps(results))
"""


def test_warm_spawner(tmp_path: Path) -> None:
    script = "echo out; ls /proc/self/fd | tr '\\n' ' '; grep SigIgn /proc/self/status; true"
    bundle = make_bundle(tmp_path / "b", runc_spec(args=["sh", "-c", script]))
    make_bundle(tmp_path / "sleeper", runc_spec(args=["sleep", "100"]))
    root = tmp_path / "root"
    try:
        done = subprocess.run([sys.executable, "-c", SPAWNER, str(root), str(bundle)],
                              capture_output=True, text=True, timeout=120, check=False)
        assert done.returncode == 0, done.stderr
        results = json.loads(done.stdout)
    finally:
        Runtime(DOCKYARD, root).cleanup()
    line = "out\n0 1 2 3 SigIgn:\t0000000000000000\n"
    assert results == {"status0": 0, "status1": 0, "status2": 0, "output": line * 3,
                       "state": "running", "exec": 4, "ps": 1, "init": 137, "list": [],
                       "gc": True}
    assert host_picture("lib0")["cgroups"] == host_picture("box")["cgroups"] == []


PARENTS = """
import json, os, select, sys
from dockyard.runtime.library import Runtime
root, bundle, subreaper = sys.argv[1], sys.argv[2], sys.argv[3] == "1"
runtime = Runtime(root, subreaper=subreaper)
null = os.open("/dev/null", os.O_RDWR)
container = runtime.run("parent", bundle, stdio=(null, null, null))
with open(f"/proc/{container.pid}/status") as file:
    ppid = int(next(line for line in file if line.startswith("PPid:")).split()[1])
runtime.kill("parent", 9)
select.select([container.pidfd], [], [], 10.0)
if subreaper:
    runtime.wait(container)
else:
    os.close(container.pidfd)
runtime.delete("parent")
print(json.dumps({"ours": ppid == os.getpid()}))
"""


@pytest.mark.parametrize("subreaper", [True, False])
def test_the_init_is_the_callers_child_only_for_a_subreaper(tmp_path: Path,
                                                           subreaper: bool) -> None:
    """A subreaper reaps the init anyway, so it is cloned straight from the caller (no stage
    1); any other caller gets runc's grandchild, reparented away from it."""
    bundle = make_bundle(tmp_path / "b", runc_spec(args=["sleep", "100"]))
    root = tmp_path / "root"
    try:
        done = subprocess.run(
            [sys.executable, "-c", PARENTS, str(root), str(bundle), str(int(subreaper))],
            capture_output=True, text=True, timeout=120, check=False)
        assert done.returncode == 0, done.stderr
        assert json.loads(done.stdout) == {"ours": subreaper}
    finally:
        Runtime(DOCKYARD, root).cleanup()
    assert host_picture("parent")["cgroups"] == []


REMEMBERS = """
import os, sys
from dockyard.runtime.library import Runtime
root, bundle, same = sys.argv[1], sys.argv[2], sys.argv[3] == "1"
runtime = Runtime(root, subreaper=True)
null = os.open("/dev/null", os.O_RDWR)
container = runtime.run("remembered", bundle, stdio=(null, null, null))
runtime.wait(container)
with open(os.path.join(root, "remembered", "config.json"), "wb") as file:
    file.write(b"damaged")       # read back, it would hide the poststop hook
(runtime if same else Runtime(root)).delete("remembered")
"""


@pytest.mark.parametrize("same", [True, False])
def test_delete_uses_the_config_it_created_with(tmp_path: Path, same: bool) -> None:
    """The object that created a container does not read its config.json back on delete;
    any other reads it (and a damaged copy runs no hooks)."""
    hooked = tmp_path / "hooked"
    config = runc_spec(args=["true"])
    config["hooks"] = {"poststop": [{"path": "/bin/sh",
                                     "args": ["sh", "-c", f"echo stopped > {hooked}"]}]}
    bundle = make_bundle(tmp_path / "b", config)
    root = tmp_path / "root"
    try:
        done = subprocess.run(
            [sys.executable, "-c", REMEMBERS, str(root), str(bundle), str(int(same))],
            capture_output=True, text=True, timeout=120, check=False)
        assert done.returncode == 0, done.stderr
    finally:
        Runtime(DOCKYARD, root).cleanup()
    assert hooked.exists() == same
    assert host_picture("remembered")["cgroups"] == []
