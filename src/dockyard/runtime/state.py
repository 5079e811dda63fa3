"""Container state under ``--root``: one directory per container, runc's status rules, locking.

::

    <root>/                    0700, default /run/dockyard-runtime
      <id>/                    0711; flock(2) on this directory serialises the verbs on one
                               container (create holds it until the container is created)
        config.json            the bundle's config.json as create read it (exec, delete use it)
        state.json             0600, the :class:`Saved` record, replaced atomically
        exec.fifo              0622, only while the container is "created": the init blocks
                               opening it for writing; ``start`` opens it for reading

The status is derived, as runc derives it, never stored:

=========  ===========================================================================
creating   no state.json yet and the directory is locked (create is under way)
paused     the container's cgroup is frozen (freezer.state FROZEN on v1, cgroup.freeze 1 on
           v2): checked first, as runc does
created    the init is alive (same pid *and* start time, not a zombie), exec.fifo exists
running    the init is alive and exec.fifo is gone
stopped    the init is gone, a zombie, or another process now has its pid; or no
           state.json and nobody holds the lock (a create that died half way)
=========  ===========================================================================

Transitions (:data:`TRANSITIONS`): creating -> created (create) -> running (start) -> stopped
(the init exits); ``run`` goes creating -> running; created or running -> paused (pause) ->
created or running (resume; ``kill --all`` thaws too); a failed create removes the directory.
"""

from __future__ import annotations

import os

from dockyard.errors import AlreadyExists, DataCorrupt, InvalidArgument, NotFound
from dockyard.runtime.jsontext import dumps, loads
from dockyard.runtime.record import Record
from dockyard.runtime.spec import EMPTY

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Mapping

OCI_VERSION = "1.0.2-dev"
"""The spec version ``state`` reports: runc 1.1's, so outputs compare equal."""

DEFAULT_ROOT = "/run/dockyard-runtime"
CREATING, CREATED, RUNNING, STOPPED = "creating", "created", "running", "stopped"
PAUSED = "paused"
TRANSITIONS = frozenset({
    (CREATING, CREATED), (CREATING, RUNNING), (CREATING, STOPPED),
    (CREATED, RUNNING), (CREATED, STOPPED), (RUNNING, STOPPED),
    (CREATED, PAUSED), (RUNNING, PAUSED), (PAUSED, RUNNING), (PAUSED, CREATED),
    (PAUSED, STOPPED),
})  # fmt: skip
_ID_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_+-.")


class Saved(Record):
    """What state.json holds."""

    id: str
    pid: int
    start_time: int
    """The init's start time (field 22 of /proc/<pid>/stat): a reused pid does not match."""
    bundle: str
    rootfs: str
    created: str
    cgroup_paths: Mapping[str, str] = EMPTY
    """Hierarchy to directory, as the cgroup handle reports them ("" for cgroup v2)."""
    annotations: Mapping[str, str] = EMPTY

    def to_json(self) -> str:
        return dumps({
            "id": self.id, "pid": self.pid, "startTime": self.start_time,
            "bundle": self.bundle, "rootfs": self.rootfs, "created": self.created,
            "cgroupPaths": dict(self.cgroup_paths), "annotations": dict(self.annotations),
        })

    @classmethod
    def from_json(cls, data: bytes, what: str) -> Saved:
        try:
            value = loads(data, what)
            assert isinstance(value, dict)
            return cls(id=str(value["id"]), pid=int(value["pid"]),  # type: ignore[arg-type]
                       start_time=int(value["startTime"]),  # type: ignore[arg-type]
                       bundle=str(value["bundle"]), rootfs=str(value["rootfs"]),
                       created=str(value["created"]),
                       cgroup_paths=dict(value.get("cgroupPaths") or {}),  # type: ignore[arg-type]
                       annotations=dict(value.get("annotations") or {}))  # type: ignore[arg-type]
        except (InvalidArgument, AssertionError, KeyError, TypeError, ValueError) as exc:
            raise DataCorrupt(f"{what}: not a container state record") from exc


class ContainerState(Record):
    """The object ``state`` and ``list`` print (runc's ``containerState``)."""

    id: str
    pid: int
    status: str
    bundle: str
    rootfs: str
    created: str
    annotations: Mapping[str, str] = EMPTY
    owner: str = ""
    oci_version: str = OCI_VERSION

    def to_object(self) -> dict[str, object]:
        out: dict[str, object] = {
            "ociVersion": self.oci_version, "id": self.id, "pid": self.pid,
            "status": self.status, "bundle": self.bundle, "rootfs": self.rootfs,
            "created": self.created,
        }
        if self.annotations:  # omitempty; Go writes map keys sorted
            out["annotations"] = {key: self.annotations[key] for key in sorted(self.annotations)}
        out["owner"] = self.owner
        return out


def check_id(container_id: str) -> None:
    """runc's id rule: letters, digits and ``_+-.``, not ``.`` or ``..``."""
    if (not container_id or container_id in (".", "..")
            or not set(container_id) <= _ID_CHARS):
        raise InvalidArgument(f"invalid container id format: {container_id!r}")


def rfc3339_nano(ns: int) -> str:
    """Go's time.RFC3339Nano text of a UTC time given in nanoseconds since the epoch."""
    import time

    seconds, fraction = divmod(ns, 1_000_000_000)
    text = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(seconds))
    if fraction:
        text += "." + f"{fraction:09d}".rstrip("0")
    return text + "Z"


def start_time(pid: int, proc: str = "/proc") -> int | None:
    """The start time of live process ``pid``; None when it is gone or a zombie."""
    try:
        with open(f"{proc}/{pid}/stat", "rb") as file:
            data = file.read()
    except (FileNotFoundError, ProcessLookupError):
        return None
    fields = data[data.rindex(b")") + 2:].split()
    if fields[0] in (b"Z", b"X"):
        return None
    return int(fields[19])


