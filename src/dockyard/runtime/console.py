"""A pseudo-terminal for a container with ``process.terminal: true``, handed over as runc does.

Inside the container's init, after the rootfs is mounted and before it is finalized::

    pty = open_pty()                      # /dev/ptmx of the container's devpts
    resize(pty.master, rows, cols)        # process.consoleSize, when given
    mount_console(sys, pty.slave_path)    # bind the slave over /dev/console
    send_master(console_socket, pty.master)   # SCM_RIGHTS, payload "/dev/ptmx"
    os.close(pty.master)
    attach(pty.slave_path)                # slave as fd 0, 1, 2 and the controlling terminal

The ``--console-socket`` is a unix stream socket the caller listens on; the runtime connects
and the init sends one message: the data is the master's name ("/dev/ptmx", as runc's
``utils.SendFd``), the ancillary data the master fd. :func:`receive_master` is the other end.
"""

from __future__ import annotations

import array
import errno
import fcntl
import os
import socket
import struct
import termios

from dockyard.errors import InvalidArgument, SystemCallError
from dockyard.runtime.record import Record
from dockyard.sys import MS_BIND

TYPE_CHECKING = False
if TYPE_CHECKING:
    from dockyard.sys import Syscalls

_TIOCGPTN = 0x80045430
_TIOCSPTLCK = 0x40045431
_MAX_NAME = 4096


class Pty(Record):
    master: int
    slave_path: str


def open_pty(ptmx: str = "/dev/ptmx") -> Pty:
    """A new pty pair from ``ptmx``: the master fd (close-on-exec) and the slave's path."""
    try:
        master = os.open(ptmx, os.O_RDWR | os.O_NOCTTY | os.O_CLOEXEC)
    except OSError as exc:
        raise SystemCallError("open", exc.errno or errno.EIO, ptmx) from exc
    try:
        fcntl.ioctl(master, _TIOCSPTLCK, struct.pack("i", 0))  # unlockpt
        number = array.array("I", [0])
        fcntl.ioctl(master, _TIOCGPTN, number, True)  # ptsname
    except OSError as exc:
        os.close(master)
        raise SystemCallError(
            "ioctl", exc.errno or errno.EIO, f"{ptmx} (unlockpt/ptsname)"
        ) from exc
    pts = os.path.join(os.path.dirname(ptmx), "pts", str(number[0]))
    if os.path.basename(os.path.dirname(ptmx)) == "pts":  # /dev/pts/ptmx itself
        pts = os.path.join(os.path.dirname(ptmx), str(number[0]))
    return Pty(master=master, slave_path=pts)


def resize(fd: int, rows: int, columns: int) -> None:
    try:
        fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", rows, columns, 0, 0))
    except OSError as exc:
        raise SystemCallError("ioctl", exc.errno or errno.EIO, "TIOCSWINSZ") from exc


def mount_console(sys: Syscalls, slave_path: str, console: str = "/dev/console") -> None:
    """Bind the slave over /dev/console, creating the mount point as runc does (mode 0666)."""
    old = os.umask(0)
    try:
        fd = os.open(console, os.O_WRONLY | os.O_CREAT | os.O_CLOEXEC, 0o666)
        os.close(fd)
    except OSError as exc:
        raise SystemCallError("open", exc.errno or errno.EIO, console) from exc
    finally:
        os.umask(old)
    sys.mount(slave_path, console, "bind", MS_BIND)


def connect(path: str) -> socket.socket:
    """Connect to the caller's ``--console-socket``."""
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        sock.connect(path)
    except OSError as exc:
        sock.close()
        raise SystemCallError("connect", exc.errno or errno.EIO, path) from exc
    return sock


def send_master(sock: socket.socket, master: int, name: str = "/dev/ptmx") -> None:
    """One message: ``name`` as data, ``master`` as SCM_RIGHTS (runc's utils.SendFd)."""
    data = name.encode()
    if len(data) >= _MAX_NAME:
        raise InvalidArgument(f"console: name too long: {name}")
    try:
        socket.send_fds(sock, [data], [master])
    except OSError as exc:
        raise SystemCallError("sendmsg", exc.errno or errno.EIO, "console socket") from exc


def receive_master(sock: socket.socket) -> tuple[str, int]:
    """The caller's side: the name and the master fd one :func:`send_master` sent."""
    try:
        data, fds, _flags, _addr = socket.recv_fds(sock, _MAX_NAME, 1)
    except OSError as exc:
        raise SystemCallError("recvmsg", exc.errno or errno.EIO, "console socket") from exc
    if len(fds) != 1:
        for fd in fds:
            os.close(fd)
        raise InvalidArgument(f"console socket: expected one fd, got {len(fds)}")
    return data.decode(errors="replace"), fds[0]


def attach(slave_path: str) -> None:
    """Make the slave fd 0, 1 and 2 and the controlling terminal of this session leader."""
    try:
        fd = os.open(slave_path, os.O_RDWR)
    except OSError as exc:
        raise SystemCallError("open", exc.errno or errno.EIO, slave_path) from exc
    for target in (0, 1, 2):
        os.dup2(fd, target)
    if fd > 2:
        os.close(fd)
    try:
        fcntl.ioctl(0, termios.TIOCSCTTY, 0)
    except OSError as exc:
        raise SystemCallError("ioctl", exc.errno or errno.EIO, "TIOCSCTTY") from exc
