"""port_publish_wrk: requests per second through a published port, against the same server with
host networking, dockyardd against dockerd (whose -p goes through docker-proxy from 127.0.0.1).

Per engine two figures, each `wrk -t2 -c50 -d5s` from the host's loopback:
    port_publish_wrk/published     -p 127.0.0.1:PORT:80 (dockyard: kernel DNAT; dockerd:
                                   docker-proxy, which copies every byte)
    port_publish_wrk/host-network  the same server with --network host
Goals: dockyard's published >= 0.95x its host-network, and >= 2x dockerd's published.

The figures are seconds per request (1 / wrk's Requests/sec), so lower is better and the
table's ratio reads as for the other rows (2.0x: dockerd needs twice the time per request).

The server, the first of: the build rows' nginx-site image (dockyard-bench/nginx-site:latest)
when dockerd has it, saved from dockerd into the row's dockyardd; pull_nginx's image
(dockyard-bench/nginx, nginx-light on Debian slim, its default site) when its registry storage
is in the cache, pulled into both daemons from a docker-registry the row starts on 127.0.0.1;
otherwise busybox httpd serving a 1 KiB page (a process per connection, so a slower server: the
network path weighs less in it). The row prints which. Untimed, per engine (check): the daemon,
the image, both containers, one warm-up; at the end the containers go (label
dockyard-bench=<row>) and so does the image from dockerd when the row brought it.
"""

from __future__ import annotations

import re
import shutil
import socket
import subprocess
import time
from collections.abc import Mapping, Sequence
from contextlib import ExitStack

from bench import busybox, daemons, registries
from bench.rows import Context, Parts, RowFailed, Timed

NGINX = "dockyard-bench/nginx-site:latest"
LABEL = "dockyard-bench=port_publish_wrk"
WRK = ("-t2", "-c50", "-d5s")
PAGE = "<html><body>" + "dockyard " * 110 + "</body></html>"  # about 1 KiB
HTTPD = ("sh", "-c", f"mkdir -p /www && echo '{PAGE}' > /www/index.html && "
         "exec httpd -f -p {port} -h /www")
NGINX_HOST_PORT = ("sh", "-c", "sed -i 's/listen 80 /listen {port} /' /etc/nginx/nginx.conf && "
                   "exec nginx -g 'daemon off;'")
