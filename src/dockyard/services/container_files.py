"""A container's files through the API: changes (``docker diff``), export, and the archive
endpoints of ``docker cp`` (stat, copy out, copy in).

Which root a copy sees, as dockerd's (which mounts the container and its volumes for it):

* a running container: ``/proc/<pid>/root``, its own mount namespace, so binds and tmpfs
  mounts are part of it (``export`` uses the root filesystem alone, as dockerd's does);
* a stopped one: its snapshot mounted under ``<exec-root>/copies/<id>-<n>`` while the copy
  runs, with the container's lock held so that a start waits; a daemon that dies meanwhile
  leaves the mount, which the next one removes (:meth:`ContainerFiles.recover`).

Everything that touches the tree runs in worker threads; the copy code never follows a path
out of the root (:mod:`dockyard.containers.inroot`).
"""

from __future__ import annotations

import asyncio
import contextlib
import grp
import itertools
import logging
import os
import pwd
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from dockyard.containers import changes as diff
from dockyard.containers import copyin, copyout
from dockyard.containers.inroot import Root
from dockyard.containers.record import Container
from dockyard.errors import Conflict, DockyardError, InvalidArgument, NotFound
from dockyard.mount import Mount, mount_all, unmount
from dockyard.services.containers import ContainerService
from dockyard.sys import MNT_DETACH, Syscalls

log = logging.getLogger(__name__)


@dataclass
class Copy:
    """A copy out under way: its stat, a blocking ``write(out)`` for a worker thread, and
    ``close()`` (always called) that releases the root."""

    stat: copyout.PathStat
    write: Callable[[BinaryIO], None]
    close: Callable[[], Awaitable[object]]


