"""Which engines can run on this machine, with their versions, probed once per run."""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from bench.registries import REGISTRY
from bench.rows import Context

PROBE_TIMEOUT_S = 30.0
SETUP_HINT = "run `sudo bash bench/setup.sh` first"


@dataclass(frozen=True, slots=True)
class Availability:
    engine: str
    version: str = ""  # empty when unavailable
    reason: str = ""  # why the engine is unavailable; empty when it is available

    @property
    def available(self) -> bool:
        return not self.reason


def _output(argv: Sequence[str], ctx: Context) -> tuple[bool, str]:
    """(exit 0, stdout or the last line of stderr) of a short command."""
    try:
        proc = subprocess.run(
            list(argv),
            capture_output=True,
            text=True,
            timeout=PROBE_TIMEOUT_S,
            env={**os.environ, **ctx.env},
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        return False, str(exc)
    if proc.returncode != 0:
        lines = proc.stderr.strip().splitlines() or [f"exit status {proc.returncode}"]
        return False, lines[-1]
    return True, proc.stdout.strip()


def _dockyard(ctx: Context) -> Availability:
    if not ctx.python.exists():
        return Availability("dockyard", reason=f"no python at {ctx.python} (run scripts/setup)")
    ok, version = _output(
        [str(ctx.python), "-c", "import dockyard; print(dockyard.__version__)"], ctx
    )
    if not ok:
        return Availability("dockyard", reason=f"cannot import dockyard: {version}")
    ok, rev = _output(["git", "-C", str(ctx.repo), "describe", "--always", "--dirty"], ctx)
    return Availability("dockyard", f"{version} ({rev})" if ok else version)


def _docker(ctx: Context) -> Availability:
    if shutil.which(ctx.docker) is None:
        return Availability("docker", reason=f"no docker CLI at {ctx.docker}")
    ok, out = _output(
        [ctx.docker, "version", "--format", "{{.Server.Version}} (client {{.Client.Version}})"], ctx
    )
    if not ok:
        return Availability("docker", reason=f"dockerd is not reachable: {out}; {SETUP_HINT}")
    return Availability("docker", out)


def _podman(ctx: Context) -> Availability:
    if shutil.which(ctx.podman) is None:
        return Availability("podman", reason=f"no podman at {ctx.podman}; {SETUP_HINT}")
    ok, out = _output([ctx.podman, "version", "--format", "{{.Client.Version}}"], ctx)
    if not ok:
        return Availability("podman", reason=f"podman does not work: {out}")
    return Availability("podman", out)


def _docker_registry(ctx: Context) -> Availability:
    if shutil.which(REGISTRY) is None:
        return Availability("docker-registry", reason=f"no {REGISTRY}; {SETUP_HINT}")
    # "/usr/bin/docker-registry github.com/docker/distribution 2.8.2+ds1"
    ok, out = _output([REGISTRY, "--version"], ctx)
    if not ok:
        return Availability("docker-registry", reason=f"docker-registry does not work: {out}")
    return Availability("docker-registry", out.split()[-1] if out else "unknown version")


def _oci_runtime(engine: str) -> Callable[[Context], Availability]:
    """runc or crun: the first line of `--version` ("runc version 1.1.5+ds1")."""

    def available(ctx: Context) -> Availability:
        path = shutil.which(engine)
        if path is None:
            return Availability(engine, reason=f"no {engine}; {SETUP_HINT}")
        ok, out = _output([path, "--version"], ctx)
        if not ok:
            return Availability(engine, reason=f"{engine} does not work: {out}")
        return Availability(engine, out.splitlines()[0] if out else "unknown version")

    return available


def probe(engine: str, ctx: Context) -> Availability:
    probes = {
        "dockyard": _dockyard,
        "docker": _docker,
        "podman": _podman,
        "docker-registry": _docker_registry,
        "runc": _oci_runtime("runc"),
        "crun": _oci_runtime("crun"),
    }
    if engine not in probes:
        return Availability(engine, reason=f"unknown engine {engine!r}")
    if os.geteuid() != 0:
        return Availability(engine, reason="the benchmarks need root")
    return probes[engine](ctx)
