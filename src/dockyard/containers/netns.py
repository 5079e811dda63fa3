"""A container's own network namespace with only loopback, made before the runtime runs.

Docker's libnetwork makes the sandbox's namespace itself, brings ``lo`` up in it and pins it
with a bind mount (``/var/run/docker/netns/<sandbox>``); the OCI spec then names that path and
the runtime joins it. A namespace the runtime makes on its own has ``lo`` down. So the spawner's
child (single-threaded) does the same as libnetwork, in one thread and without a fork::

    touch <exec-root>/netns/<id>
    unshare(CLONE_NEWNET)                 # this thread now lives in a fresh namespace
    ioctl(SIOCSIFFLAGS, lo, IFF_UP)       # 127.0.0.1 and ::1 answer
    mount --bind /proc/thread-self/ns/net <exec-root>/netns/<id>
    setns(<the host's namespace>)         # back where we were

The namespace lives while the bind mount or a process holds it; :func:`release` unmounts and
unlinks the pin once the container has stopped.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
import socket
import struct

from dockyard.errors import SystemCallError
from dockyard.sys import CLONE_NEWNET, MNT_DETACH, MS_BIND, Syscalls

SIOCGIFFLAGS = 0x8913
SIOCSIFFLAGS = 0x8914
IFF_UP = 0x1


def create(path: str, host_ns: int, sys: Syscalls) -> None:
    """Make a namespace with ``lo`` up and pin it at ``path``; the calling thread ends up back
    in ``host_ns`` (an fd on the namespace it started in)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_CLOEXEC, 0o444)
    os.close(fd)
    sys.unshare(CLONE_NEWNET)
    try:
        loopback_up()
        sys.mount("/proc/thread-self/ns/net", path, "", MS_BIND)
    finally:
        sys.setns(host_ns, CLONE_NEWNET)


def loopback_up() -> None:
    """Set IFF_UP on ``lo`` in the calling thread's namespace."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        request = struct.pack("16sH22x", b"lo", 0)
        try:
            flags = struct.unpack("16sH22x", fcntl.ioctl(sock, SIOCGIFFLAGS, request))[1]
            fcntl.ioctl(sock, SIOCSIFFLAGS, struct.pack("16sH22x", b"lo", flags | IFF_UP))
        except OSError as exc:
            raise SystemCallError("ioctl", exc.errno or errno.EIO, "SIOCSIFFLAGS lo") from exc


def release(path: str, sys: Syscalls) -> None:
    """Unpin a namespace made by :func:`create` (nothing if it is gone already)."""
    with contextlib.suppress(SystemCallError):
        sys.umount(path, MNT_DETACH)
    with contextlib.suppress(FileNotFoundError):
        os.unlink(path)
