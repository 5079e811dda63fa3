"""The busybox image of the container rows, the same bytes in every engine, and what those rows
read from /proc (memory, fds, threads) and use to clean up.

/var/cache/dockyard-bench/busybox-rootfs.tar   built once from the host's busybox-static by
                                               dockyard.cli.rootfs (SOURCE_DATE_EPOCH 0)

Each engine imports that tar as dockyard-bench/busybox:latest with CMD ["sh"] (`docker import`,
`podman import`), so dockyardd and dockerd run the same root filesystem. Containers the rows
create carry the label dockyard-bench=<row>; a row removes them by ID when it ends.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

from bench import daemons
from bench.rows import Context, RowFailed

IMAGE = "dockyard-bench/busybox:latest"
TAR = "busybox-rootfs.tar"
BUSYBOX = "/bin/busybox"
_BUILD = """
import subprocess, sys
from dockyard.cli.rootfs import busybox_tar
binary = open(sys.argv[1], "rb").read()
listing = subprocess.run([sys.argv[1], "--list-full"], check=True, capture_output=True,
                         text=True).stdout.splitlines()
with open(sys.argv[2], "wb") as out:
    busybox_tar(binary, listing, out, 0)
"""


def rootfs_tar(ctx: Context) -> Path:
    """The cached busybox rootfs tar, built first if it is missing."""
    path = ctx.cache / TAR
    if path.exists():
        return path
    if not Path(BUSYBOX).exists():
        raise RowFailed(f"no static busybox at {BUSYBOX} (apt-get install busybox-static)")
    ctx.cache.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    proc = subprocess.run([str(ctx.python), "-c", _BUILD, BUSYBOX, str(tmp)], env=dict(ctx.env),
                          capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        tmp.unlink(missing_ok=True)
        raise RowFailed(f"building {path}: {proc.stderr.strip()[-300:]}")
    tmp.rename(path)
    return path


def import_into(ctx: Context, engine: str, endpoint: daemons.Endpoint | None) -> None:
    """Import the tar as IMAGE into the engine (docker CLI for both daemons, or podman)."""
    tar = rootfs_tar(ctx)
    if engine == "podman":
        argv = [ctx.podman, "import", "--change", 'CMD ["sh"]', str(tar), IMAGE]
        proc = subprocess.run(argv, env=dict(ctx.env), capture_output=True, text=True,
                              check=False)
        if proc.returncode != 0:
            raise RowFailed(f"podman import: {proc.stderr.strip()[-300:]}")
        return
    assert endpoint is not None
    daemons.docker(ctx, endpoint, "import", "--change", 'CMD ["sh"]', str(tar), IMAGE)


def compile_cli(ctx: Context) -> None:
    """Write the byte-code of the dockyard CLI (as an installed package has it), so a
    PYTHONDONTWRITEBYTECODE environment does not make every run compile it again."""
    src = ctx.repo / "src" / "dockyard"
    subprocess.run([str(ctx.python), "-m", "compileall", "-q", str(src / "cli"),
                    str(src / "client"), str(src / "oci"), str(src / "errors.py")],
                   env={**ctx.env, "PYTHONDONTWRITEBYTECODE": ""}, capture_output=True,
                   check=False)


def client(ctx: Context, engine: str) -> str:
    return ctx.podman if engine == "podman" else ctx.docker


def run_cli(ctx: Context, engine: str, endpoint: daemons.Endpoint | None,
            *args: str) -> subprocess.CompletedProcess[str]:
    env = {**ctx.env, **(endpoint.env() if endpoint is not None else {})}
    return subprocess.run([client(ctx, engine), *args], env=env, capture_output=True,
                          text=True, check=False, timeout=daemons.CLI_TIMEOUT_S)


def remove_labelled(ctx: Context, engine: str, endpoint: daemons.Endpoint | None,
                    label: str) -> None:
    """Force-remove the engine's containers with the label (left by this or an earlier run)."""
    listed = run_cli(ctx, engine, endpoint, "ps", "-aq", "--no-trunc", "--filter",
                     f"label={label}")
    ids = listed.stdout.split()
    for start in range(0, len(ids), 50):
        run_cli(ctx, engine, endpoint, "rm", "-f", *ids[start:start + 50])


def remove_image(ctx: Context, engine: str, endpoint: daemons.Endpoint | None) -> None:
    """Remove IMAGE from a shared engine (dockerd, podman); a row's dockyardd just stops."""
    if engine == "docker" and endpoint is not None:
        try:
            daemons.remove_image(endpoint, IMAGE)
        except RowFailed as exc:
            if "conflict" not in str(exc):
                raise  # else a row running beside this one still uses it: it removes it
    elif engine == "podman":
        run_cli(ctx, engine, None, "rmi", "--force", "--ignore", IMAGE)


def pss_kib(pid: int) -> int:
    """Proportional set size of a process (kB in smaps_rollup), 0 if it is gone."""
    try:
        for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
            if line.startswith("Pss:"):
                return int(line.split()[1])
    except (OSError, ValueError):
        pass
    return 0


def rss_kib(pid: int) -> int:
    return _status_field(pid, "VmRSS:")


def threads(pid: int) -> int:
    return _status_field(pid, "Threads:")


def _status_field(pid: int, name: str) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(name):
                return int(line.split()[1])
    except (OSError, ValueError):
        pass
    return 0


def fds(pid: int) -> int:
    try:
        return len(os.listdir(f"/proc/{pid}/fd"))
    except OSError:
        return 0


def processes() -> list[tuple[int, list[str]]]:
    """(pid, argv) of every process."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            raw = Path(f"/proc/{entry}/cmdline").read_bytes()
        except OSError:
            continue
        if raw:
            found.append((int(entry), [a.decode(errors="replace") for a in raw.split(b"\0")
                                       if a]))
    return found


def monitors(engine: str, ids: list[str]) -> list[int]:
    """The per-container processes of the containers ``ids``: dockyard-monitor,
    containerd-shim-runc-v2 (dockerd) or conmon (podman), matched by the container ID in
    their command line."""
    names = {"dockyard": "dockyard-monitor", "docker": "containerd-shim",
             "podman": "conmon"}
    wanted = names[engine]
    found = []
    for pid, argv in processes():
        if not os.path.basename(argv[0]).startswith(wanted):
            continue
        line = " ".join(argv)
        if any(cid in line for cid in ids):
            found.append(pid)
    return found


def daemon_pid(engine: str, endpoint: daemons.Endpoint | None) -> int | None:
    """dockyardd from its pid file next to its socket; dockerd by its name."""
    if engine == "dockyard" and endpoint is not None:
        try:
            return int((endpoint.socket.parent / "dockyardd.pid").read_text().strip())
        except (OSError, ValueError):
            return None
    if engine == "docker":
        for pid, argv in processes():
            if os.path.basename(argv[0]) == "dockerd":
                return pid
    return None


def which(name: str) -> bool:
    return shutil.which(name) is not None
