"""The local volume driver: named directories under the data root, optionally with a filesystem
mounted on them while containers use them.

::

    <data-root>/volumes/                     mode 0701
      <name>/                                mode 0701
        _data/                               the content; what containers bind (mode 0755)
        meta.json                            name, labels, options, created (record.py)
        refs.json                            users and mount holders (record.py)
      .trash-<random>/                       a removed volume, deleted outside the lock
      <name>/.<file>.<pid>.tmp               a record being replaced

The store keeps every record in memory (the daemon is the only writer) and writes through.
Thread-safe: one lock guards the records; the slow parts (deleting a removed volume's tree,
copying image content, measuring sizes) run outside it.
"""

from __future__ import annotations

import logging
import os
import secrets
import shutil
import threading
import time
from collections.abc import Callable, Collection, Iterator, Mapping
from contextlib import contextmanager, suppress
from pathlib import Path

from dockyard.errors import Conflict, DockyardError, InvalidArgument, NotFound, SystemCallError
from dockyard.sys import MNT_DETACH, Syscalls
from dockyard.volumes import copyup, names, usage
from dockyard.volumes.mountinfo import mounted_at_or_under
from dockyard.volumes.options import MountOptions, mount_filesystem, parse_options
from dockyard.volumes.record import DATA, DRIVER, META, REFS, Refs, Volume, read_json, write_json

log = logging.getLogger(__name__)

TRASH = ".trash-"