class ContainerFiles:
    def __init__(self, containers: ContainerService, syscalls: Syscalls, scratch: Path) -> None:
        self.containers = containers
        self.sys = syscalls
        self.scratch = scratch
        self._counter = itertools.count()

    def recover(self) -> None:
        """Unmount and remove what copies of a previous daemon left."""
        if not self.scratch.is_dir():
            return
        for leftover in self.scratch.iterdir():
            with contextlib.suppress(DockyardError):
                self.sys.umount(str(leftover), MNT_DETACH)
            with contextlib.suppress(OSError):
                leftover.rmdir()

    # -- roots -----------------------------------------------------------------------------------

    @asynccontextmanager
    async def root(self, ref: str, *, whole: bool = True,
                   readonly: bool = True) -> AsyncIterator[tuple[Container, Root]]:
        """The container's root (``whole``: with its mounts when it runs), open while the
        context lasts."""
        service = self.containers
        container = service.get(ref)
        if container.state.running:
            root = await asyncio.to_thread(self._running_root, container, ref, whole)
            if root is not None:
                try:
                    yield container, root
                finally:
                    root.close()
                return
        live = service.live(container.id)
        async with live.lock:
            container = service.get(container.id)
            if live.removing:
                raise Conflict(f"container {container.id} is marked for removal")
            mounted = await asyncio.to_thread(self._mount, container, readonly)
            try:
                root = await asyncio.to_thread(Root.at, str(mounted), self.sys, container=ref)
                try:
                    yield container, root
                finally:
                    root.close()
            finally:
                await asyncio.to_thread(self._unmount, mounted)

    def _running_root(self, container: Container, ref: str, whole: bool) -> Root | None:
        rootfs = self.containers.bundles.bundle(container).rootfs
        try:
            expected = os.stat(rootfs)
        except OSError:
            return None
        if not whole:
            return Root.at(str(rootfs), self.sys, container=ref)
        return Root.of_process(container.state.pid, expected, self.sys, container=ref)

    def _mount(self, container: Container, readonly: bool) -> Path:
        mounts = self.containers.bundles.snapshotter.mounts(container.snapshot)
        if readonly:
            mounts = [Mount(m.type, m.source, (*m.options, "ro")) for m in mounts]
        self.scratch.mkdir(mode=0o700, parents=True, exist_ok=True)
        target = self.scratch / f"{container.id[:12]}-{os.getpid()}-{next(self._counter)}"
        target.mkdir(mode=0o755)
        try:
            mount_all(mounts, str(target), self.sys)
        except BaseException:
            target.rmdir()
            raise
        return target

    def _unmount(self, target: Path) -> None:
        unmount(str(target), self.sys)
        with contextlib.suppress(OSError):
            target.rmdir()

    # -- changes and export ------------------------------------------------------------------

    def changes(self, ref: str) -> list[dict[str, object]]:
        """``GET /containers/{id}/changes`` (blocking)."""
        container = self.containers.get(ref)
        snapshotter = self.containers.bundles.snapshotter
        upper = snapshotter.upper_dir(container.snapshot)
        if snapshotter.whiteout_style == "overlay":
            lowers = overlay_lowers(snapshotter.mounts(container.snapshot))
            found = diff.overlay_changes(upper, lowers)
        else:
            found = self._tree_changes(container, upper)
        return [change.to_json() for change in found]

    def _tree_changes(self, container: Container, tree: str) -> list[diff.Change]:
        snapshotter = self.containers.bundles.snapshotter
        parent = snapshotter.stat(container.snapshot).parent
        key = f"changes-{container.id[:12]}-{os.getpid()}-{next(self._counter)}"
        mounts = snapshotter.view(key, parent, {"dockyard/purpose": "changes"})
        try:
            return diff.tree_changes(tree, mounts[0].source)
        finally:
            with contextlib.suppress(NotFound):
                snapshotter.remove(key)

    async def export(self, ref: str) -> Copy:
        """``GET /containers/{id}/export``: the root filesystem as a tar."""
        context = self.root(ref, whole=False)
        _, root = await context.__aenter__()
        empty = copyout.PathStat("/", 0, 0, "", "")
        return Copy(empty, lambda out: copyout.write_root(root, out),
                    lambda: context.__aexit__(None, None, None))

    # -- archive -------------------------------------------------------------------------------

    async def stat(self, ref: str, path: str) -> copyout.PathStat:
        """``HEAD /containers/{id}/archive?path=``."""
        async with self.root(ref) as (_, root):
            return await asyncio.to_thread(self._stat, root, path)

    @staticmethod
    def _stat(root: Root, path: str) -> copyout.PathStat:
        target = root.target(path)
        try:
            return copyout.path_stat(root, path, target)
        finally:
            os.close(target.dir_fd)

    async def archive(self, ref: str, path: str) -> Copy:
        """``GET /containers/{id}/archive?path=``: the stat, then the tar, written by a
        worker thread; the caller calls ``close`` once the tar is out (or not wanted)."""
        context = self.root(ref)
        _, root = await context.__aenter__()
        try:
            target = await asyncio.to_thread(root.target, path)
        except BaseException:
            await context.__aexit__(None, None, None)
            raise

        async def close() -> None:
            os.close(target.dir_fd)
            await context.__aexit__(None, None, None)

        try:
            stat = await asyncio.to_thread(copyout.path_stat, root, path, target)
        except BaseException:
            await close()
            raise
        return Copy(stat, lambda out: copyout.write_path(root, path, target, out), close)

    async def extract(self, ref: str, path: str, stream: BinaryIO, *,
                      no_overwrite_dir_non_dir: bool = False, copy_uid_gid: bool = False) -> None:
        """``PUT /containers/{id}/archive?path=``: a tar extracted under ``path``; with
        ``copy_uid_gid`` (``cp -a``) owned by the container's user, as dockerd looks it up (on
        the host)."""
        container = self.containers.get(ref)
        owner = host_user(container.config.user) if copy_uid_gid and container.config.user \
            else None
        async with self.root(ref, readonly=False) as (container, root):
            await asyncio.to_thread(copyin.extract, root, path, stream,
                                    no_overwrite_dir_non_dir=no_overwrite_dir_non_dir,
                                    readonly_rootfs=container.host.readonly_rootfs,
                                    owner=owner)


def host_user(user: str) -> tuple[int, int]:
    """dockerd's ``idtools.LookupUser`` of ``user[:group]``: names from the host's databases,
    numbers as they are."""
    name, _, group = user.partition(":")
    try:
        entry = pwd.getpwuid(int(name)) if name.isdigit() else pwd.getpwnam(name)
        uid, gid = entry.pw_uid, entry.pw_gid
    except KeyError:
        if not name.isdigit():
            raise InvalidArgument(f'getent unable to find entry "{name}" in passwd database') \
                from None
        uid, gid = int(name), int(name)
    if group:
        try:
            gid = int(group) if group.isdigit() else grp.getgrnam(group).gr_gid
        except KeyError:
            raise InvalidArgument(f'getent unable to find entry "{group}" in group database') \
                from None
    return uid, gid


def overlay_lowers(mounts: list[Mount]) -> list[str]:
    """The lower directories (top first) of an overlay mount."""
    for mount in mounts:
        for option in mount.options:
            if option.startswith("lowerdir="):
                return option.removeprefix("lowerdir=").split(":")
    return []
