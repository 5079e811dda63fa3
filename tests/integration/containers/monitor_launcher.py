"""Run a command under dockyard-monitor the way the spawner's child does: the command is our
child, then we exec the monitor (so the monitor is its parent).

    python monitor_launcher.py MONITOR DIR [--tty] [--stdin] [--monitor-args ...] -- CMD...
"""

from __future__ import annotations

import os
import pty
import socket
import sys


def main() -> None:
    monitor, directory, *rest = sys.argv[1:]
    split = rest.index("--")
    options, command = rest[:split], rest[split + 1:]
    tty, stdin = "--tty" in options, "--stdin" in options
    extra = [o for o in options if o not in ("--tty", "--stdin")]
    listener = socket.socket(socket.AF_UNIX)
    listener.bind(os.path.join(directory, "monitor.sock"))
    listener.listen(64)
    fds: dict[str, int] = {}
    if tty:
        master, slave = pty.openpty()
        fds["o"] = master
    else:
        out_r, out_w = os.pipe()
        err_r, err_w = os.pipe()
        fds.update(o=out_r, e=err_r)
        if stdin:
            in_r, in_w = os.pipe()
            fds["i"] = in_w
    pid = os.fork()
    if pid == 0:
        if tty:
            os.setsid()
            os.login_tty(slave)
        else:
            os.dup2(in_r if stdin else os.open("/dev/null", os.O_RDONLY), 0)
            os.dup2(out_w, 1)
            os.dup2(err_w, 2)
        os.execvp(command[0], command)
    argv = [monitor, "-s", str(listener.fileno()), "-p", str(pid),
            "-x", os.path.join(directory, "exit")]
    for flag, fd in fds.items():
        os.set_inheritable(fd, True)
        argv += [f"-{flag}", str(fd)]
    if tty:
        argv.append("-t")
        os.close(slave)
    else:
        os.close(out_w)
        os.close(err_w)
        if stdin:
            os.close(in_r)
    os.set_inheritable(listener.fileno(), True)
    sys.stdout.write(f"{pid}\n")
    sys.stdout.flush()
    os.execv(monitor, argv + extra)


if __name__ == "__main__":
    main()
