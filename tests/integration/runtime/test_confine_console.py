"""A pty handed over a console socket, as a runc caller (containerd's shim) receives it."""

from __future__ import annotations

import os
import select
import socket
import stat
from pathlib import Path

import pytest

from dockyard.runtime import console
from dockyard.sys import CLONE_NEWNS, MS_PRIVATE, MS_REC
from dockyard.sys.linux import LinuxSyscalls

pytestmark = pytest.mark.root


def _read_all(fd: int, timeout: float = 5.0) -> bytes:
    chunks = []
    while select.select([fd], [], [], timeout)[0]:
        try:
            chunk = os.read(fd, 4096)
        except OSError:  # EIO: the slave side is closed
            break
        if not chunk:
            break
        chunks.append(chunk)
    return b"".join(chunks)


def test_master_over_the_socket_slave_as_stdio_and_ctty(tmp_path: Path) -> None:
    path = str(tmp_path / "console.sock")
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as listener:
        listener.bind(path)
        listener.listen(1)
        pid = os.fork()
        if pid == 0:  # pragma: no cover - child: the container's init
            try:
                os.setsid()
                pty = console.open_pty()
                console.resize(pty.master, 24, 80)
                with console.connect(path) as sock:
                    console.send_master(sock, pty.master)
                os.close(pty.master)
                console.attach(pty.slave_path)
                os.execv("/bin/busybox", ["sh", "-c", "tty; stty size; ls -l /proc/self/fd/0"])
            finally:
                os._exit(127)
        conn, _ = listener.accept()
        with conn:
            name, master = console.receive_master(conn)
    try:
        output = _read_all(master).decode()
    finally:
        os.close(master)
        _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    assert name == "/dev/ptmx"
    lines = output.replace("\r\n", "\n").splitlines()
    assert lines[0].startswith("/dev/pts/")
    assert lines[1] == "24 80"
    assert lines[2].endswith(f"-> {lines[0]}")


def test_mount_console_binds_the_slave(tmp_path: Path) -> None:
    target = tmp_path / "console"
    read_fd, write_fd = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - child in its own mount namespace
        code = 1
        try:
            sys = LinuxSyscalls()
            sys.unshare(CLONE_NEWNS)
            sys.mount("none", "/", "", MS_REC | MS_PRIVATE)
            pty = console.open_pty()
            console.mount_console(sys, pty.slave_path, str(target))
            info = os.stat(target)
            same = info.st_rdev == os.stat(pty.slave_path).st_rdev and stat.S_ISCHR(info.st_mode)
            os.write(write_fd, b"ok" if same else b"different")
            code = 0
        finally:
            os._exit(code)
    os.close(write_fd)
    with os.fdopen(read_fd, "rb") as pipe:
        answer = pipe.read()
    _, status = os.waitpid(pid, 0)
    assert (os.waitstatus_to_exitcode(status), answer) == (0, b"ok")
    # the mount died with the child's namespace; the created mount point is a plain file
    assert stat.S_IMODE(target.stat().st_mode) == 0o666
    assert stat.S_ISREG(target.stat().st_mode)
