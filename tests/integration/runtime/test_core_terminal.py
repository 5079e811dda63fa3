"""A terminal in the foreground: ``run`` (and ``exec -t``) under a pty relay the container's
own pty, with the window size followed, as runc does without --console-socket."""

from __future__ import annotations

import fcntl
import os
import pty
import struct
import termios
import uuid
from pathlib import Path

import pytest

from .corebundle import DOCKYARD, RUNC, Runtime, make_bundle, runc_spec

pytestmark = pytest.mark.root


def under_pty(argv: list[str]) -> tuple[bytes, int]:
    """Run ``argv`` with a 33x99 pty as its stdio; its output and exit status."""
    pid, master = pty.fork()
    if pid == 0:  # pragma: no cover - the child execs at once
        fcntl.ioctl(0, termios.TIOCSWINSZ, struct.pack("HHHH", 33, 99, 0, 0))
        os.execv(argv[0], argv)
    output = b""
    try:
        while True:
            try:
                data = os.read(master, 4096)
            except OSError:  # EIO once the child side is closed
                break
            if not data:
                break
            output += data
    finally:
        os.close(master)
        _, status = os.waitpid(pid, 0)
    return output, os.waitstatus_to_exitcode(status)


def test_run_with_a_terminal_in_the_foreground(tmp_path: Path) -> None:
    config = runc_spec(args=["sh", "-c", "tty; stty size; echo done; exit 3"], terminal=True)
    results = []
    for binary, name in ((DOCKYARD, "dy"), (RUNC, "runc")):
        runtime = Runtime(binary, tmp_path / name)
        try:
            bundle = make_bundle(tmp_path / "bundles" / name, config)
            for applet in ("tty", "stty"):
                (bundle / "rootfs/bin" / applet).symlink_to("busybox")
            results.append(under_pty([binary, "--root", str(runtime.root), "run", "-b",
                                      str(bundle), f"tty-{uuid.uuid4().hex[:6]}"]))
        finally:
            runtime.cleanup()
    # runc sizes its pty after the container has started and races `stty size`; ours has the
    # size from the start
    assert results[0] == (b"/dev/pts/0\r\n33 99\r\ndone\r\n", 3)
    assert results[1][0].startswith(b"/dev/pts/0\r\n") and results[1][1] == 3
