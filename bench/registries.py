"""Local registries for the pull, push and registry rows, and the nginx image they pull.

A registry is Debian's ``docker-registry`` (CNCF distribution 2.8) on 127.0.0.1, with
filesystem storage in a directory of the row's choosing, stopped by its PID::

    <root>/config.yml  <root>/data/  <root>/registry.log

or, for the registry rows, dockyard's own server (``python -m dockyard.registry serve``), on a
port it chooses and prints, in the same layout::

    <root>/data/  <root>/registry.log (its stderr)  <root>/stdout ("listening on <url>")

The nginx image (Debian slim + ``nginx-light``, about 80 MB compressed over two layers) is built
once in dockerd and kept as the storage of a registry under the cache, so later runs need no
network::

    /var/cache/dockyard-bench/registry-nginx/data/      a registry's storage holding
                                                        dockyard-bench/nginx:latest
    /var/cache/dockyard-bench/registry-nginx/complete   written last: the storage is whole

Its base is the cached slim tar with a nonce file appended, so no other row's image in dockerd
shares its first layer (dockerd would then skip it as "Already exists").
"""

from __future__ import annotations

import shutil
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from bench import daemons
from bench.inputs import append_nonce, debian_slim
from bench.rows import Context, RowFailed

REGISTRY = "/usr/bin/docker-registry"
LEGACY_DOCKER = "/usr/bin/docker"  # CLI 20.10: `docker build` with the legacy builder
NGINX_REPOSITORY = "dockyard-bench/nginx"
NGINX_CACHE = "registry-nginx"
BUILD_TIMEOUT_S = 1800.0
START_TIMEOUT_S = 15.0
DOCKERFILE = """FROM {base}
RUN apt-get update && apt-get install -y --no-install-recommends nginx-light \\
    && rm -rf /var/lib/apt/lists/*
CMD ["nginx", "-g", "daemon off;"]
"""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass(frozen=True, slots=True)
class Registry:
    address: str  # 127.0.0.1:<port>
    root: Path
    process: subprocess.Popen[bytes]


def start(root: Path, port: int | None = None) -> Registry:
    """docker-registry serving ``root/data`` on 127.0.0.1 (``port``, or a free one)."""
    if not Path(REGISTRY).exists():
        raise RowFailed(f"{REGISTRY} is missing; run bench/setup.sh")
    root.mkdir(parents=True, exist_ok=True)
    port = port or free_port()
    config = root / "config.yml"
    config.write_text(f"version: 0.1\nlog:\n  level: error\nstorage:\n  filesystem:\n"
                      f"    rootdirectory: {root / 'data'}\nhttp:\n  addr: 127.0.0.1:{port}\n")
    with (root / "registry.log").open("ab") as log:
        process = subprocess.Popen([REGISTRY, "serve", str(config)], stdout=log,
                                   stderr=subprocess.STDOUT, start_new_session=True)
    registry = Registry(f"127.0.0.1:{port}", root, process)
    deadline = time.monotonic() + START_TIMEOUT_S
    while True:
        try:
            urllib.request.urlopen(f"http://{registry.address}/v2/", timeout=1).close()
            return registry
        except urllib.error.HTTPError:
            return registry
        except OSError:
            if process.poll() is not None or time.monotonic() > deadline:
                stop(registry)
                raise RowFailed(f"docker-registry on {registry.address} did not start") from None
            time.sleep(0.05)


def start_dockyard(ctx: Context, root: Path) -> Registry:
    """dockyard's registry server over ``root/data`` on a free port of 127.0.0.1, in a session
    of its own (Ctrl-C reaches only the harness); ready once it has printed its URL."""
    root.mkdir(parents=True, exist_ok=True)
    stdout = root / "stdout"
    argv = [str(ctx.python), "-m", "dockyard.registry", "--log-level", "warning", "serve",
            "--addr", "127.0.0.1:0", "--root", str(root / "data")]
    try:
        with stdout.open("wb") as out, (root / "registry.log").open("ab") as log:
            process = subprocess.Popen(argv, stdout=out, stderr=log, env=dict(ctx.env),
                                       start_new_session=True)
    except OSError as exc:
        raise RowFailed(f"cannot start dockyard's registry: {exc}") from exc
    deadline = time.monotonic() + START_TIMEOUT_S
    while "\n" not in (text := stdout.read_text(errors="replace")):
        if process.poll() is not None or time.monotonic() > deadline:
            stop(Registry("", root, process))
            tail = (root / "registry.log").read_text(errors="replace").strip()[-300:]
            raise RowFailed(f"dockyard's registry did not start: {tail or 'no output'}")
        time.sleep(0.05)
    line = text.splitlines()[0]
    if not line.startswith("listening on http://"):
        stop(Registry("", root, process))
        raise RowFailed(f"dockyard's registry printed {line!r}, not its URL")
    return Registry(line.split()[-1].removeprefix("http://"), root, process)


def stop(registry: Registry) -> None:
    process = registry.process
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(15)


@contextmanager
def running(root: Path, port: int | None = None) -> Iterator[Registry]:
    registry = start(root, port)
    try:
        yield registry
    finally:
        stop(registry)


def nginx_storage(ctx: Context) -> Path:
    """The cached registry root holding the nginx image, built first if missing."""
    root = ctx.cache / NGINX_CACHE
    if (root / "complete").exists():
        return root
    print(f"bench: building the nginx image into {root} (once; downloads packages)", flush=True)
    shutil.rmtree(root, ignore_errors=True)
    work = ctx.work / "nginx-build"
    work.mkdir(parents=True, exist_ok=True)
    dockerd = daemons.dockerd()
    base = f"dockyard-bench/nginx-base:{uuid.uuid4().hex[:8]}"
    tar = work / "base.tar"
    shutil.copyfile(debian_slim(ctx), tar)
    append_nonce(tar, f"nginx-base-{uuid.uuid4()}")
    with running(root) as registry:
        target = f"{registry.address}/{NGINX_REPOSITORY}:latest"
        try:
            daemons.docker(ctx, dockerd, "import", str(tar), base)
            (work / "Dockerfile").write_text(DOCKERFILE.format(base=base))
            _build(ctx, work, target)
            daemons.docker(ctx, dockerd, "push", target)
        finally:
            for name in (target, base):
                daemons.remove_image(dockerd, name)
            shutil.rmtree(work, ignore_errors=True)
    (root / "complete").write_text("dockyard-bench/nginx:latest\n")
    return root


def _build(ctx: Context, context: Path, tag: str) -> None:
    env = {**ctx.env, "DOCKER_BUILDKIT": "0"}
    try:
        proc = subprocess.run([LEGACY_DOCKER, "build", "--network=host", "-t", tag, str(context)],
                              env=env, capture_output=True, text=True, check=False,
                              timeout=BUILD_TIMEOUT_S)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise RowFailed(f"docker build of the nginx image: {exc}") from exc
    if proc.returncode != 0:
        raise RowFailed(f"docker build of the nginx image failed: {proc.stderr[-300:]}")
