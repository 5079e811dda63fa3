"""import_slim: unpack the ~127 MB Debian bookworm slim rootfs tar into each engine's image store.

The tar is built once by bench/make-debian-slim.sh and cached. Before each iteration (untimed)
a copy of it gets one extra file holding a fresh nonce, so no engine can reuse a layer by digest:
every import is a first import, as in anchors.md section 2.

Timed, one command per engine:
    dockyard  python -m dockyard.store --root <fresh dir> import <tar> bench/slim:<i>
    docker    docker import <tar> dockyard-bench/slim:<i>
    podman    podman import <tar> dockyard-bench/slim:<i>
Untimed teardown removes the image (docker/podman rmi) or the whole dockyard root, and the copy.
"""

from __future__ import annotations

import shutil
import subprocess
import uuid
from collections.abc import Sequence
from pathlib import Path

from bench.inputs import SLIM_TAR, append_nonce, debian_slim
from bench.rows import Command, Context, RowFailed, Timed

DOCKER_TAG = "dockyard-bench/slim:{i}"
DOCKYARD_TAG = "bench/slim:{i}"
UNTIMED_TIMEOUT_S = 600.0


class ImportSlim:
    name = "import_slim"
    summary = "import the ~127 MB Debian bookworm slim rootfs tar (a unique copy each time)"
    default_runs = 5
    engines = ("dockyard", "docker", "podman")

    def __init__(self, ctx: Context) -> None:
        self._ctx = ctx
        self._base = ctx.cache / SLIM_TAR  # built in prepare if missing
        self._work = ctx.work / self.name

    def prepare(self) -> None:
        self._base = debian_slim(self._ctx)
        self._work.mkdir(parents=True, exist_ok=True)

    def check(self, engine: str) -> None:
        if engine != "dockyard":
            return
        probe = "import importlib.util as u, sys; sys.exit(u.find_spec('dockyard.store') is None)"
        proc = subprocess.run(
            [str(self._ctx.python), "-c", probe],
            env=dict(self._ctx.env),
            capture_output=True,
            check=False,
        )
        if proc.returncode != 0:
            raise RowFailed(
                "`python -m dockyard.store ... import` does not exist yet "
                "(no module dockyard.store in this checkout)"
            )

    def setup(self, engine: str, i: int) -> Timed:
        tar = self._copy(engine, i)
        if engine == "dockyard":
            root = self._dockyard_root(i)
            shutil.rmtree(root, ignore_errors=True)
            root.mkdir(parents=True)
            return Command(
                (
                    str(self._ctx.python),
                    "-m",
                    "dockyard.store",
                    "--root",
                    str(root),
                    "import",
                    str(tar),
                    DOCKYARD_TAG.format(i=i),
                )
            )
        tool = self._tool(engine)
        self._remove_image(engine, i)  # left over from an interrupted run
        return Command((tool, "import", str(tar), DOCKER_TAG.format(i=i)))

    def teardown(self, engine: str, i: int) -> None:
        self._tar(engine, i).unlink(missing_ok=True)
        if engine == "dockyard":
            shutil.rmtree(self._dockyard_root(i), ignore_errors=True)
        else:
            self._remove_image(engine, i)

    def finish(self) -> None:
        shutil.rmtree(self._work, ignore_errors=True)

    def _tar(self, engine: str, i: int) -> Path:
        return self._work / f"slim-{engine}-{i}.tar"

    def _dockyard_root(self, i: int) -> Path:
        return self._work / f"dockyard-root-{i}"

    def _copy(self, engine: str, i: int) -> Path:
        tar = self._tar(engine, i)
        shutil.copyfile(self._base, tar)
        append_nonce(tar, f"{engine}-{i}-{uuid.uuid4()}")
        return tar

    def _tool(self, engine: str) -> str:
        return self._ctx.docker if engine == "docker" else self._ctx.podman

    def _remove_image(self, engine: str, i: int) -> None:
        """Remove the tagged image if it exists (docker has no --ignore, so ask first)."""
        tag = DOCKER_TAG.format(i=i)
        if engine == "podman":
            self._run([self._ctx.podman, "rmi", "--force", "--ignore", tag])
        elif self._docker_has(tag):
            self._run([self._ctx.docker, "image", "rm", "--force", tag])

    def _docker_has(self, tag: str) -> bool:
        proc = subprocess.run(
            [self._ctx.docker, "image", "inspect", tag],
            env=dict(self._ctx.env),
            capture_output=True,
            check=False,
            timeout=UNTIMED_TIMEOUT_S,
        )
        return proc.returncode == 0

    def _run(self, argv: Sequence[str]) -> None:
        try:
            proc = subprocess.run(
                list(argv),
                env=dict(self._ctx.env),
                capture_output=True,
                text=True,
                check=False,
                timeout=UNTIMED_TIMEOUT_S,
            )
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise RowFailed(f"{argv[0]} {argv[1]}: {exc}") from exc
        if proc.returncode != 0:
            tail = (proc.stderr or "").strip().splitlines()[-1:] or [f"exit {proc.returncode}"]
            raise RowFailed(f"`{' '.join(argv)}` failed: {tail[0]}")


def make(ctx: Context) -> ImportSlim:
    return ImportSlim(ctx)
