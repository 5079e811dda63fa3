"""What create checks before any process exists (runc's ``configs/validate`` and the checks of
its ``create``/``run`` commands): a failed check leaves nothing behind because nothing was made.
"""

from __future__ import annotations

import os

from dockyard.errors import InvalidArgument
from dockyard.runtime import process as proc

TYPE_CHECKING = False
if TYPE_CHECKING:
    from dockyard.runtime.spec import Process, Spec


def rootfs_path(spec: Spec, bundle: str) -> str:
    """The absolute root path: it must exist and must not be a symlink."""
    if spec.root is None:
        raise InvalidArgument("config.json: root: missing (root must be specified)")
    path = spec.root.path
    if not path.startswith("/"):
        path = os.path.join(bundle, path)
    path = os.path.normpath(path)
    if not os.path.isdir(path):
        raise InvalidArgument(f"invalid rootfs: {path}: not a directory")
    if os.path.realpath(path) != path:
        raise InvalidArgument(f"invalid rootfs: {path}: not an absolute path, or a symlink")
    return path


def container(spec: Spec) -> Process:
    """The checks on the spec as a whole; returns its process."""
    process = spec.process
    if process is None:
        raise InvalidArgument("config.json: process: missing (process property must not be "
                              "empty)")
    linux = spec.linux
    kinds = {namespace.type: namespace.path for namespace in linux.namespaces}
    if (spec.hostname or spec.domainname) and "uts" not in kinds:
        raise InvalidArgument("unable to set hostname without a private UTS namespace")
    if (linux.masked_paths or linux.readonly_paths) and "mount" not in kinds:
        raise InvalidArgument("unable to restrict sys entries without a private MNT namespace")
    if spec.mounts and "mount" not in kinds:
        raise InvalidArgument("mounts: unable to mount without a private MNT namespace")
    host_net = False
    if kinds.get("network"):
        host_net = _same_file(kinds["network"], "/proc/self/ns/net")
    for name in linux.sysctl:
        proc.check_sysctl(name, kinds, host_net)
    host_root(spec)
    if process.selinux_label:
        raise InvalidArgument("selinux label is specified in config, but selinux is disabled "
                              "or not supported")
    return process


def host_root(spec: Spec) -> tuple[int, int]:
    """The host uid and gid of the container's root (runc's ``HostRootUID``/``GID``): 0, 0
    without a user namespace (whose mappings are then ignored, as runc ignores them); with
    one, the mappings must exist and map container id 0."""
    linux = spec.linux
    if linux.namespace("user") is None:
        return 0, 0
    found = []
    for kind, mappings in (("uid", linux.uid_mappings), ("gid", linux.gid_mappings)):
        if not mappings:
            raise InvalidArgument(f"linux.{kind}Mappings: user namespaces enabled, but no "
                                  f"{kind} mappings found")
        host = next((m.host_id for m in mappings if m.container_id == 0 and m.size > 0), None)
        if host is None:
            raise InvalidArgument(f"linux.{kind}Mappings: user namespaces enabled, but "
                                  f"container {kind} 0 is not mapped")
        found.append(host)
    return found[0], found[1]


def terminal(process: Process, console_socket: str, detach: bool) -> None:
    """runc's ``checkTerminal``: a console socket exactly when a detached process has a tty."""
    if detach and process.terminal and not console_socket:
        raise InvalidArgument(
            "cannot allocate tty if runc will detach without setting console socket")
    if (not detach or not process.terminal) and console_socket:
        raise InvalidArgument(
            "cannot use console socket if runc will not detach or allocate tty")


def preserved_fds(count: int) -> tuple[int, ...]:
    """Stdio plus fds 3 .. 3+count-1, each of which must be open."""
    if count < 0:
        raise InvalidArgument(f"--preserve-fds: {count} is negative")
    for fd in range(3, 3 + count):
        try:
            os.fstat(fd)
        except OSError as exc:
            raise InvalidArgument(
                f"unable to stat preserved-fd {fd - 3} (of {count}): {exc.strerror}") from exc
    return tuple(range(3 + count))


def _same_file(first: str, second: str) -> bool:
    try:
        a, b = os.stat(first), os.stat(second)
    except OSError as exc:
        raise InvalidArgument(f"invalid netns path: {first}: {exc.strerror}") from exc
    return (a.st_dev, a.st_ino) == (b.st_dev, b.st_ino)
