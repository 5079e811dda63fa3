"""run_bridge: one short-lived container on the default bridge network, `run --rm busybox true`,
through the docker CLI 28 against each daemon (DOCKER_HOST): the daemon is what differs, bridge
against bridge (a veth, an address, the default route; dockerd also its iptables and
docker-proxy bookkeeping). Goal: dockyardd at least 8x faster than dockerd. Compared with
run_rm_none (the same without a network) it shows what the network adds to a start.

Untimed, once per engine (check): the row's dockyardd starts; the busybox rootfs tar is imported
into each daemon as dockyard-bench/busybox:latest; one warm-up run. At the end the image is
removed from dockerd by name and dockyardd is stopped.
"""

from __future__ import annotations

import subprocess

from bench import busybox, daemons
from bench.rows import Command, Context, RowFailed, Timed

ARGS = ("run", "--rm", busybox.IMAGE, "true")


class RunBridge:
    name = "run_bridge"
    summary = "run --rm busybox true on the default bridge (docker CLI against each daemon)"
    default_runs = 20
    engines = ("dockyard", "docker")

    def __init__(self, ctx: Context) -> None:
        self._ctx = ctx
        self._daemons = daemons.Endpoints(ctx, self.name)

    def prepare(self) -> None:
        busybox.rootfs_tar(self._ctx)

    def check(self, engine: str) -> None:
        endpoint = self._daemons.open(engine)
        busybox.import_into(self._ctx, engine, endpoint)
        proc = subprocess.run([self._ctx.docker, *ARGS], env={**self._ctx.env, **endpoint.env()},
                              capture_output=True, text=True, check=False,
                              timeout=daemons.CLI_TIMEOUT_S)  # warm-up
        if proc.returncode != 0:
            raise RowFailed(f"run against {engine} exited {proc.returncode}: "
                            f"{proc.stderr.strip()[-200:]}")

    def setup(self, engine: str, i: int) -> Timed:
        return Command((self._ctx.docker, *ARGS), env=self._daemons[engine].env())

    def teardown(self, engine: str, i: int) -> None:
        pass

    def finish(self) -> None:
        try:
            try:
                endpoint = self._daemons["docker"]
            except KeyError:
                return
            busybox.remove_image(self._ctx, "docker", endpoint)
        finally:
            self._daemons.close()


def make(ctx: Context) -> RunBridge:
    return RunBridge(ctx)
