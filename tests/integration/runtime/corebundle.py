"""Bundles and runners for the core runtime tests: a busybox root, ``runc spec``'s config as a
dict, both runtimes on their own ``--root``, and a picture of what a container can leave on
the host (mounts, cgroup directories, state, processes) to compare before and after."""

from __future__ import annotations

import copy
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

BUSYBOX = Path("/bin/busybox")
RUNC = "/usr/sbin/runc"
DOCKYARD = str(Path(sys.executable).with_name("dockyard-runtime"))
FIXTURE = Path(__file__).resolve().parents[2] / "fixtures" / "runtime"
APPLETS = ("sh", "ls", "cat", "echo", "true", "false", "id", "mount", "sleep", "grep",
           "hostname", "env", "pwd", "readlink", "stat", "ps", "kill", "wc", "head", "cut",
           "sort", "touch", "mkdir", "umask", "dd", "test", "printf", "tr")

RUNC_SPEC: dict[str, Any] = {
    "ociVersion": "1.0.2-dev",
    "process": {
        "terminal": False, "user": {"uid": 0, "gid": 0}, "args": ["true"],
        "env": ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
                "TERM=xterm"],
        "cwd": "/",
        "capabilities": {name: ["CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"]
                         for name in ("bounding", "effective", "permitted", "ambient")},
        "rlimits": [{"type": "RLIMIT_NOFILE", "hard": 1024, "soft": 1024}],
        "noNewPrivileges": True,
    },
    "root": {"path": "rootfs", "readonly": True},
    "hostname": "runc",
    "mounts": [
        {"destination": "/proc", "type": "proc", "source": "proc"},
        {"destination": "/dev", "type": "tmpfs", "source": "tmpfs",
         "options": ["nosuid", "strictatime", "mode=755", "size=65536k"]},
        {"destination": "/dev/pts", "type": "devpts", "source": "devpts",
         "options": ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620",
                     "gid=5"]},
        {"destination": "/dev/shm", "type": "tmpfs", "source": "shm",
         "options": ["nosuid", "noexec", "nodev", "mode=1777", "size=65536k"]},
        {"destination": "/dev/mqueue", "type": "mqueue", "source": "mqueue",
         "options": ["nosuid", "noexec", "nodev"]},
        {"destination": "/sys", "type": "sysfs", "source": "sysfs",
         "options": ["nosuid", "noexec", "nodev", "ro"]},
        {"destination": "/sys/fs/cgroup", "type": "cgroup", "source": "cgroup",
         "options": ["nosuid", "noexec", "nodev", "relatime", "ro"]},
    ],
    "linux": {
        "resources": {"devices": [{"allow": False, "access": "rwm"}]},
        "namespaces": [{"type": "pid"}, {"type": "network"}, {"type": "ipc"},
                       {"type": "uts"}, {"type": "mount"}],
        "maskedPaths": ["/proc/acpi", "/proc/asound", "/proc/kcore", "/proc/keys",
                        "/proc/latency_stats", "/proc/timer_list", "/proc/timer_stats",
                        "/proc/sched_debug", "/sys/firmware", "/proc/scsi"],
        "readonlyPaths": ["/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys",
                          "/proc/sysrq-trigger"],
    },
}  # fmt: skip


def make_rootfs(path: Path) -> Path:
    """A busybox root: /bin/busybox, its applets as links, /etc/passwd and /etc/group."""
    (path / "bin").mkdir(parents=True)
    shutil.copy2(BUSYBOX, path / "bin" / "busybox")
    for applet in APPLETS:
        (path / "bin" / applet).symlink_to("busybox")
    (path / "etc").mkdir()
    (path / "etc/passwd").write_text("root:x:0:0:root:/root:/bin/sh\n"
                                     "user:x:1000:1000:user:/home/user:/bin/sh\n")
    (path / "etc/group").write_text("root:x:0:\nwheel:x:10:\nuser:x:1000:\n")
    (path / "tmp").mkdir()
    return path


def runc_spec(**process: Any) -> dict[str, Any]:
    config = copy.deepcopy(RUNC_SPEC)
    config["process"].update(process)
    return config


def docker_spec(**process: Any) -> dict[str, Any]:
    """The config dockerd wrote for ``docker run busybox``, with our own cgroup path."""
    config: dict[str, Any] = json.loads((FIXTURE / "dockerd-busybox-config.json").read_text())
    config["process"].update(process)
    config["linux"]["cgroupsPath"] = ""
    return config


def make_bundle(path: Path, config: dict[str, Any]) -> Path:
    """A bundle at ``path``: the config and a busybox root (plus dockerd's bind sources)."""
    path.mkdir(parents=True, exist_ok=True)
    make_rootfs(path / "rootfs")
    for name, text in (("resolv.conf", "nameserver 127.0.0.1\n"), ("hostname", "ctr\n"),
                       ("hosts", "127.0.0.1 localhost\n")):
        (path / name).write_text(text)
    write_config(path, config)
    return path


def write_config(bundle: Path, config: dict[str, Any]) -> None:
    (bundle / "config.json").write_text(json.dumps(config, indent=1))


class Runtime:
    """One runtime binary with its own ``--root`` under the test's temporary directory."""

    def __init__(self, binary: str, root: Path) -> None:
        self.binary = binary
        self.root = root

    def __call__(self, *args: str, timeout: float = 60, **kwargs: Any) \
            -> subprocess.CompletedProcess[str]:
        kwargs.setdefault("capture_output", True)
        kwargs.setdefault("stdin", subprocess.DEVNULL)
        return subprocess.run([self.binary, "--root", str(self.root), *args], text=True,
                              timeout=timeout, check=False, **kwargs)

    def cleanup(self) -> None:
        """Force-delete every container left under the root, then the root itself."""
        if self.root.is_dir():
            for name in os.listdir(self.root):
                self("delete", "--force", name)
            shutil.rmtree(self.root, ignore_errors=True)


def _cgroup_dirs(container_id: str) -> list[str]:
    """The directories a cgroup named ``container_id`` would have: under each v1 hierarchy's
    root and under this process's own cgroup there (where a relative path goes)."""
    found = set()
    with open("/proc/self/cgroup") as cgroup:
        own = {}
        for line in cgroup:
            _, controllers, path = line.rstrip("\n").split(":", 2)
            for controller in controllers.split(","):
                own[controller.removeprefix("name=")] = path
    for hierarchy in Path("/sys/fs/cgroup").iterdir():
        for base in ("/", own.get(hierarchy.name, "/"), own.get("", "/")):
            candidate = Path(f"{hierarchy}{base.rstrip('/')}/{container_id}")
            if candidate.is_dir():
                found.add(str(candidate))
    return sorted(found)


def host_picture(container_id: str, *paths: Path) -> dict[str, Any]:
    """What a container may leave: host mounts of its id or under ``paths`` (its bundle),
    its cgroup directories, its processes. (Other tests may mount meanwhile: only the
    container's own mounts are compared.)"""
    markers = [container_id, *(str(path) for path in paths)]
    with open("/proc/self/mountinfo") as mountinfo:
        mounts = sorted(line.split(" ", 4)[4] for line in mountinfo
                        if any(marker in line for marker in markers))
    processes = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            cmdline = Path(f"/proc/{entry}/cmdline").read_bytes()
        except OSError:
            continue
        if container_id.encode() in cmdline:
            processes.append(int(entry))
    return {"mounts": mounts, "cgroups": _cgroup_dirs(container_id), "processes": processes}
