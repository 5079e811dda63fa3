"""The OCI runtimes the runtime rows compare, and the bundle they all run.

    <work>/<row>/bundle/        `runc spec`'s config.json (terminal false, args ["true"]);
        rootfs/bin/busybox      busybox-static, and the links sh and true
    <work>/<row>/root-<engine>/ each runtime's --root

dockyard is `dockyard-runtime` beside the run's python (the launcher `scripts/setup` writes,
or pip's console script); runc and crun are Debian's. Every container id starts with
`dockyard-bench-`, so its cgroup directories are named so as well (`run` removes them).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

from bench.rows import Context, RowFailed

PATHS = {"runc": "/usr/sbin/runc", "crun": "/usr/bin/crun"}
BUSYBOX = Path("/bin/busybox")
APPLETS = ("sh", "true")
TIMEOUT_S = 60.0
HYBRID_HINT = (
    "crun refuses a hybrid cgroup layout whose cgroup2 holds controllers: run "
    "`sudo bash bench/setup.sh` (it mounts hugetlb as v1 when needed; teardown.sh undoes it)"
)


def binary(ctx: Context, engine: str) -> str:
    """The runtime's executable."""
    if engine == "dockyard":
        return str(ctx.python.with_name("dockyard-runtime"))
    return shutil.which(engine) or PATHS[engine]


def is_launcher(path: str) -> bool:
    """Whether `dockyard-runtime` is the -S -I launcher (dockyard.launcher)."""
    try:
        with open(path, encoding="utf-8", errors="replace") as file:
            return "dockyard-runtime launcher" in file.read(512)
    except OSError:
        return False


def make_bundle(ctx: Context, path: Path) -> Path:
    """The busybox `true` bundle at `path`: `runc spec`, terminal false, args ["true"]."""
    if not BUSYBOX.exists():
        raise RowFailed(f"no {BUSYBOX} (apt-get install busybox-static)")
    (path / "rootfs" / "bin").mkdir(parents=True, exist_ok=True)
    shutil.copy2(BUSYBOX, path / "rootfs" / "bin" / "busybox")
    for applet in APPLETS:
        link = path / "rootfs" / "bin" / applet
        if not link.is_symlink():
            link.symlink_to("busybox")
    config = path / "config.json"
    config.unlink(missing_ok=True)
    run(ctx, [binary(ctx, "runc"), "spec", "--bundle", str(path)])
    spec = json.loads(config.read_text())
    spec["process"]["terminal"] = False
    spec["process"]["args"] = ["true"]
    config.write_text(json.dumps(spec, indent=2) + "\n")
    return path


def run_args(ctx: Context, engine: str, root: Path, bundle: Path, cid: str) -> tuple[str, ...]:
    """`<runtime> --root ROOT run --bundle BUNDLE ID` (foreground: it waits and deletes)."""
    return (binary(ctx, engine), "--root", str(root), "run", "--bundle", str(bundle), cid)


def run(ctx: Context, argv: list[str] | tuple[str, ...]) -> None:
    """Run a command untimed; RowFailed with the end of its stderr if it fails."""
    try:
        proc = subprocess.run(list(argv), capture_output=True, text=True, timeout=TIMEOUT_S,
                              env={**os.environ, **ctx.env}, stdin=subprocess.DEVNULL,
                              check=False)  # fmt: skip
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise RowFailed(f"`{' '.join(argv[:4])}`: {exc}") from exc
    if proc.returncode != 0:
        tail = " | ".join(line for line in proc.stderr.splitlines()[-3:] if line.strip())
        hint = f"; {HYBRID_HINT}" if "hybrid mode" in proc.stderr else ""
        raise RowFailed(f"`{' '.join(argv[:4])}` exited {proc.returncode}: {tail[-300:]}{hint}")


def check(ctx: Context, engine: str, root: Path, bundle: Path) -> None:
    """The runtime exists and runs the bundle once (untimed; it also warms the page cache and,
    for dockyard, writes the bytecode)."""
    path = binary(ctx, engine)
    if not os.access(path, os.X_OK):
        raise RowFailed(f"no {path}")
    if engine == "dockyard":
        launcher = "`python -m dockyard.launcher` writes the launcher"
        kind = "launcher, python -S -I" if is_launcher(path) else f"pip's script; {launcher}"
        print(f"  dockyard: {path} ({kind})", flush=True)
        compile_all = (
            "import compileall, os, dockyard; "
            "compileall.compile_dir(os.path.dirname(dockyard.__file__), quiet=1)"
        )
        run(ctx, [str(ctx.python), "-c", compile_all])  # no stale bytecode in the figures
    run(ctx, run_args(ctx, engine, root, bundle, f"dockyard-bench-{engine}-check"))


def remove(ctx: Context, engine: str, root: Path, cid: str) -> None:
    """Delete container `cid` if the runtime left it (a failed or interrupted run)."""
    if (root / cid).exists():
        subprocess.run([binary(ctx, engine), "--root", str(root), "delete", "--force", cid],
                       capture_output=True, timeout=TIMEOUT_S, check=False)  # fmt: skip
