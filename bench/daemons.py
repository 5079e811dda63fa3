"""The daemons the client rows talk to, and the docker CLI that talks to them.

dockyard: a ``dockyardd`` that a row starts on its own socket and roots, in its own session so
that Ctrl-C reaches only the harness, and stops by its PID (SIGTERM, then SIGKILL):

    <work>/<name>/
        dockyard.sock  dockyardd.pid  dockyardd.log  daemon.json ({}: no host config is read)
        data/          --data-root
        exec/          --exec-root

docker: Debian's dockerd on /var/run/docker.sock, started by bench/setup.sh and never stopped
here. Both are reached with the same client (the docker CLI 28, DOCKER_HOST set), so the
daemon is what differs.
"""

from __future__ import annotations

import shutil
import signal
import subprocess
import time
from collections.abc import Iterator, Mapping
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path

from bench import engine_api
from bench.rows import Context, RowFailed

DOCKERD_SOCKET = Path("/var/run/docker.sock")
START_TIMEOUT_S = 30.0
STOP_TIMEOUT_S = 30.0
CLI_TIMEOUT_S = 600.0


@dataclass(frozen=True, slots=True)
class Endpoint:
    """Where an engine's daemon listens."""

    engine: str
    socket: Path

    @property
    def host(self) -> str:
        return f"unix://{self.socket}"

    def env(self) -> dict[str, str]:
        """Variables pointing the docker CLI and the dockyard CLI at this daemon."""
        return {"DOCKER_HOST": self.host, "DOCKYARD_HOST": self.host}


def dockerd() -> Endpoint:
    """The running dockerd, or RowFailed if it does not answer."""
    if not engine_api.ping(DOCKERD_SOCKET):
        raise RowFailed(f"dockerd does not answer on {DOCKERD_SOCKET}; run bench/setup.sh")
    return Endpoint("docker", DOCKERD_SOCKET)


@contextmanager
def dockyardd(ctx: Context, workdir: Path) -> Iterator[Endpoint]:
    """A fresh dockyardd with its socket and roots in `workdir`, stopped by PID at exit;
    what it left mounted under `workdir` is unmounted, then `workdir` is removed."""
    binary = ctx.python.parent / "dockyardd"
    sock = workdir / "dockyard.sock"
    log = workdir / "dockyardd.log"
    shutil.rmtree(workdir, ignore_errors=True)
    workdir.mkdir(parents=True)
    (workdir / "daemon.json").write_text("{}\n")
    argv = [
        str(binary), "-H", f"unix://{sock}",
        "--data-root", str(workdir / "data"), "--exec-root", str(workdir / "exec"),
        "--pidfile", str(workdir / "dockyardd.pid"), "--config-file", str(workdir / "daemon.json"),
        "--ip-forward=false",  # as setup.sh runs dockerd: the host's sysctl stays as it is
    ]  # fmt: skip
    try:
        with log.open("wb") as out:
            process = subprocess.Popen(
                argv, stdout=out, stderr=subprocess.STDOUT, env=dict(ctx.env),
                start_new_session=True,
            )  # fmt: skip
    except OSError as exc:
        shutil.rmtree(workdir, ignore_errors=True)
        raise RowFailed(f"cannot start {binary}: {exc}") from exc
    try:
        _wait_ready(process, sock, log)
        yield Endpoint("dockyard", sock)
    finally:
        code = stop(process)
        if code != 0:
            print(f"bench: dockyardd (pid {process.pid}) exited {code}: {_tail(log)}", flush=True)
        unmount_under(workdir)
        shutil.rmtree(workdir, ignore_errors=True)


def _wait_ready(process: subprocess.Popen[bytes], sock: Path, log: Path) -> None:
    deadline = time.monotonic() + START_TIMEOUT_S
    while not engine_api.ping(sock):
        if process.poll() is not None:
            raise RowFailed(f"dockyardd exited {process.returncode} at start: {_tail(log)}")
        if time.monotonic() > deadline:
            raise RowFailed(f"dockyardd did not answer within {START_TIMEOUT_S:.0f} s")
        time.sleep(0.05)


