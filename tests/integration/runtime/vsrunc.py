"""Harness of the behaviour suite: bundles, the two runtimes, and what a probe observes.

A probe runs the same container (same id, same config edits) under runc and under
dockyard-runtime, on two bundles: the config ``runc spec`` writes and the one dockerd wrote
for ``docker run busybox`` (tests/fixtures/runtime). The outcome compared is the container's
stdout, its exit code and the probe's observation, which always includes whether anything of
the container (its cgroup directories, its state) is left once the runtime is done.

With ``cgroup2`` both runtimes run in a private mount namespace of their own where
/sys/fs/cgroup is the cgroup2 hierarchy (this machine's has no controllers: the v1
hierarchies hold them), so they take it for a cgroup v2 machine.
"""

from __future__ import annotations

import contextlib
import copy
import json
import os
import posixpath
import shutil
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from dockyard.runtime.cgroups import inner_path
from dockyard.runtime.cgroups.v1 import V1Cgroups

HERE = Path(__file__).parent
FIXTURE = HERE.parent.parent / "fixtures" / "runtime" / "dockerd-busybox-config.json"
BUSYBOX = Path("/bin/busybox")
RUNC = Path("/usr/sbin/runc")
DOCKYARD = Path(sys.executable).with_name("dockyard-runtime")
RUNTIMES = {"runc": [str(RUNC)], "dockyard": [str(DOCKYARD)]}
UNIFIED = "/sys/fs/cgroup/unified"
CGROUP2 = ["unshare", "--mount", "--propagation", "private", "sh", "-c",
           'mount -t cgroup2 cgroup2 /sys/fs/cgroup && exec "$0" "$@"']
"""Runs a command where /sys/fs/cgroup is the cgroup2 hierarchy."""
BUNDLES = ("runc-spec", "dockerd")

PASSWD = "root:x:0:0:root:/root:/bin/sh\nuser:x:1000:1000:user:/home/user:/bin/sh\n"
GROUP = "root:x:0:\nwheel:x:10:\nusers:x:100:\nuser:x:1000:\n"

Config = dict[str, Any]


@dataclass(frozen=True)
class Probe:
    """One behaviour. ``script`` runs as ``sh -c``; ``argv`` replaces it when given.
    ``steps`` switch to the create/start driver (kill, exec, ...). ``setup`` prepares the
    bundle after its config is written (it gets the Run). ``observe`` looks at the host
    after the run (it gets the Run)."""

    name: str
    area: str
    script: str = ""
    argv: tuple[str, ...] = ()
    edit: Callable[[Config], None] | None = None
    steps: tuple[tuple[Any, ...], ...] = ()
    terminal: bool = False
    failure: bool = False
    bundles: tuple[str, ...] = BUNDLES
    observe: Callable[[Run], Any] | None = None
    setup: Callable[[Run], None] | None = None
    slow: bool = False

    @property
    def driven(self) -> bool:
        return bool(self.steps) or self.terminal


@dataclass
class Run:
    runtime: str
    bundle_kind: str
    cid: str
    bundle: Path
    root: Path
    config: Config
    result: dict[str, Any] = field(default_factory=dict)
    cgroup2: bool = False

    @property
    def command(self) -> list[str]:
        return [*CGROUP2, *RUNTIMES[self.runtime]] if self.cgroup2 else RUNTIMES[self.runtime]

    def cgroup_paths(self) -> dict[str, str]:
        path = self.config.get("linux", {}).get("cgroupsPath", "")
        if self.cgroup2:  # from the root; an empty path: beside our own cgroup, "/" here
            return {"": posixpath.join(UNIFIED, inner_path(path, self.cid).lstrip("/"))}
        return V1Cgroups.from_proc().paths_for(inner_path(path, self.cid))


def runc_spec(directory: Path) -> Config:
    subprocess.run([str(RUNC), "spec", "--bundle", str(directory)], check=True)
    config: Config = json.loads((directory / "config.json").read_text())
    (directory / "config.json").unlink()
    return config


def make_rootfs(rootfs: Path) -> None:
    for name in ("bin", "proc", "sys", "dev", "etc", "tmp", "mnt", "root", "home/user"):
        (rootfs / name).mkdir(parents=True, exist_ok=True)
    os.chmod(rootfs / "tmp", 0o1777)
    shutil.copy2(BUSYBOX, rootfs / "bin" / "busybox")
    applets = subprocess.run(
        [str(BUSYBOX), "--list"], capture_output=True, text=True, check=False
    ).stdout
    for applet in applets.split():
        if applet != "busybox":
            (rootfs / "bin" / applet).symlink_to("busybox")
    (rootfs / "etc" / "passwd").write_text(PASSWD)
    (rootfs / "etc" / "group").write_text(GROUP)


