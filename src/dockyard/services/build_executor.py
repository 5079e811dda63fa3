"""The RUN executor: each RUN step in a container of the OCI runtime, in the foreground.

A step gets a bundle under ``<exec-root>/build/<id>``: its root filesystem (the step's
snapshot) mounted at ``rootfs``, the container's /etc/hostname, /etc/hosts and
/etc/resolv.conf (the host's, as with host networking), and a ``config.json`` made as for any
container (:mod:`dockyard.containers.ocispec`: dockerd's capabilities, seccomp profile, masked
paths), with host networking or none. The runtime runs it with ``run`` in the foreground; its
stdout and stderr are the step's output, its exit status the step's. The daemon starts the
runtime as a new process (fork and exec), never forking itself.

Mount points the runtime has to create in the rootfs (``/etc/hosts`` in an image without one,
a secret's target...) are removed afterwards, and the directories they were made in get their
mtime back; an overlay copy-up they caused, with nothing else changed in it, is dropped from
the upper directory. So a step leaves only its own changes, as dockerd's init layer ensures::

    <exec-root>/build/<id>/
      config.json  hostname  hosts  resolv.conf
      rootfs/      the step's snapshot, mounted while it runs
"""

from __future__ import annotations

import json
import logging
import os
import secrets
import shutil
import stat
import subprocess
import threading
import time
from collections.abc import Callable, Sequence
from contextlib import suppress
from dataclasses import dataclass
from pathlib import Path

from dockyard.build.fsops import scoped
from dockyard.build.run import BindMount, ProcessSpec, Sink, TmpfsMount
from dockyard.containers import etcfiles, ocispec
from dockyard.containers.config import ContainerConfig, HostConfig, MountSpec
from dockyard.containers.record import Container, format_time
from dockyard.containers.store import write_atomic
from dockyard.containers.users import resolve
from dockyard.errors import DockyardError, Unavailable
from dockyard.mount import Mount, mount_all, unmount
from dockyard.sys import Syscalls

log = logging.getLogger(__name__)

_SYSTEM_TARGETS = ("/proc", "/dev", "/sys", "/etc/resolv.conf", "/etc/hostname", "/etc/hosts")
_KILL_GRACE = 10.0


@dataclass(frozen=True, slots=True)
class _Stat:
    mode: int
    uid: int
    gid: int
    mtime_ns: int


