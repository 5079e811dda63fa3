"""How a container's first process gets into its cgroup: cloned into the cgroup2 directory
(clone3 CLONE_INTO_CGROUP), the v1 hierarchies joined by the init (or stage 1) itself through
``tasks``, and the fallback through ``cgroup.procs`` where clone3 is refused."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from dockyard.sys.flags import CLONE_NEWPID, CLONE_NEWUTS
from dockyard.sys.linux import LinuxSyscalls

from .corebundle import DOCKYARD, Runtime, host_picture, make_bundle, runc_spec

pytestmark = pytest.mark.root

UNIFIED = next((p for p in ("/sys/fs/cgroup/unified", "/sys/fs/cgroup")
                if os.path.exists(f"{p}/cgroup.procs")), "")  # fmt: skip

SPAWNER = """
import errno, json, os, sys
from dockyard.errors import SystemCallError
from dockyard.runtime.library import Runtime
from dockyard.sys.linux import LinuxSyscalls

class NoClone3(LinuxSyscalls):
    def fork_into_cgroup(self, cgroup_fd):
        raise SystemCallError("clone3", errno.ENOSYS, "refused as a seccomp filter would")

    def clone_into_cgroup(self, cgroup_fd, flags=0):
        raise SystemCallError("clone3", errno.ENOSYS, "refused as a seccomp filter would")

root, bundle = sys.argv[1], sys.argv[2]
results = {}
for name, sys_ in (("clone3", LinuxSyscalls()), ("fallback", NoClone3())):
    runtime = Runtime(root, sys=sys_, subreaper=True)
    r, w = os.pipe()
    container = runtime.run(f"cgstart-{name}", bundle, stdio=(0, w, 2))
    os.close(w)
    status = runtime.wait(container)
    results[name] = [status, os.read(r, 65536).decode()]
    os.close(r)
    runtime.delete(f"cgstart-{name}")
print(json.dumps(results))
"""


@pytest.mark.skipif(not UNIFIED, reason="no cgroup2 hierarchy on this machine")
def test_fork_into_cgroup_starts_the_child_in_the_directory() -> None:
    directory = f"{UNIFIED}/dockyard-fork-into-{os.getpid()}"
    os.mkdir(directory)
    try:
        fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
        r, w = os.pipe()
        try:
            pid = LinuxSyscalls().fork_into_cgroup(fd)
            if pid == 0:
                try:
                    with open("/proc/self/cgroup", "rb") as file:
                        os.write(w, file.read())
                finally:
                    os._exit(0)
            os.close(w)
            _, status = os.waitpid(pid, 0)
            lines = os.read(r, 65536).decode().splitlines()
        finally:
            os.close(fd)
            os.close(r)
        assert os.waitstatus_to_exitcode(status) == 0
        assert f"0::/{Path(directory).name}" in lines
    finally:
        os.rmdir(directory)


@pytest.mark.skipif(not UNIFIED, reason="no cgroup2 hierarchy on this machine")
def test_clone_into_cgroup_with_new_namespaces_returns_a_pidfd() -> None:
    directory = f"{UNIFIED}/dockyard-clone-into-{os.getpid()}"
    os.mkdir(directory)
    try:
        fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
        r, w = os.pipe()
        try:
            pid, pidfd = LinuxSyscalls().clone_into_cgroup(fd, CLONE_NEWPID | CLONE_NEWUTS)
            if pid == 0:
                try:
                    with open("/proc/self/cgroup", "rb") as file:
                        os.write(w, f"{os.getpid()}\n".encode() + file.read())
                finally:
                    os._exit(0)
            os.close(w)
            try:
                result = os.waitid(os.P_PIDFD, pidfd, os.WEXITED)
            finally:
                os.close(pidfd)
            lines = os.read(r, 65536).decode().splitlines()
        finally:
            os.close(fd)
            os.close(r)
        assert result is not None and (result.si_pid, result.si_status) == (pid, 0)
        assert lines[0] == "1"  # pid 1 of its new pid namespace
        assert f"0::/{Path(directory).name}" in lines
    finally:
        os.rmdir(directory)


def test_container_is_in_every_hierarchy_with_and_without_clone3(tmp_path: Path) -> None:
    bundle = make_bundle(tmp_path / "b", runc_spec(args=["cat", "/proc/self/cgroup"]))
    root = tmp_path / "root"
    try:
        done = subprocess.run([sys.executable, "-c", SPAWNER, str(root), str(bundle)],
                              capture_output=True, text=True, timeout=120, check=False)
        assert done.returncode == 0, done.stderr
        results = json.loads(done.stdout)
    finally:
        Runtime(DOCKYARD, root).cleanup()
    with open("/proc/self/cgroup") as file:  # the runtime's own, where a relative path goes
        own = [line.rstrip("\n").split(":", 2) for line in file]
    for name in ("clone3", "fallback"):
        wanted = [
            f"{number}:{hierarchies}:{path.rstrip('/')}/cgstart-{name}"
            if _mounted(hierarchies) else f"{number}:{hierarchies}:{path}"
            for number, hierarchies, path in own
        ]  # fmt: skip
        assert results[name] == [0, "".join(f"{line}\n" for line in wanted)]
    assert host_picture("cgstart-clone3")["cgroups"] == []
    assert host_picture("cgstart-fallback")["cgroups"] == []


def _mounted(hierarchies: str) -> bool:
    """Whether the runtime uses this hierarchy (a v1 one mounted under /sys/fs/cgroup, or the
    unified one of a hybrid machine)."""
    if not hierarchies:
        return UNIFIED == "/sys/fs/cgroup/unified"
    return any(os.path.isdir(f"/sys/fs/cgroup/{name.removeprefix('name=')}")
               for name in hierarchies.split(","))
