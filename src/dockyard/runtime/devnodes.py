"""The container's /dev: device nodes, the /dev/ptmx link and the /dev/fd and stdio links.

Done when no bind mount covers /dev (runc's ``needsSetupDev``), after the spec's mounts (so
/dev is the spec's tmpfs and /dev/pts its devpts) and before the root changes:

1. the default devices runc always creates (null, random, full, tty, zero, urandom, each
   0666 root:root), less those the spec lists itself, then ``linux.devices``; made with
   mknod(2) under umask 0, or bind-mounted from the host when mknod is not permitted;
2. ``/dev/ptmx -> pts/ptmx`` (the devpts instance of the container);
3. ``/dev/fd -> /proc/self/fd``, ``/dev/std{in,out,err} -> /proc/self/fd/{0,1,2}`` and
   ``/dev/core -> /proc/kcore`` when the host has /proc/kcore.

After the root has changed, :func:`reopen_dev_null` points stdio that was the host's
/dev/null at the container's /dev/null.
"""

from __future__ import annotations

import errno
import os
import stat

from dockyard.errors import InvalidArgument, SystemCallError
from dockyard.runtime.mounts import secure_join
from dockyard.runtime.spec import Device
from dockyard.sys.flags import MS_BIND

TYPE_CHECKING = False
if TYPE_CHECKING:
    from dockyard.sys import Syscalls

DEFAULT_DEVICES = tuple(
    Device(type="c", path=path, major=major, minor=minor, file_mode=0o666, uid=0, gid=0)
    for path, major, minor in (("/dev/null", 1, 3), ("/dev/random", 1, 8), ("/dev/full", 1, 7),
                               ("/dev/tty", 5, 0), ("/dev/zero", 1, 5), ("/dev/urandom", 1, 9))
)
LINKS = (("/proc/self/fd", "/dev/fd"), ("/proc/self/fd/0", "/dev/stdin"),
         ("/proc/self/fd/1", "/dev/stdout"), ("/proc/self/fd/2", "/dev/stderr"))
_TYPE_BITS = {"c": stat.S_IFCHR, "u": stat.S_IFCHR, "b": stat.S_IFBLK, "p": stat.S_IFIFO}


def devices_to_create(spec_devices: tuple[Device, ...]) -> tuple[Device, ...]:
    """The defaults the spec does not override, then the spec's devices (runc's order)."""
    listed = {device.path for device in spec_devices}
    defaults = tuple(device for device in DEFAULT_DEVICES if device.path not in listed)
    return defaults + tuple(d for d in spec_devices if os.path.normpath(d.path) != "/dev/ptmx")


def create_devices(root: str, devices: tuple[Device, ...], sys: Syscalls) -> None:
    """Make each device node under ``root`` (a bind of the host's node if mknod is refused)."""
    old = os.umask(0)
    try:
        for device in devices:
            _create(root, device, sys)
    finally:
        os.umask(old)


def _create(root: str, device: Device, sys: Syscalls) -> None:
    dest = secure_join(root, device.path)
    os.makedirs(os.path.dirname(dest), 0o755, exist_ok=True)
    mode = (device.file_mode if device.file_mode is not None else 0o666) & 0o7777
    try:
        sys.mknod(dest, _TYPE_BITS[device.type] | mode, os.makedev(device.major, device.minor))
    except SystemCallError as exc:
        if exc.errno == errno.EEXIST:
            return
        if exc.errno != errno.EPERM:
            raise
        _bind_from_host(dest, device, sys)
        return
    if device.uid or device.gid:  # mknod(2) by root made it root's already
        os.chown(dest, device.uid or 0, device.gid or 0)


def _bind_from_host(dest: str, device: Device, sys: Syscalls) -> None:
    if not os.path.exists(dest):
        os.close(os.open(dest, os.O_CREAT | os.O_CLOEXEC, 0o755))
    sys.mount(device.path, dest, "", MS_BIND, "")


def setup_ptmx(root: str) -> None:
    ptmx = f"{root}/dev/ptmx"
    if os.path.lexists(ptmx):
        os.unlink(ptmx)
    os.symlink("pts/ptmx", ptmx)


def setup_links(root: str, *, kcore: bool | None = None) -> None:
    links = list(LINKS)
    if kcore if kcore is not None else os.path.exists("/proc/kcore"):
        links.append(("/proc/kcore", "/dev/core"))
    for source, link in links:
        if not os.path.lexists(root + link):
            os.symlink(source, root + link)


def reopen_dev_null() -> None:
    """Point fds 0-2 that are a /dev/null (the host's) at the container's /dev/null."""
    fd = os.open("/dev/null", os.O_RDWR | os.O_CLOEXEC)
    try:
        null = os.fstat(fd).st_rdev
        for target in range(3):
            try:
                info = os.fstat(target)
            except OSError as exc:
                raise InvalidArgument(f"stdio fd {target} is not open") from exc
            if stat.S_ISCHR(info.st_mode) and info.st_rdev == null:
                os.dup2(fd, target, inheritable=True)
    finally:
        os.close(fd)