class RuntimeExecutor:
    """Runs RUN steps with an OCI runtime's command line (``dockyard-runtime``, runc, crun)."""

    def __init__(self, exec_root: Path, syscalls: Syscalls, runtime: Sequence[str],
                 state_root: Path | None = None) -> None:
        self.root = exec_root / "build"
        self.state = state_root or exec_root / "build-runtime"
        self.sys = syscalls
        self.runtime = list(runtime)

    def recover(self) -> None:
        """After a crash: kill and delete the containers of interrupted steps, unmount their
        root filesystems, remove their bundles."""
        if not self.root.is_dir():
            return
        for bundle in self.root.iterdir():
            with suppress(subprocess.SubprocessError, OSError):
                self._delete(bundle.name)
            with suppress(DockyardError, OSError):
                unmount(str(bundle / "rootfs"), self.sys)
            with suppress(OSError):
                (bundle / "rootfs").rmdir()
            if not (bundle / "rootfs").exists():
                shutil.rmtree(bundle, ignore_errors=True)

    def run(self, rootfs: Sequence[Mount], process: ProcessSpec, stdout: Sink, stderr: Sink,
            cancel: threading.Event) -> int:
        ident = "build-" + secrets.token_hex(16)
        bundle = self.root / ident
        bundle.mkdir(parents=True, mode=0o711)
        root = bundle / "rootfs"
        root.mkdir(mode=0o755)
        stubs: _Stubs | None = None
        try:
            mount_all(list(rootfs), str(root), self.sys)
            try:
                stubs = _Stubs.make(str(root), _targets(process))
                self._write_spec(ident, bundle, process)
                try:
                    code = self._execute(ident, bundle, (stdout, stderr), cancel)
                finally:
                    stubs.clean(str(root))
            finally:
                unmount(str(root), self.sys)
        finally:
            with suppress(OSError):
                root.rmdir()
            if not root.exists():
                shutil.rmtree(bundle, ignore_errors=True)
        upper = _upper(list(rootfs))
        if upper is not None and stubs is not None:
            stubs.drop_copy_ups(upper)
        return code

    def _write_spec(self, ident: str, bundle: Path, process: ProcessSpec) -> None:
        host_network = process.network == "host"
        hostname = process.hostname or ident[:12]
        write_atomic(bundle / "hostname", (hostname + "\n").encode(), 0o644)
        write_atomic(bundle / "hosts", etcfiles.hosts((), host_network).encode(), 0o644)
        write_atomic(bundle / "resolv.conf", etcfiles.resolv_conf(True).encode(), 0o644)
        config = ContainerConfig(hostname=hostname, user=process.user, env=process.env,
                                 cmd=process.args, working_dir=process.cwd)
        host = HostConfig(network_mode="host" if host_network else "none",
                          mounts=tuple(_mount_spec(m) for m in process.mounts))
        container = Container(id=ident, name="/" + ident, created=format_time(time.time_ns()),
                              image_id="", config=config, host=host)
        user = resolve(str(bundle / "rootfs"), process.user)
        paths = ocispec.Paths(rootfs=str(bundle / "rootfs"), hostname=str(bundle / "hostname"),
                              hosts=str(bundle / "hosts"),
                              resolv_conf=str(bundle / "resolv.conf"))
        spec = ocispec.build(container, user, paths, hostname)
        spec["linux"]["cgroupsPath"] = f"/dockyard-build/{ident}"
        write_atomic(bundle / "config.json", json.dumps(spec, separators=(",", ":")).encode())

    def _execute(self, ident: str, bundle: Path, sinks: tuple[Sink, Sink],
                 cancel: threading.Event) -> int:
        argv = [*self.runtime, "--root", str(self.state), "run", "--bundle", str(bundle), ident]
        log.debug("running %s", argv)
        try:
            child = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, close_fds=True)
        except OSError as exc:
            raise Unavailable(f"cannot start the runtime {self.runtime[0]}: {exc}") from exc
        pumps = [_pump(child.stdout, sinks[0]), _pump(child.stderr, sinks[1])]
        try:
            while True:
                try:
                    code = child.wait(timeout=0.2)
                    break
                except subprocess.TimeoutExpired:
                    if cancel.is_set():
                        self._kill(ident, child)
        finally:
            for pump in pumps:
                pump.join()
            self._delete(ident)
        return code if code >= 0 else 128 - code

    def _kill(self, ident: str, child: subprocess.Popen[bytes]) -> None:
        subprocess.run([*self.runtime, "--root", str(self.state), "kill", ident, "KILL"],
                       capture_output=True, check=False, timeout=_KILL_GRACE)
        with suppress(subprocess.TimeoutExpired):
            child.wait(timeout=_KILL_GRACE)
        if child.poll() is None:
            child.kill()

    def _delete(self, ident: str) -> None:
        subprocess.run([*self.runtime, "--root", str(self.state), "delete", "--force", ident],
                       capture_output=True, check=False, timeout=_KILL_GRACE)


def _targets(process: ProcessSpec) -> list[tuple[str, bool]]:
    """The mount points the step's container needs, and whether each is a directory."""
    out = [(target, not target.startswith("/etc/")) for target in _SYSTEM_TARGETS]
    for mount in process.mounts:
        is_dir = isinstance(mount, TmpfsMount) or os.path.isdir(mount.source)
        out.append((mount.target, is_dir))
    return out


def _mount_spec(mount: BindMount | TmpfsMount) -> MountSpec:
    if isinstance(mount, TmpfsMount):
        options = (f"size={mount.size}",) if mount.size else ()
        return MountSpec("tmpfs", mount.target, options=("exec", *options))
    return MountSpec("bind", mount.target, mount.source, readonly=mount.readonly)


def _pump(stream: object, sink: Sink) -> threading.Thread:
    def copy() -> None:
        fd = stream.fileno()  # type: ignore[attr-defined]
        try:
            while data := os.read(fd, 65536):
                with suppress(Exception):
                    sink(data)
        finally:
            stream.close()  # type: ignore[attr-defined]

    thread = threading.Thread(target=copy, name="build-run-output", daemon=True)
    thread.start()
    return thread


def _upper(mounts: list[Mount]) -> str | None:
    for mount in mounts:
        if mount.type == "overlay":
            for option in mount.options:
                if option.startswith("upperdir="):
                    return option.removeprefix("upperdir=")
    return None