def stop(process: subprocess.Popen[bytes], timeout: float = STOP_TIMEOUT_S) -> int:
    """SIGTERM the process by its PID, SIGKILL it if it does not exit in time; its exit code."""
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout)
    return process.returncode


def unmount_under(path: Path) -> None:
    """Lazily unmount every mount point below `path`, deepest first (after a killed daemon)."""
    try:
        lines = Path("/proc/self/mounts").read_text().splitlines()
    except OSError:
        return
    points = [fields[1] for fields in (line.split() for line in lines) if len(fields) > 1]
    for point in sorted((p for p in points if p.startswith(f"{path}/")), reverse=True):
        subprocess.run(["umount", "-l", point], capture_output=True, check=False)


def _tail(log: Path) -> str:
    try:
        lines = [ln for ln in log.read_text(errors="replace").splitlines() if ln.strip()]
    except OSError:
        return "no log"
    return " | ".join(lines[-3:])[-400:] or "empty log"


def docker(
    ctx: Context, endpoint: Endpoint, *args: str, env: Mapping[str, str] | None = None
) -> str:
    """Run the docker CLI against `endpoint` (untimed), with `env` set over the run's
    environment; its stdout, or RowFailed."""
    argv = [ctx.docker, *args]
    try:
        proc = subprocess.run(
            argv, env={**ctx.env, **(env or {}), **endpoint.env()}, capture_output=True, text=True,
            check=False, timeout=CLI_TIMEOUT_S,
        )  # fmt: skip
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise RowFailed(f"`{' '.join(argv[:3])}`: {exc}") from exc
    if proc.returncode != 0:
        tail = proc.stderr.strip().splitlines()[-1:] or [f"exit {proc.returncode}"]
        raise RowFailed(f"`{' '.join(argv)}` against {endpoint.engine}: {tail[0]}")
    return proc.stdout


class Endpoints:
    """The daemon of each engine for one row: `open` starts the row's dockyardd (under
    <work>/<directory>, by default <row>-dockyardd) or finds dockerd; `close` stops what `open`
    started. A row with a long name gives a shorter directory: sun_path holds 108 bytes, and
    dockyardd first binds .dockyard.sock.<pid>.tmp there (up to 13 bytes more than the socket)."""

    def __init__(self, ctx: Context, row: str, directory: str = "") -> None:
        self._ctx = ctx
        self._row = row
        self._directory = directory or f"{row}-dockyardd"
        self._open: dict[str, Endpoint] = {}
        self._stack = ExitStack()

    def open(self, engine: str) -> Endpoint:
        if engine not in self._open:
            if engine == "dockyard":
                workdir = self._ctx.work / self._directory
                self._open[engine] = self._stack.enter_context(dockyardd(self._ctx, workdir))
            elif engine == "docker":
                self._open[engine] = dockerd()
            else:
                raise RowFailed(f"row {self._row} has no daemon for engine {engine}")
        return self._open[engine]

    def __getitem__(self, engine: str) -> Endpoint:
        return self._open[engine]

    def close(self) -> None:
        self._open.clear()
        self._stack.close()


def remove_image(endpoint: Endpoint, name: str) -> bool:
    """Remove the image `name` from the daemon (untimed); False when it had no such image."""
    conn = engine_api.UnixConnection(endpoint.socket)
    try:
        return engine_api.remove_image(conn, name)
    finally:
        conn.close()


def image_id(endpoint: Endpoint, name: str) -> str | None:
    """The ID of the daemon's image `name` (untimed); None when it has none."""
    conn = engine_api.UnixConnection(endpoint.socket)
    try:
        return engine_api.image_id(conn, name)
    finally:
        conn.close()
