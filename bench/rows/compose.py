"""compose_up and compose_down: a stack of three busybox services through Debian's
docker-compose 1.29, with DOCKER_HOST at the row's dockyardd and at dockerd: the daemon is what
differs. Goal (issue 10): dockyardd at least 3x faster than dockerd for each.

The stack (bench/rows/compose.py's STACK): services a, b and c, each `sh -c 'trap "exit 0" TERM;
sleep 1000 & wait'` (so a stop ends at once, not after the 10 s grace period), on a user network,
each mounting one named volume; no health checks, no depends_on waits, the image present.

compose_up times `docker-compose -p <project> up -d` (network, volume, three containers made and
started); its teardown (untimed) is `down -v`. compose_down's setup (untimed) is `up -d`, and it
times `docker-compose -p <project> down -v` (three stops and removals, the network and the volume
removed). Each iteration has a project name of its own (dybench_<row>_<pid>_<i>).

What is reachable: docker-compose is a Python program, and on this 2-vCPU VM it takes about
210 ms before its first request and 40-50 ms to exit after its last (`docker-compose version`,
`docker-compose -p empty ps` and `-p empty down -v` against dockyardd: 210-215 ms; against
dockerd 245 ms). Against dockyardd, `up -d` spends about 60 ms waiting on the daemon (three
starts side by side are half of it) and `down -v` about 25 ms. So `down -v` cannot reach 3x of
dockerd's 570-700 ms whatever the daemon does, and `up -d` only with a daemon at ~20 ms.

Untimed, once per engine (check): the row's dockyardd starts; the busybox rootfs tar is imported
into each daemon as dockyard-bench/busybox:latest; one warm-up up/down. At the end whatever a
project of this run left in dockerd is taken down by project name (`down -v`), the image is removed
from dockerd by name, and dockyardd is stopped.
"""

from __future__ import annotations

import os
import shutil
import subprocess

from bench import busybox, daemons
from bench.rows import Command, Context, RowFailed, Timed

ROWS = ("compose_up", "compose_down")
COMPOSE = "docker-compose"
TIMEOUT_S = 120.0
STACK = f"""\
version: "2.4"
x-service: &service
  image: {busybox.IMAGE}
  command: ["sh", "-c", "trap 'exit 0' TERM; sleep 1000 & wait"]
  networks: [backend]
  volumes: ["data:/data"]
services:
  a: *service
  b: *service
  c: *service
networks:
  backend: {{}}
volumes:
  data: {{}}
"""


class Compose:
    summary = "docker-compose 1.29 up -d / down -v of 3 busybox services (network, volume)"
    default_runs = 5
    engines = ("dockyard", "docker")

    def __init__(self, ctx: Context, name: str) -> None:
        self.name = name
        self._ctx = ctx
        self._daemons = daemons.Endpoints(ctx, name)
        self._dir = ctx.work / name
        self._file = self._dir / "docker-compose.yml"
        self._made: dict[str, list[str]] = {}  # engine -> projects not yet taken down

    def prepare(self) -> None:
        if shutil.which(COMPOSE) is None:
            raise RowFailed("docker-compose is not installed (apt-get install -y docker-compose)")
        busybox.rootfs_tar(self._ctx)
        self._dir.mkdir(parents=True, exist_ok=True)
        self._file.write_text(STACK)

    def check(self, engine: str) -> None:
        endpoint = self._daemons.open(engine)
        busybox.import_into(self._ctx, engine, endpoint)
        project = self._project(engine, -1)
        self._compose(engine, project, "up", "-d")  # warm-up
        self._down(engine, project)

    def setup(self, engine: str, i: int) -> Timed:
        project = self._project(engine, i)
        if self.name == "compose_up":
            return Command(self._argv(project, "up", "-d"), env=self._env(engine))
        self._compose(engine, project, "up", "-d")
        return Command(self._argv(project, "down", "-v"), env=self._env(engine))

    def teardown(self, engine: str, i: int) -> None:
        # compose_down: the timed down took it down; another finds nothing, or what a failed
        # timed down left
        self._down(engine, self._project(engine, i), check=self.name == "compose_up")

    def finish(self) -> None:
        try:
            try:
                endpoint = self._daemons["docker"]
            except KeyError:
                return
            for project in list(self._made.get("docker", [])):
                self._down("docker", project, check=False)
            busybox.remove_image(self._ctx, "docker", endpoint)
        finally:
            self._daemons.close()

    def _project(self, engine: str, i: int) -> str:
        project = f"dybench_{self.name}_{os.getpid()}_{engine}_{i + 1}"
        made = self._made.setdefault(engine, [])
        if project not in made:
            made.append(project)
        return project

    def _argv(self, project: str, *args: str) -> tuple[str, ...]:
        return (COMPOSE, "-f", str(self._file), "-p", project, *args)

    def _env(self, engine: str) -> dict[str, str]:
        return self._daemons[engine].env()

    def _compose(self, engine: str, project: str, *args: str, check: bool = True) -> None:
        env = {**self._ctx.env, **self._env(engine)}
        proc = subprocess.run(self._argv(project, *args), env=env, capture_output=True, text=True,
                              check=False, timeout=TIMEOUT_S, cwd=self._dir)
        if check and proc.returncode != 0:
            raise RowFailed(f"{' '.join(args)} of {project} against {engine} exited "
                            f"{proc.returncode}: {proc.stderr.strip()[-300:]}")

    def _down(self, engine: str, project: str, check: bool = True) -> None:
        self._compose(engine, project, "down", "-v", check=check)
        if project in self._made.get(engine, []):
            self._made[engine].remove(project)


def make(ctx: Context, name: str) -> Compose:
    if name not in ROWS:
        raise KeyError(name)
    return Compose(ctx, name)