class VolumeStore:
    """Volumes of the ``local`` driver under ``root`` (``<data-root>/volumes``)."""

    def __init__(self, root: Path, syscalls: Syscalls, *,
                 clock: Callable[[], int] = time.time_ns,
                 mountinfo: Path = Path("/proc/self/mountinfo")) -> None:
        self.root = root
        self._syscalls = syscalls
        self._clock = clock
        self._mountinfo = mountinfo
        self._lock = threading.RLock()
        self._copy_locks: dict[str, threading.Lock] = {}
        self._volumes: dict[str, Volume] = {}
        self._refs: dict[str, Refs] = {}
        root.mkdir(mode=0o701, parents=True, exist_ok=True)
        self._load()

    # -- lookup --------------------------------------------------------------------------------

    def get(self, name: str) -> Volume:
        """The volume; NotFound ``get NAME: no such volume`` (dockerd's words)."""
        with self._lock:
            volume = self._volumes.get(name)
        if volume is None:
            raise NotFound(f"get {name}: no such volume")
        return volume

    def list(self) -> list[Volume]:
        """Every volume, by name."""
        with self._lock:
            return [self._volumes[n] for n in sorted(self._volumes)]

    def users(self, name: str) -> tuple[str, ...]:
        """The containers referencing the volume, in the order they came."""
        with self._lock:
            self.get(name)
            return tuple(self._refs[name].users)

    def in_use(self) -> dict[str, int]:
        """Reference counts of every volume (0 for an unused one)."""
        with self._lock:
            return {name: len(refs.users) for name, refs in self._refs.items()}

    # -- create and remove ---------------------------------------------------------------------

    def create(self, name: str = "", *, driver: str = "", labels: Mapping[str, str] | None = None,
               options: Mapping[str, str] | None = None,
               reference: str | None = None) -> Volume:
        """Create a volume, or return the one of that name as it is (dockerd ignores the labels
        and options of a repeated create). ``""`` makes an anonymous volume with a 64-hex name.
        ``reference`` (a container ID) is added to its users in the same step, so nothing can
        prune it in between. Errors read ``create NAME: ...``."""
        anonymous = not name
        name = name or names.anonymous_name()
        try:
            if driver not in ("", DRIVER):
                raise NotFound(f'error looking up volume plugin {driver}: plugin "{driver}" '
                               "not found")
            names.validate_name(name)
            with self._lock:
                volume = self._volumes.get(name)
                if volume is None:
                    volume = self._make(name, labels, options, anonymous=anonymous)
                if reference:
                    self._add(self._refs[name].users, name, reference)
                return volume
        except (NotFound, InvalidArgument) as exc:
            raise type(exc)(f"create {name}: {exc}") from exc

    def remove(self, name: str, *, force: bool = False) -> None:
        """Remove the volume and its content. Conflict ``remove NAME: volume is in use -
        [IDs]`` while containers reference it, even with ``force``; ``force`` only makes a
        missing volume no error (dockerd's ``PurgeOnError``)."""
        with self._lock:
            if name not in self._volumes:
                if force:
                    return
                raise NotFound(f"get {name}: no such volume")
            users = list(self._refs[name].users)
            if users:
                raise Conflict(f"remove {name}: volume is in use - [{', '.join(users)}]")
            self._unmount_all(name)
            trash = self.root / f"{TRASH}{secrets.token_hex(8)}"
            try:
                os.replace(self.root / name, trash)
            except OSError as exc:
                raise SystemCallError("rename", exc.errno or 0, str(self.root / name)) from exc
            del self._volumes[name], self._refs[name]
            self._copy_locks.pop(name, None)
        _delete_tree(trash)

    # -- references and mounts -----------------------------------------------------------------

    def use(self, name: str, container_id: str) -> Volume:
        """Record that a container references the volume (from its creation to its removal);
        the volume cannot be removed or pruned meanwhile. Idempotent."""
        with self._lock:
            volume = self.get(name)
            self._add(self._refs[name].users, name, container_id)
            return volume

    def release(self, name: str, container_id: str) -> None:
        """Drop a container's reference; no error if it had none or the volume is gone."""
        with self._lock:
            refs = self._refs.get(name)
            if refs is not None and container_id in refs.users:
                del refs.users[container_id]
                self._save_refs(name)

    def mount(self, name: str, container_id: str) -> Path:
        """The host path a container binds for this volume. A volume with mount options gets
        its filesystem mounted by the first holder; each holder must call :meth:`unmount`."""
        with self._lock:
            volume = self.get(name)
            spec = parse_options(volume.options)
            if spec is None:
                return volume.mountpoint
            if not self._is_mounted(volume):
                self._mount(volume, spec)
            self._add(self._refs[name].mounts, name, container_id)
            return volume.mountpoint

    def unmount(self, name: str, container_id: str) -> None:
        """Drop a holder's mount; the last one unmounts the filesystem. No error if the holder
        or the volume is unknown (a cleanup path)."""
        with self._lock:
            refs = self._refs.get(name)
            if refs is None or container_id not in refs.mounts:
                return
            del refs.mounts[container_id]
            self._save_refs(name)
            if not refs.mounts:
                self._unmount_all(name)

    def reconcile(self, containers: Collection[str], running: Collection[str]) -> None:
        """After a restart: keep only references of containers that still exist and mounts of
        containers still running; unmount what no running container holds, mount what one
        does."""
        with self._lock:
            for name, refs in self._refs.items():
                users = {u: None for u in refs.users if u in containers}
                mounts = {m: None for m in refs.mounts if m in running}
                if (users, mounts) != (refs.users, refs.mounts):
                    refs.users, refs.mounts = users, mounts
                    self._save_refs(name)
                volume = self._volumes[name]
                spec = parse_options(volume.options)
                if spec is None:
                    continue
                try:
                    if mounts and not self._is_mounted(volume):
                        self._mount(volume, spec)
                    elif not mounts:
                        self._unmount_all(name)
                except DockyardError as exc:  # one volume must not stop the others
                    log.warning("volume %s: %s", name, exc)

    # -- content -------------------------------------------------------------------------------

    def copy_up(self, name: str, source: Path) -> bool:
        """Copy the image's content at a mount destination (``source``, a directory on the
        host, e.g. inside the container's mounted rootfs) into the volume if the volume is
        empty, as dockerd does at container creation (see copyup.py). True if it copied.
        A missing ``source`` copies nothing; the volume's filesystem is mounted for the copy."""
        if not source.exists():
            return False
        if not source.is_dir() or source.is_symlink():
            raise InvalidArgument(f"copy into volume {name}: {source} is not a directory")
        holder = f"copy-up-{secrets.token_hex(8)}"
        with self._copy_lock(name):
            path = self.mount(name, holder)
            try:
                if not copyup.is_empty(path):
                    return False
                log.debug("copying %s into volume %s", source, name)
                copyup.copy_tree(source, path)
                return True
            except OSError as exc:
                raise SystemCallError("copy", exc.errno or 0,
                                      f"of {source} into volume {name}") from exc
            finally:
                self.unmount(name, holder)

    def size(self, name: str) -> int:
        """Bytes in the volume as ``docker system df`` counts them."""
        return usage.disk_size(self.get(name).mountpoint)

    # -- internals -----------------------------------------------------------------------------

    def _make(self, name: str, labels: Mapping[str, str] | None,
              opts: Mapping[str, str] | None, *, anonymous: bool) -> Volume:
        parse_options(opts)
        directory = self.root / name
        try:
            directory.mkdir(mode=0o701)
        except OSError as exc:
            raise SystemCallError("mkdir", exc.errno or 0, str(directory)) from exc
        try:
            os.chmod(directory, 0o701)  # the umask does not narrow it
            data = directory / DATA
            data.mkdir()
            os.chmod(data, 0o755)
            volume = Volume(name, data, self._clock(), _copy(labels), _copy(opts), anonymous)
            write_json(directory / META, volume.to_json(), sync=True)
        except BaseException:
            shutil.rmtree(directory, ignore_errors=True)
            raise
        self._volumes[name], self._refs[name] = volume, Refs()
        log.info("created volume %s", name)
        return volume

    def _add(self, refs: dict[str, None], name: str, container_id: str) -> None:
        if container_id not in refs:
            refs[container_id] = None
            self._save_refs(name)

    def _save_refs(self, name: str) -> None:
        write_json(self.root / name / REFS, self._refs[name].to_json())

    def _is_mounted(self, volume: Volume) -> bool:
        return str(volume.mountpoint) in mounted_at_or_under(volume.mountpoint, self._mountinfo)

    def _mount(self, volume: Volume, spec: MountOptions) -> None:
        try:
            mount_filesystem(spec, str(volume.mountpoint), self._syscalls)
        except SystemCallError as exc:
            raise SystemCallError(
                "mount", exc.errno, f"of volume {volume.name} ({spec.type} {spec.device} on "
                f"{volume.mountpoint}, options {spec.options!r})") from exc
        log.info("mounted %s %s on volume %s", spec.type, spec.device, volume.name)

    def _unmount_all(self, name: str) -> None:
        """Unmount everything at or below the volume's directory (deepest first), so removing
        it can never reach into a mounted filesystem (a bind of a host directory)."""
        directory = self.root / name
        for point in mounted_at_or_under(directory, self._mountinfo):
            self._syscalls.umount(point, MNT_DETACH)
            log.info("unmounted %s", point)
        left = mounted_at_or_under(directory, self._mountinfo)
        if left:
            raise Conflict(f"volume {name}: still mounted at {', '.join(left)}")

    @contextmanager
    def _copy_lock(self, name: str) -> Iterator[None]:
        with self._lock:
            self.get(name)
            lock = self._copy_locks.setdefault(name, threading.Lock())
        with lock:
            yield

    def _load(self) -> None:
        for entry in sorted(os.scandir(self.root), key=lambda e: e.name):
            if entry.name.startswith(TRASH):
                _delete_tree(Path(entry.path))
            elif entry.is_dir(follow_symlinks=False) and names.is_valid_name(entry.name):
                self._load_one(Path(entry.path))

    def _load_one(self, directory: Path) -> None:
        name = directory.name
        for temp in directory.glob(".*.tmp"):
            temp.unlink()
        meta = directory / META
        if not meta.exists():  # a create cut short, or a directory put here by hand: adopt it
            (directory / DATA).mkdir(mode=0o755, exist_ok=True)
            created = directory.stat().st_mtime_ns
            write_json(meta, Volume(name, directory / DATA, created).to_json(), sync=True)
        volume = Volume.from_json(read_json(meta), directory / DATA)
        refs_file = directory / REFS
        refs = Refs.from_json(read_json(refs_file)) if refs_file.exists() else Refs()
        self._volumes[name], self._refs[name] = volume, refs


def _copy(values: Mapping[str, str] | None) -> dict[str, str] | None:
    return None if values is None else {str(k): str(v) for k, v in values.items()}


def _delete_tree(path: Path) -> None:
    """Delete a removed volume's directory; it holds no mount (checked before the rename)."""
    with suppress(FileNotFoundError):
        shutil.rmtree(path)
