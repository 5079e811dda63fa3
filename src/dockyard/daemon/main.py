"""``dockyardd``: open and recover the data root, serve the Engine API, stop cleanly on a signal.

Start-up order: configuration, logging, the data root's lock (a second daemon on the same root
stops here), recovery, the pid file, then the sockets (a live daemon on the same socket stops us
there). SIGTERM or SIGINT: stop accepting, let requests in flight finish, remove the sockets and
the pid file, close the data root, exit 0.
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import sys
from contextlib import suppress
from pathlib import Path
from typing import TYPE_CHECKING

from dockyard.daemon.config import Config, load, parser
from dockyard.errors import Conflict, DockyardError

if TYPE_CHECKING:
    from dockyard.services import Services
    from dockyard.store import DataRoot
    from dockyard.sys import Syscalls

log = logging.getLogger("dockyard.daemon")

_LEVELS = {
    "debug": logging.DEBUG,
    "info": logging.INFO,
    "warn": logging.WARNING,
    "error": logging.ERROR,
    "fatal": logging.CRITICAL,
}


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(sys.argv[1:] if argv is None else argv)
    if args.version:
        from dockyard import __version__

        print(f"dockyardd version {__version__}")
        return 0
    try:
        config = load(args)
    except DockyardError as exc:
        print(exc, file=sys.stderr)
        return 1
    setup_logging(config.log_level)
    try:
        asyncio.run(Daemon(config).run())
    except DockyardError as exc:
        log.critical("failed to start daemon: %s", exc)
        return 1
    return 0


def setup_logging(level: str) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(
        logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s", "%Y-%m-%dT%H:%M:%S")
    )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(_LEVELS[level])


class Daemon:
    def __init__(self, config: Config) -> None:
        self.config = config
        self._sockets: list[tuple[Path, int]] = []  # path, inode: removed at exit if still ours

    async def run(self) -> None:
        from dockyard.api.server import refuse_live
        from dockyard.daemon.threads import IdleThreads
        from dockyard.store import DataRoot
        from dockyard.sys.linux import LinuxSyscalls

        config = self.config
        # worker threads that go when idle: after a burst the daemon is back to its baseline
        asyncio.get_running_loop().set_default_executor(IdleThreads())
        for path in config.hosts:
            refuse_live(path)  # fail before touching the data root
        config.exec_root.mkdir(mode=0o700, parents=True, exist_ok=True)
        syscalls = LinuxSyscalls()
        root = DataRoot(config.data_root, syscalls, snapshotter=config.storage_driver)
        try:
            root.lock()
            root.recover()
            write_pidfile(config.pidfile)
            try:
                await self._serve(root, syscalls)
            finally:
                remove_pidfile(config.pidfile)
        finally:
            root.close()

    async def _serve(self, root: DataRoot, syscalls: Syscalls) -> None:
        from dockyard.daemon.wiring import build_services

        services = build_services(self.config, root, syscalls)
        try:
            await services.containers.recover()
            await asyncio.to_thread(services.networks.reconcile)  # after the re-adoptions
            await services.health.recover()
            await services.restarts.recover()  # restart policies, once the networks are up
            await self._listen(services)
        finally:
            await services.restarts.close()
            await services.health.close()
            await services.containers.close()
            await services.containers.spawner.close()
            await asyncio.to_thread(services.networks.close)

    async def _listen(self, services: Services) -> None:
        from dockyard.api.server import Server, bind_unix
        from dockyard.daemon.wiring import build_router, default_headers

        server = Server(build_router(services).dispatch, default_headers(services.system.build))
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(signum, stop.set)
        try:
            for path in self.config.hosts:
                sock = bind_unix(path, mode=0o660, uid=0, gid=0)
                self._sockets.append((path, os.stat(path).st_ino))
                await server.listen(sock)
                log.info("API listening on %s", path)
            log.info("daemon has completed initialization (data root %s, snapshotter %s)",
                     self.config.data_root, services.images.root.snapshotter_name)
            await stop.wait()
            log.info("processing signal, shutting down")
        finally:
            await server.close()
            self._remove_sockets()
            for signum in (signal.SIGTERM, signal.SIGINT):
                loop.remove_signal_handler(signum)

    def _remove_sockets(self) -> None:
        for path, inode in self._sockets:
            with suppress(FileNotFoundError):
                if os.stat(path).st_ino == inode:
                    path.unlink()


def write_pidfile(path: Path) -> None:
    """Write our pid, refusing when the file names a live dockyardd (as dockerd refuses)."""
    with suppress(FileNotFoundError, ValueError):
        pid = int(path.read_text().strip())
        if pid != os.getpid() and _is_dockyardd(pid):
            raise Conflict(
                f"pid file found, ensure dockyardd is not running or delete {path}"
            )
    path.parent.mkdir(mode=0o755, parents=True, exist_ok=True)
    temp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    temp.write_text(f"{os.getpid()}")
    os.replace(temp, path)


def remove_pidfile(path: Path) -> None:
    with suppress(FileNotFoundError, ValueError):
        if int(path.read_text().strip()) == os.getpid():
            path.unlink()


def _is_dockyardd(pid: int) -> bool:
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return False
    return b"dockyardd" in cmdline or b"dockyard.daemon" in cmdline
