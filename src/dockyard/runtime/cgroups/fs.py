"""Reading, writing and removing cgroup files; a missing control file is a warning."""

from __future__ import annotations

import errno
import os
import time

from dockyard.errors import Conflict, SystemCallError
from dockyard.runtime.log import debug, warning


def warn(message: str) -> None:
    warning(__name__, "%s", message)


def write(directory: str, name: str, value: str, warnings: list[str]) -> bool:
    """Writes ``value`` to ``directory/name``; False (and a warning) when the file is missing."""
    path = os.path.join(directory, name)
    debug(__name__, "cgroup write %s = %r", path, value)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_TRUNC | os.O_CLOEXEC)
    except FileNotFoundError:
        if not os.path.isdir(directory):
            raise SystemCallError("open", errno.ENOENT, directory) from None
        message = f"cgroup: {path} does not exist: {name} not applied"
        warn(message)
        warnings.append(message)
        return False
    except OSError as exc:
        raise SystemCallError("open", exc.errno or errno.EIO, path) from exc
    try:
        os.write(fd, value.encode())
    except OSError as exc:
        raise SystemCallError("write", exc.errno or errno.EIO, f"{value!r} to {path}") from exc
    finally:
        os.close(fd)
    return True


def read(directory: str, name: str) -> str:
    path = os.path.join(directory, name)
    try:
        with open(path, encoding="utf-8") as file:
            return file.read()
    except OSError as exc:
        raise SystemCallError("read", exc.errno or errno.EIO, path) from exc


def read_pids(directory: str) -> list[int]:
    return [int(line) for line in read(directory, "cgroup.procs").split()]


def make_dirs(path: str, created: list[str]) -> None:
    """mkdir -p, appending every directory it made to ``created`` (for a rollback)."""
    missing = []
    current = path
    while not os.path.isdir(current):
        missing.append(current)
        current = os.path.dirname(current)
    for directory in reversed(missing):
        try:
            os.mkdir(directory, 0o755)
        except FileExistsError:
            continue
        except OSError as exc:
            raise SystemCallError("mkdir", exc.errno or errno.EIO, directory) from exc
        created.append(directory)


def remove(path: str) -> None:
    """rmdir ``path`` after its child cgroups; retries EBUSY a few times (as runc does)."""
    try:  # mostly a leaf: no need to list its control files first
        os.rmdir(path)
        return
    except FileNotFoundError:
        return
    except OSError as exc:
        if exc.errno not in (errno.EBUSY, errno.ENOTEMPTY):
            raise SystemCallError("rmdir", exc.errno or errno.EIO, path) from exc
    try:
        children = [entry.path for entry in os.scandir(path) if entry.is_dir(follow_symlinks=False)]
    except FileNotFoundError:
        return
    except OSError as exc:
        raise SystemCallError("scandir", exc.errno or errno.EIO, path) from exc
    for child in children:
        remove(child)
    delay = 0.01
    for attempt in range(6):
        try:
            os.rmdir(path)
            return
        except FileNotFoundError:
            return
        except OSError as exc:
            if exc.errno != errno.EBUSY or attempt == 5:
                if exc.errno == errno.EBUSY:
                    raise Conflict(f"cgroup {path}: still in use after retries") from exc
                raise SystemCallError("rmdir", exc.errno or errno.EIO, path) from exc
            time.sleep(delay)
            delay *= 2


def wait_for(directory: str, name: str, wanted: str, timeout: float = 5.0) -> bool:
    """Polls ``directory/name`` until a line equals ``wanted``; False on timeout."""
    deadline = time.monotonic() + timeout
    delay = 0.001
    while time.monotonic() < deadline:
        if wanted in read(directory, name).splitlines():
            return True
        time.sleep(delay)
        delay = min(delay * 2, 0.05)
    return False