def derive_status(
    saved: Saved | None, locked: bool, fifo: bool, alive: Callable[[int, int], bool],
    frozen: bool = False,
) -> str:
    """The status from what is on disk: see the table in the module docstring."""
    if saved is None:
        return CREATING if locked else STOPPED
    if frozen:
        return PAUSED
    if saved.pid <= 0 or not alive(saved.pid, saved.start_time):
        return STOPPED
    return CREATED if fifo else RUNNING


def _alive(pid: int, expected: int) -> bool:
    return start_time(pid) == expected


def cgroup_frozen(paths: Mapping[str, str]) -> bool:
    """Whether the cgroup of ``paths`` (a handle's) is frozen: v1's freezer.state reads
    FROZEN, or v2's cgroup.freeze reads 1; False once the cgroup is gone."""
    if "freezer" in paths:
        name, frozen = f"{paths['freezer']}/freezer.state", "FROZEN"
    elif "" in paths:
        name, frozen = f"{paths['']}/cgroup.freeze", "1"
    else:
        return False
    try:
        with open(name, encoding="ascii") as file:
            return file.read().strip() == frozen
    except OSError:
        return False


class ContainerDir:
    """``<root>/<id>``: the files of one container."""

    def __init__(self, path: str, container_id: str) -> None:
        self.path = path
        self.id = container_id
        self.fifo = f"{path}/exec.fifo"
        self._lock_fd = -1

    def lock(self, *, wait: bool = True) -> bool:
        """flock the directory (held until :meth:`unlock` or the process ends)."""
        import fcntl

        if self._lock_fd < 0:
            self._lock_fd = os.open(self.path, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
        try:
            fcntl.flock(self._lock_fd, fcntl.LOCK_EX | (0 if wait else fcntl.LOCK_NB))
        except BlockingIOError:
            return False
        return True

    def unlock(self) -> None:
        if self._lock_fd >= 0:
            os.close(self._lock_fd)
            self._lock_fd = -1

    def is_locked_elsewhere(self) -> bool:
        probe = ContainerDir(self.path, self.id)
        try:
            return not probe.lock(wait=False)
        except FileNotFoundError:
            return False
        finally:
            probe.unlock()

    def read(self) -> Saved | None:
        """The record, or None while create has not written it."""
        try:
            with open(f"{self.path}/state.json", "rb") as file:
                data = file.read()
        except FileNotFoundError:
            return None
        return Saved.from_json(data, f"{self.path}/state.json")

    def write(self, saved: Saved) -> None:
        self._write("state.json", saved.to_json().encode(), 0o600)

    def save_config(self, data: bytes) -> None:
        self._write("config.json", data, 0o600)

    def read_config(self) -> bytes:
        with open(f"{self.path}/config.json", "rb") as file:
            return file.read()

    def _write(self, name: str, data: bytes, mode: int) -> None:
        temp = f"{self.path}/.{name}.tmp"
        fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, mode)
        try:
            os.write(fd, data)
        finally:
            os.close(fd)
        os.rename(temp, f"{self.path}/{name}")

    def make_fifo(self) -> None:
        old = os.umask(0)
        try:
            os.mkfifo(self.fifo, 0o622)
        finally:
            os.umask(old)

    def has_fifo(self) -> bool:
        return os.path.exists(self.fifo)

    def status(self, saved: Saved | None) -> str:
        locked = saved is None and self.is_locked_elsewhere()
        frozen = saved is not None and cgroup_frozen(saved.cgroup_paths)
        return derive_status(saved, locked, saved is not None and self.has_fifo(), _alive,
                             frozen)

    def remove(self) -> None:
        """Remove the directory and everything in it."""
        for name in os.listdir(self.path):
            os.unlink(f"{self.path}/{name}")
        os.rmdir(self.path)


class StateRoot:
    """``--root``: where the container directories live."""

    def __init__(self, root: str = DEFAULT_ROOT) -> None:
        self.root = root.rstrip("/") or "/"

    def create(self, container_id: str) -> ContainerDir:
        """Make ``<root>/<id>``, locked; AlreadyExists if a container has that id."""
        check_id(container_id)
        os.makedirs(self.root, mode=0o700, exist_ok=True)
        path = f"{self.root}/{container_id}"
        try:
            os.mkdir(path, 0o711)
        except FileExistsError as exc:
            raise AlreadyExists(f"container with id exists: {container_id}") from exc
        os.chmod(path, 0o711)  # mkdir's mode is masked by the umask
        directory = ContainerDir(path, container_id)
        directory.lock()
        return directory

    def open(self, container_id: str) -> ContainerDir:
        check_id(container_id)
        path = f"{self.root}/{container_id}"
        if not os.path.isdir(path):
            raise NotFound("container does not exist")
        return ContainerDir(path, container_id)

    def ids(self) -> list[str]:
        try:
            names = os.listdir(self.root)
        except FileNotFoundError:
            return []
        return sorted(name for name in names if os.path.isdir(f"{self.root}/{name}"))

    def state(self, directory: ContainerDir, *, owner: str = "") -> ContainerState:
        """The ``state`` object of one container (pid 0 once it has stopped, as runc)."""
        saved = directory.read()
        status = directory.status(saved)
        if saved is None:
            return ContainerState(id=directory.id, pid=0, status=status, bundle="", rootfs="",
                                  created="", owner=owner)
        return ContainerState(
            id=saved.id, pid=0 if status == STOPPED else saved.pid, status=status,
            bundle=saved.bundle, rootfs=saved.rootfs, created=saved.created,
            annotations=saved.annotations, owner=owner,
        )