DEBIAN_SITE = "/etc/nginx/sites-enabled/default"
PULLED_HOST_PORT = ("sh", "-c", rf"sed -i 's/listen 80 /listen {{port}} /; "
                    rf"s/listen \[::\]:80 /listen [::]:{{port}} /' {DEBIAN_SITE} && "
                    "exec nginx -g 'daemon off;'")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def wait_ready(port: int, timeout: float = 15.0) -> None:
    """Until something accepts connections on 127.0.0.1:port."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError as exc:
            if time.monotonic() > deadline:
                raise RowFailed(f"nothing answers on 127.0.0.1:{port}: {exc}") from exc
            time.sleep(0.05)


class PortPublishWrk:
    name = "port_publish_wrk"
    summary = "wrk -t2 -c50 -d5s through -p 127.0.0.1:P:80 and with --network host (req time)"
    default_runs = 5
    engines = ("dockyard", "docker")

    def __init__(self, ctx: Context) -> None:
        self._ctx = ctx
        self._daemons = daemons.Endpoints(ctx, self.name)
        self._ports: dict[str, dict[str, int]] = {}
        self._server = "busybox"  # or "nginx-site" or "pulled"
        self._pulled = ""  # the pulled image's name
        self._stack = ExitStack()

    def prepare(self) -> None:
        if shutil.which("wrk") is None:
            raise RowFailed("no wrk (apt-get install wrk; bench/setup.sh installs it)")
        busybox.rootfs_tar(self._ctx)
        storage = self._ctx.cache / registries.NGINX_CACHE
        if daemons.image_id(daemons.dockerd(), NGINX) is not None:
            self._server = "nginx-site"
        elif (storage / "complete").exists():
            registry = self._stack.enter_context(registries.running(storage))
            self._pulled = f"{registry.address}/{registries.NGINX_REPOSITORY}:latest"
            self._server = "pulled"
        shown = {"nginx-site": f"nginx ({NGINX})", "busybox": "busybox httpd",
                 "pulled": f"nginx ({registries.NGINX_REPOSITORY}, pull_nginx's image)"}
        print(f"  server: {shown[self._server]}", flush=True)

    def check(self, engine: str) -> None:
        endpoint = self._daemons.open(engine)
        busybox.remove_labelled(self._ctx, engine, endpoint, LABEL)
        if self._server == "nginx-site" and engine == "dockyard":
            self._copy_nginx(endpoint)
        elif self._server == "pulled":
            daemons.docker(self._ctx, endpoint, "pull", "-q", self._pulled)
        elif self._server == "busybox":
            busybox.import_into(self._ctx, engine, endpoint)
        published, host = free_port(), free_port()
        self._ports[engine] = {"published": published, "host-network": host}
        self._start(engine, endpoint, ["-p", f"127.0.0.1:{published}:80"], 80)
        self._start(engine, endpoint, ["--network", "host"], host)
        for port in (published, host):
            wait_ready(port)  # the server binds a moment after `run -d` returns
            self._wrk(port, ("-t1", "-c1", "-d1s"))  # warm-up, and a check that it answers

    def _copy_nginx(self, endpoint: daemons.Endpoint) -> None:
        env = {**self._ctx.env, **endpoint.env()}
        save = subprocess.Popen([self._ctx.docker, "save", NGINX], stdout=subprocess.PIPE,
                                env={**self._ctx.env, **daemons.dockerd().env()})
        load = subprocess.run([self._ctx.docker, "load", "-q"], stdin=save.stdout, env=env,
                              capture_output=True, text=True, check=False)
        if save.stdout is not None:
            save.stdout.close()
        if save.wait() != 0 or load.returncode != 0:
            raise RowFailed(f"copying {NGINX} into dockyardd: {load.stderr.strip()[-200:]}")

    def _start(self, engine: str, endpoint: daemons.Endpoint, options: list[str],
               port: int) -> None:
        if self._server == "nginx-site":
            command = [NGINX] if port == 80 else [NGINX, *(part.format(port=port) for part in
                                                          NGINX_HOST_PORT)]
        elif self._server == "pulled":
            command = [self._pulled] if port == 80 else [
                self._pulled, *(part.format(port=port) for part in PULLED_HOST_PORT)]
        else:
            command = [busybox.IMAGE, *(part.format(port=port) for part in HTTPD)]
        proc = busybox.run_cli(self._ctx, engine, endpoint, "run", "-d", "--label", LABEL,
                               *options, *command)
        if proc.returncode != 0:
            raise RowFailed(f"starting the server in {engine}: {proc.stderr.strip()[-200:]}")

    def _wrk(self, port: int, options: Sequence[str] = WRK) -> float:
        """Seconds per request of one wrk run against 127.0.0.1:port."""
        proc = subprocess.run(["wrk", *options, f"http://127.0.0.1:{port}/"], env=dict(
            self._ctx.env), capture_output=True, text=True, check=False, timeout=60)
        found = re.search(r"Requests/sec:\s*([0-9.]+)", proc.stdout)
        errors = re.search(r"Non-2xx or 3xx responses: (\d+)|Socket errors: (.*)", proc.stdout)
        if proc.returncode != 0 or found is None or float(found[1]) <= 0:
            raise RowFailed(f"wrk against port {port}: {proc.stderr.strip()[-200:] or 'no rate'}")
        if errors is not None and errors[1]:
            raise RowFailed(f"wrk against port {port}: {errors[0]}")
        return 1.0 / float(found[1])

    def setup(self, engine: str, i: int) -> Timed:
        ports = self._ports[engine]
        order = list(ports) if i % 2 == 0 else list(reversed(ports))

        def run() -> Mapping[str, Sequence[float]]:
            return {part: [self._wrk(ports[part])] for part in order}

        return Parts(run)

    def teardown(self, engine: str, i: int) -> None:
        pass

    def finish(self) -> None:
        try:
            for engine in self.engines:
                try:
                    endpoint = self._daemons[engine]
                except KeyError:
                    continue
                busybox.remove_labelled(self._ctx, engine, endpoint, LABEL)
                if self._server == "busybox":
                    busybox.remove_image(self._ctx, engine, endpoint)
                elif self._server == "pulled" and engine == "docker":
                    daemons.remove_image(endpoint, self._pulled)
        finally:
            try:
                self._daemons.close()
            finally:
                self._stack.close()


def make(ctx: Context) -> PortPublishWrk:
    return PortPublishWrk(ctx)