class _Stubs:
    """Mount points missing from a rootfs, made before a step runs and removed after it.

    The directories they are made in keep their mtime: the one they had before (``T0``), unless
    the step itself changed them, seen as an mtime other than the one right after the stubs
    were made (``T1``)."""

    def __init__(self) -> None:
        self.made: list[str] = []            # stubs and the directories made for them
        self.parents: dict[str, tuple[_Stat, int]] = {}  # existing parent: (T0 stat, T1)

    @classmethod
    def make(cls, root: str, targets: Sequence[tuple[str, bool]]) -> _Stubs:
        """Create each missing ``(target, is_dir)`` under ``root``."""
        stubs = cls()
        for target, is_dir in targets:
            rel = scoped(root, target)
            if not rel or os.path.lexists(os.path.join(root, rel)):
                continue
            stubs._make(root, rel, is_dir)
        for rel, (before, _) in list(stubs.parents.items()):
            path = os.path.join(root, rel) if rel else root
            stubs.parents[rel] = (before, os.lstat(path).st_mtime_ns)
        return stubs

    def _make(self, root: str, rel: str, is_dir: bool) -> None:
        parts = rel.split("/")
        for depth in range(len(parts)):
            parent = "/".join(parts[:depth])
            path = os.path.join(root, parent) if parent else root
            if parent in self.made:
                continue
            try:
                st = os.lstat(path)
            except FileNotFoundError:
                os.mkdir(path, 0o755)
                self.made.append(parent)
                continue
            if parent not in self.parents:
                self.parents[parent] = (_Stat(st.st_mode, st.st_uid, st.st_gid,
                                              st.st_mtime_ns), 0)
        path = os.path.join(root, rel)
        if is_dir:
            os.mkdir(path, 0o755)
        else:
            os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o644))
        self.made.append(rel)

    def clean(self, root: str) -> None:
        """Remove the stubs; give their directories back the mtime the step left them."""
        after = {}
        for rel in self.parents:
            with suppress(OSError):
                after[rel] = os.lstat(os.path.join(root, rel) if rel else root).st_mtime_ns
        for rel in sorted(self.made, key=lambda r: r.count("/"), reverse=True):
            path = os.path.join(root, rel)
            with suppress(OSError):
                st = os.lstat(path)
                if stat.S_ISDIR(st.st_mode):
                    os.rmdir(path)
                elif not stat.S_ISREG(st.st_mode) or st.st_size == 0:
                    os.unlink(path)
        for rel, (before, made) in self.parents.items():
            if rel not in after:
                continue
            mtime = before.mtime_ns if after[rel] == made else after[rel]
            with suppress(OSError):
                os.utime(os.path.join(root, rel) if rel else root, ns=(mtime, mtime),
                         follow_symlinks=False)

    def drop_copy_ups(self, upper: str) -> None:
        """In the overlay upper dir: a directory copied up only for a stub, now empty and as
        it was, is not a change; remove it."""
        for rel, (before, _) in sorted(self.parents.items(), key=lambda i: -i[0].count("/")):
            if not rel:
                continue
            path = os.path.join(upper, rel)
            with suppress(OSError):
                st = os.lstat(path)
                same = _Stat(st.st_mode, st.st_uid, st.st_gid, st.st_mtime_ns) == before
                if stat.S_ISDIR(st.st_mode) and same and not os.listdir(path) \
                        and not _has_overlay_xattrs(path):
                    os.rmdir(path)


def _has_overlay_xattrs(path: str) -> bool:
    try:
        names = os.listxattr(path, follow_symlinks=False)
    except OSError:
        return False
    return any(n == "trusted.overlay.opaque" for n in names)


def runtime_command(default_runtime: str, binaries: dict[str, str],
                    find: Callable[[str], str | None] = shutil.which) -> list[str]:
    """The command line of the runtime RUN steps use: the daemon's default runtime."""
    if default_runtime != "dockyard" and default_runtime in binaries:
        return [binaries[default_runtime]]
    import sys

    beside = Path(sys.executable).with_name("dockyard-runtime")
    if beside.exists():
        return [str(beside)]
    found = find("dockyard-runtime")
    if found:
        return [found]
    return [sys.executable, "-m", "dockyard.runtime.main"]