def base_config(kind: str, spec: Config) -> Config:
    if kind == "runc-spec":
        return copy.deepcopy(spec)
    return json.loads(FIXTURE.read_text())


def prepare(run: Run, probe: Probe) -> None:
    """Writes the bundle: a fresh rootfs, the bind-mount sources dockerd's config names, and
    config.json with the probe's process and edits."""
    make_rootfs(run.bundle / "rootfs")
    config = run.config
    config["process"]["terminal"] = probe.terminal
    config["process"]["args"] = list(probe.argv) if probe.argv else ["sh", "-c", probe.script]
    if run.bundle_kind == "dockerd":
        files = {
            "hostname": "510eaa7ab4a0\n",
            "hosts": "127.0.0.1\tlocalhost\n",
            "resolv.conf": "nameserver 127.0.0.1\n",
        }
        for name, text in files.items():
            (run.bundle / name).write_text(text)
        for mount in config["mounts"]:
            if mount["source"] in files:
                mount["source"] = str(run.bundle / mount["source"])
        config["linux"]["cgroupsPath"] = f"/dockyard-vs-runc/{run.cid}"
    if probe.edit is not None:
        probe.edit(config)
    (run.bundle / "config.json").write_text(json.dumps(config, indent=1))
    if probe.setup is not None:
        probe.setup(run)


def execute(run: Run, probe: Probe) -> None:
    command = run.command
    if probe.driven:
        request = {
            "runtime": command,
            "root": str(run.root),
            "bundle": str(run.bundle),
            "id": run.cid,
            "steps": [list(step) for step in probe.steps],
            "terminal": probe.terminal,
        }
        (run.bundle / "request.json").write_text(json.dumps(request))
        done = subprocess.run(
            [sys.executable, str(HERE / "vsrunc_driver.py"), str(run.bundle / "request.json")],
            capture_output=True,
            text=True,
            timeout=90,
            check=False,
        )
        run.result = json.loads(done.stdout) if done.stdout else {"driver": done.stderr}
        return
    try:
        done = subprocess.run(
            [*command, "--root", str(run.root), "run", "--bundle", str(run.bundle), run.cid],
            stdin=subprocess.DEVNULL,
            capture_output=True,
            timeout=60,
            cwd=run.bundle,
            check=False,
        )
        run.result = {
            "stdout": done.stdout.decode(errors="replace"),
            "exit": done.returncode,
            "stderr": done.stderr.decode(errors="replace"),
        }
    finally:
        subprocess.run(
            [*command, "--root", str(run.root), "delete", "--force", run.cid],
            capture_output=True,
            timeout=30,
            check=False,
        )


def leftovers(run: Run) -> list[str]:
    """What of the container outlived the runtime: cgroup directories and state."""
    left = [name for name, path in run.cgroup_paths().items() if os.path.exists(path)]
    if (run.root / run.cid).exists():
        left.append("state")
    return left


def cleanup(run: Run) -> None:
    for path in run.cgroup_paths().values():
        if os.path.isdir(path):
            with contextlib.suppress(OSError):
                os.rmdir(path)
    parent_paths = {os.path.dirname(p) for p in run.cgroup_paths().values()}
    for parent in parent_paths:
        if os.path.basename(parent) == "dockyard-vs-runc" and os.path.isdir(parent):
            with contextlib.suppress(OSError):
                os.rmdir(parent)


def outcome(run: Run, probe: Probe) -> dict[str, Any]:
    """The comparable part: stdout, exit code, the probe's observation, leftovers."""
    result = run.result
    compared: dict[str, Any] = {
        "stdout": result.get("stdout"),
        "exit": result.get("exit"),
        "leftovers": leftovers(run),
    }
    if "driver" in result:
        compared["driver_error"] = result["driver"]
    if probe.driven:
        for key in ("create", "start", "steps", "created_status", "stopped_status", "delete"):
            compared[key] = result.get(key)
    if probe.observe is not None:
        compared["observation"] = probe.observe(run)
    return compared


def run_probe(
    probe: Probe, kind: str, runtime: str, spec: Config, workdir: Path, token: str = "",
    *, cgroup2: bool = False,
) -> dict[str, Any]:
    """``token`` keeps container ids (and so cgroup paths) apart between concurrent suites;
    both runtimes get the same id within a probe."""
    cid = f"vs{token}-{probe.name}-{kind}"[:60]
    run = Run(
        runtime,
        kind,
        cid,
        workdir / runtime / kind,
        workdir / runtime / "state",
        base_config(kind, spec),
        cgroup2=cgroup2,
    )
    run.bundle.mkdir(parents=True)
    try:
        prepare(run, probe)
        execute(run, probe)
        compared = outcome(run, probe)
        compared["_stderr"] = run.result.get("stderr", run.result.get("driver", ""))
        return compared
    finally:
        cleanup(run)
