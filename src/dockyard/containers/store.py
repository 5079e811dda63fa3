"""Container records on disk, one directory per container under the data root::

    <data-root>/containers/
      <id>/                       0700
        config.v2.json            the record (record.Container), replaced atomically
        hostname, hosts, resolv.conf   bind-mounted into the container
        <id>-json.log[.N]         its logs (json-file), written by its monitor

and the per-boot state under the exec root::

    <exec-root>/containers/<id>/  the OCI bundle: config.json, rootfs/ (the mounted snapshot),
                                  monitor.sock, exit (see containers.monitor)
    <exec-root>/execs/<exec-id>/  an exec's monitor.sock, exit, process.json
    <exec-root>/netns/<id>        the pinned network namespace (containers.netns)

Writes are atomic (a temp file, then rename) and not synced: a record lost to a power cut
belongs to a container whose processes died with the machine anyway, and a record torn
that way is skipped, with a warning, when the daemon starts.

A record is replaced through ``config.v2.json.old`` (:mod:`dockyard.replace`: no rename over
a file, which makes ext4 flush it there and then); a crash in between leaves the old record
as ``.old``, put back when the records are loaded.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import shutil
from pathlib import Path

from dockyard.containers.record import Container
from dockyard.errors import DataCorrupt
from dockyard.replace import OLD_SUFFIX, recover, replace

log = logging.getLogger(__name__)

RECORD = "config.v2.json"
OLD = RECORD + OLD_SUFFIX


class ContainerStore:
    def __init__(self, root: Path) -> None:
        self.root = root
        root.mkdir(mode=0o700, parents=True, exist_ok=True)

    def dir(self, container_id: str) -> Path:
        return self.root / container_id

    def log_path(self, container_id: str) -> Path:
        return self.root / container_id / f"{container_id}-json.log"

    def create_dir(self, container_id: str) -> Path:
        path = self.dir(container_id)
        path.mkdir(mode=0o700)
        return path

    def save(self, container: Container) -> None:
        directory = self.dir(container.id)
        replace(directory / RECORD,
                json.dumps(container.to_json(), separators=(",", ":")).encode(),
                directory / f".{RECORD}.tmp")

    def load_all(self) -> list[Container]:
        """Every readable record; a torn or half-made one is logged and left alone."""
        found = []
        for entry in sorted(self.root.iterdir()):
            path = entry / RECORD
            try:
                recover(path)  # a save cut short
                found.append(Container.from_json(json.loads(path.read_bytes())))
            except FileNotFoundError:
                continue  # see sweep
            except (ValueError, DataCorrupt) as exc:
                log.warning("container record %s is unreadable (%s); ignored", path, exc)
        return found

    def forget(self, container_id: str) -> None:
        """Remove the record: from now on the container does not exist."""
        for name in (OLD, RECORD):  # a crash between the two leaves it whole or gone
            with contextlib.suppress(FileNotFoundError):
                (self.dir(container_id) / name).unlink()

    def delete(self, container_id: str) -> None:
        shutil.rmtree(self.dir(container_id), ignore_errors=True)

    def sweep(self) -> list[str]:
        """Remove the directories that have no record (a removal cut short); their IDs.
        Only the one writer calls this, when no create is under way."""
        removed = []
        for entry in self.root.iterdir():
            if entry.is_dir() and not (entry / RECORD).exists() and \
                    not (entry / OLD).exists():
                shutil.rmtree(entry, ignore_errors=True)
                removed.append(entry.name)
        return removed


def write_atomic(path: Path, data: bytes, mode: int = 0o600) -> None:
    temp = path.with_name(f".{path.name}.tmp")
    fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, mode)
    with os.fdopen(fd, "wb") as out:
        out.write(data)
    os.replace(temp, path)
