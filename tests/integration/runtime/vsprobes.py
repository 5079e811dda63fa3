"""The behaviour suite's probes of Runtime II (see test_vs_runc.py): pause, update, events
--stats, hooks, user namespaces, and the cgroup v2 probes both runtimes run where
/sys/fs/cgroup is the cgroup2 hierarchy (vsrunc.CGROUP2).

Where runc 1.1.5 and dockyard-runtime differ on purpose the observation leaves it out and a
dockyard-only test checks it: poststart hooks run at the end of ``create`` in runc 1.1 and
after ``start`` here, as the spec says (test_runtime2.py).
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from .vsrunc import Config, Probe, Run

CG = "/sys/fs/cgroup"
TICKS = "echo ready; while :; do echo t >> /share/ticks; sleep 0.05; done"
STEADY = "echo ready; exec sleep 60"
MOVE_ON = "echo ready; while :; do sleep 0.05; done"
MAPPED = 100000
JOINED = 200000
HOST: dict[str, Any] = {}
"""Filled by :func:`host_fixture`: the host's mount namespace, a directory for user
namespace roots (searchable by their mapped ids) and a user namespace to join."""


@contextlib.contextmanager
def host_fixture(work: Path) -> Iterator[None]:
    """Set HOST up for the probes; undo it all afterwards."""
    HOST["mnt"] = os.readlink("/proc/self/ns/mnt")
    roots = work / "userns"
    roots.mkdir()
    roots.chmod(0o711)
    HOST["userns"] = roots
    holder = subprocess.Popen(["unshare", "--user", "sleep", "600"])
    try:
        _map_when_ready(holder.pid)
        HOST["userns_pid"] = holder.pid
        yield
    finally:
        holder.kill()
        holder.wait()


def _map_when_ready(pid: int) -> None:
    host_ns = os.readlink("/proc/self/ns/user")
    for _ in range(500):
        if os.readlink(f"/proc/{pid}/ns/user") != host_ns:
            break
        time.sleep(0.01)
    for name in ("uid_map", "gid_map"):
        Path(f"/proc/{pid}/{name}").write_text(f"0 {JOINED} 65536\n")


# --- setups and edits ---------------------------------------------------------------------


def _config(run: Run) -> Config:
    config: Config = json.loads((run.bundle / "config.json").read_text())
    return config


def _write(run: Run, config: Config) -> None:
    (run.bundle / "config.json").write_text(json.dumps(config, indent=1))


def share(run: Run) -> None:
    """<bundle>/share, world-writable, bound read-write at /share."""
    directory = run.bundle / "share"
    directory.mkdir()
    directory.chmod(0o777)
    (directory / "ticks").write_text("")
    config = _config(run)
    config["mounts"].append({"destination": "/share", "type": "bind", "source": str(directory),
                             "options": ["rbind", "rw"]})
    _write(run, config)


def resources(**fields: Any) -> Callable[[Config], None]:
    return lambda config: config["linux"].setdefault("resources", {}).update(fields)


def resources_file(run: Run) -> None:
    share(run)
    (run.bundle / "share" / "r.json").write_text(json.dumps(
        {"memory": {"limit": 48 << 20}, "pids": {"limit": 12}, "cpu": {"shares": 256}}))


def user_namespace(host_id: int = MAPPED, *, joined: bool = False) -> Callable[[Config], None]:
    def change(config: Config) -> None:
        entry: dict[str, str] = {"type": "user"}
        if joined:
            entry["path"] = f"/proc/{HOST['userns_pid']}/ns/user"
        config["linux"]["namespaces"].append(entry)
        for name in ("uidMappings", "gidMappings"):
            config["linux"][name] = [{"containerID": 0, "hostID": host_id, "size": 65536}]

    return change


def mapped_root(host_id: int = MAPPED) -> Callable[[Run], None]:
    """Move the root (and the bundle files it binds) where the mapped ids can reach them, and
    give it to the mapped root (a bundle under pytest's 0700 directories they cannot)."""

    def setup(run: Run) -> None:
        base = HOST["userns"] / f"{run.runtime}-{run.cid}"
        base.mkdir()
        base.chmod(0o711)
        shutil.move(run.bundle / "rootfs", base / "rootfs")
        config = _config(run)
        config["root"]["path"] = str(base / "rootfs")
        for mount in config["mounts"]:
            source = Path(mount.get("source", ""))
            if source.is_relative_to(run.bundle) and source.is_file():
                shutil.copy(source, base / source.name)
                mount["source"] = str(base / source.name)
        _write(run, config)
        for path in [base / "rootfs", *(base / "rootfs").rglob("*")]:
            os.lchown(path, host_id, host_id)

    return setup


def _hook(name: str, log: str) -> dict[str, Any]:
    """A hook that logs its name, the state's status, what its pid is, whether it runs in
    the host's mount namespace and its cwd."""
    script = (
        'read -r s; st=$(echo "$s" | sed -n \'s/.*"status":"\\([a-z]*\\)".*/\\1/p\'); '
        'p=$(echo "$s" | sed -n \'s/.*"pid":\\([0-9]*\\).*/\\1/p\'); '
        'case "$p" in 1) p=one;; "") p=none;; *) p=host;; esac; '
        f'if [ "$(readlink /proc/self/ns/mnt)" = "{HOST["mnt"]}" ]; then ns=host; '
        'else ns=container; fi; '
        f'echo "{name} $st pid=$p ns=$ns cwd=$PWD" >> {log}'
    )
    return {"path": "/bin/sh", "args": ["sh", "-c", script]}


def hooks(*, failing: str = "", timeout: bool = False) -> Callable[[Run], None]:
    """Every kind of hook logging to <bundle>/share/hooks.log (startContainer, which runs in
    the container's root, through /share); ``failing`` makes that kind exit 1 first;
    ``timeout`` adds a createRuntime hook that outlives its 1 s timeout."""

    def setup(run: Run) -> None:
        share(run)
        config = _config(run)
        log = str(run.bundle / "share" / "hooks.log")
        config["hooks"] = {
            kind: [_hook(kind, "/share/hooks.log" if kind == "startContainer" else log)]
            for kind in ("prestart", "createRuntime", "createContainer", "startContainer",
                         "poststart", "poststop")
        }
        config["hooks"]["createRuntime"].append(_hook("createRuntime-2", log))
        if failing:
            config["hooks"][failing].insert(0, {"path": "/bin/sh",
                                                "args": ["sh", "-c", "exit 1"]})
        if timeout:
            config["hooks"]["createRuntime"].insert(
                0, {"path": "/bin/sleep", "args": ["sleep", "20"], "timeout": 1})
        _write(run, config)

    return setup


def hook_log(run: Run) -> dict[str, Any]:
    """The hooks' order (poststart aside: runc 1.1 runs it at create) and their lines."""
    path = run.bundle / "share" / "hooks.log"
    lines = path.read_text().replace(str(run.bundle), "<bundle>").splitlines() \
        if path.exists() else []
    poststart = [" ".join(w for w in line.split() if w not in ("created", "running"))
                 for line in lines if line.startswith("poststart")]
    return {"order": [line for line in lines if not line.startswith("poststart")],
            "poststart": poststart}


# --- probes -------------------------------------------------------------------------------

LIMITS = (f"cat {CG}/memory/memory.limit_in_bytes {CG}/memory/memory.memsw.limit_in_bytes "
          f"{CG}/cpu/cpu.shares {CG}/cpu/cpu.cfs_quota_us {CG}/cpu/cpu.cfs_period_us "
          f"{CG}/pids/pids.max {CG}/cpuset/cpuset.cpus")
ALLOC_32M = ("(echo 1000 > /proc/self/oom_score_adj; v=$(head -c 33554432 /dev/zero | "
             "tr '\\0' a); echo ${#v}); echo rc=$?")
MAPS = ("cat /proc/self/uid_map /proc/self/gid_map /proc/self/setgroups; id; "
        "stat -c '%u:%g %n' / /bin/busybox /proc/1 /dev/null /dev/pts; "
        "touch /dev/shm/f && stat -c '%u:%g %a' /dev/shm/f; grep -E '^Cap(Eff|Bnd)' "
        "/proc/self/status")

PROBES = [
    # pause
    Probe("pause-freezes", "pause", TICKS, setup=share, steps=(
        ("wait_for", "ready"), ("verb", "pause"), ("status",), ("still", 0.5),
        ("verb", "pause"), ("exec", [], ["true"]), ("verb", "resume"), ("status",),
        ("still", 0.5), ("verb", "resume"), ("kill", "KILL"),
    )),
    Probe("pause-kill", "pause", TICKS, setup=share, steps=(
        ("wait_for", "ready"), ("verb", "pause"), ("kill", "TERM"), ("still", 0.3),
        ("status",), ("kill", "KILL"),
    )),
    Probe("pause-kill-all", "pause", "sleep 30 & " + TICKS, setup=share, steps=(
        ("wait_for", "ready"), ("verb", "pause"), ("kill", "--all", "KILL"),
    )),
    Probe("pause-delete", "pause", TICKS, setup=share, failure=True, steps=(
        ("wait_for", "ready"), ("verb", "pause"), ("verb", "delete"), ("status",),
        ("verb", "delete", "--force"), ("status",),
    )),
    # update
    Probe("update-memory-lowered", "update", MOVE_ON, failure=True,
          edit=resources(memory={"limit": 256 << 20}), steps=(
        ("wait_for", "ready"), ("exec", [], ["sh", "-c", ALLOC_32M]),
        ("verb", "update", "--memory", "16M", "--memory-swap", "16m"),
        ("exec", [], ["sh", "-c", f"cat {CG}/memory/memory.limit_in_bytes; " + ALLOC_32M]),
        ("kill", "KILL"),
    )),
    Probe("update-flags", "update", MOVE_ON, edit=resources(cpu={"shares": 1024}), steps=(
        ("wait_for", "ready"),
        ("verb", "update", "--cpu-share", "512", "--cpu-quota", "20000", "--cpu-period",
         "100000", "--pids-limit", "30", "--cpuset-cpus", "0", "--memory", "64m"),
        ("exec", [], ["sh", "-c", LIMITS]),
        ("verb", "update", "--cpu-quota", "-1", "--memory", "-1"),
        ("exec", [], ["sh", "-c", LIMITS]),
        ("kill", "KILL"),
    )),
    Probe("update-resources-file", "update", MOVE_ON, setup=resources_file, steps=(
        ("wait_for", "ready"), ("verb", "update", "--resources", "{bundle}/share/r.json"),
        ("exec", [], ["sh", "-c", LIMITS]), ("kill", "KILL"),
    )),
    Probe("update-bad-value", "update", MOVE_ON, failure=True, steps=(
        ("wait_for", "ready"), ("verb", "update", "--memory", "lots"),
        ("verb", "update", "--cpu-share", "-1"), ("kill", "KILL"),
    )),
    # stats
    Probe("stats-limits", "stats", STEADY, edit=resources(
        memory={"limit": 64 << 20}, pids={"limit": 20}, cpu={"cpus": "0"}), steps=(
        ("wait_for", "ready"), ("stats",), ("kill", "KILL"),
    )),
    # hooks
    Probe("hooks-in-order", "hooks", "echo ran", setup=hooks(), observe=hook_log),
    Probe("hooks-prestart-fails", "hooks", "echo unreachable", failure=True,
          setup=hooks(failing="prestart"), observe=hook_log),
    Probe("hooks-create-container-fails", "hooks", "echo unreachable", failure=True,
          setup=hooks(failing="createContainer"), observe=hook_log),
    Probe("hooks-timeout", "hooks", "echo unreachable", failure=True,
          setup=hooks(timeout=True), observe=hook_log),
    # user namespaces
    Probe("userns-mapped-ids", "userns", MAPS, edit=user_namespace(), setup=mapped_root()),
    Probe("userns-join", "userns", MAPS, edit=user_namespace(JOINED, joined=True),
          setup=mapped_root(JOINED)),
    Probe("userns-exec", "userns", MOVE_ON, edit=user_namespace(), setup=mapped_root(), steps=(
        ("wait_for", "ready"),
        ("exec", ["--user", "1000:1000"], ["sh", "-c", "id; cat /proc/self/uid_map; "
                                                       "grep -E '^Cap(Eff|Prm)' "
                                                       "/proc/self/status"]),
        ("kill", "KILL"),
    )),
    Probe("userns-no-mappings", "userns", "id", failure=True,
          edit=lambda c: c["linux"]["namespaces"].append({"type": "user"})),
    Probe("userns-mappings-ignored-without-userns", "userns", "id",
          edit=lambda c: c["linux"].update(
              uidMappings=[{"containerID": 0, "hostID": MAPPED, "size": 10}])),
]

V2_VIEW = "tail -1 /proc/self/cgroup; p=$(tail -1 /proc/self/cgroup | cut -d: -f3); "
V2_PROBES = [
    Probe("v2-cgroup", "cgroup2", V2_VIEW + "mount | grep ' /sys/fs/cgroup '"),
    Probe("v2-unified", "cgroup2",
          V2_VIEW + f"cat {CG}$p/cgroup.max.descendants {CG}$p/cgroup.max.depth",
          edit=resources(unified={"cgroup.max.descendants": "3", "cgroup.max.depth": "2"})),
    Probe("v2-unified-no-controller", "cgroup2", "echo unreachable", failure=True,
          edit=resources(unified={"memory.high": "1000000"})),
    Probe("v2-pause", "cgroup2", TICKS, setup=share, steps=(
        ("wait_for", "ready"), ("verb", "pause"), ("status",), ("still", 0.5),
        ("verb", "resume"), ("status",), ("still", 0.5), ("kill", "KILL"),
    )),
    Probe("v2-stats", "cgroup2", STEADY, steps=(("wait_for", "ready"), ("stats",),
                                                ("kill", "KILL"))),
    Probe("v2-update-without-controller", "cgroup2", MOVE_ON, failure=True, steps=(
        ("wait_for", "ready"), ("verb", "update", "--memory", "16m"), ("kill", "KILL"),
    )),
    Probe("v2-devices", "cgroup2",
          "head -c 4 /dev/zero | od -An -tx1; echo x > /dev/null; echo rc=$?; "
          "mknod /dev/probe-kmsg c 1 11 2>&1; echo mknod=$?; "
          "head -c 1 /dev/probe-kmsg 2>&1 >/dev/null; echo read=$?"),
    Probe("v2-exec", "cgroup2", MOVE_ON, steps=(
        ("wait_for", "ready"), ("exec", [], ["sh", "-c", "tail -1 /proc/self/cgroup"]),
        ("kill", "KILL"),
    )),
]
