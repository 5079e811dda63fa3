"""The image store under one data root: content, leases, snapshots and image records together.

The daemon opens one :class:`DataRoot` and is then its only writer. ``python -m dockyard.store``
drives the same objects without a daemon, for the demonstration, the bench and recovery::

    <data-root>/
      .lock                     flock held by the one writer
      content/                  blobs and ingests   (dockyard.content.store)
      leases/                   leases              (dockyard.content.leases)
      snapshots/overlayfs/      or snapshots/native (dockyard.snapshots)
      images/index.json         image records       (dockyard.images.store)
"""

from __future__ import annotations

import argparse
import fcntl
import logging
import os
import sys
import time
from collections.abc import Callable
from contextlib import suppress
from pathlib import Path
from typing import IO, BinaryIO

from dockyard.content.leases import LeaseStore
from dockyard.content.store import ContentStore
from dockyard.errors import Conflict, DockyardError, InvalidArgument, NotFound
from dockyard.gc import Collector, Report, Roots
from dockyard.images.importer import DANGLING_PREFIX, Importer, ImportResult
from dockyard.images.store import ImageStore
from dockyard.oci.config import ImageConfig
from dockyard.oci.identity import chain_ids
from dockyard.oci.manifest import Manifest
from dockyard.oci.reference import parse_docker_reference
from dockyard.snapshots import Snapshotter
from dockyard.snapshots.native import NativeSnapshotter
from dockyard.snapshots.overlay import OverlaySnapshotter, supported
from dockyard.sys import Syscalls

log = logging.getLogger(__name__)

SNAPSHOTTERS = ("overlayfs", "native")
DEFAULT_ROOT = Path("/var/lib/dockyard")


def open_snapshotter(root: Path, name: str, syscalls: Syscalls) -> tuple[str, Snapshotter]:
    """``name`` is "overlayfs", "native" or "auto" (overlayfs where the kernel allows it)."""
    support = None
    if name == "auto":
        support = supported(root / "snapshots" / "overlayfs", syscalls)
        name = "overlayfs" if support else "native"
    if name == "overlayfs":  # the probe mounts: "auto" ran it already
        return name, OverlaySnapshotter(root / "snapshots" / "overlayfs", syscalls, support=support)
    if name == "native":
        return name, NativeSnapshotter(root / "snapshots" / "native", syscalls)
    raise InvalidArgument(f"unknown snapshotter {name!r}: want one of {', '.join(SNAPSHOTTERS)}")


class DataRoot:
    """All stores of one data root, opened and wired explicitly."""

    def __init__(
        self,
        root: Path,
        syscalls: Syscalls,
        *,
        snapshotter: str = "auto",
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.root = root
        self.syscalls = syscalls
        root.mkdir(mode=0o700, parents=True, exist_ok=True)
        self._lockfile: IO[str] | None = None
        self.content = ContentStore(root / "content", clock=clock)
        self.leases = LeaseStore(root / "leases", clock=clock)
        self.snapshotter_name, self.snapshotter = open_snapshotter(root, snapshotter, syscalls)
        self.images = ImageStore(root / "images", clock=clock)
        self.importer = Importer(
            self.content, self.leases, self.snapshotter, self.snapshotter_name, self.images,
            clock=clock, syscalls=syscalls,
        )
        self.collector = Collector(
            self.content, self.leases, self.snapshotter, self.snapshotter_name, self.images,
            clock=clock,
        )

    def lock(self) -> None:
        """Become the data root's one writer, or fail naming the root."""
        lockfile = open(self.root / ".lock", "a")  # noqa: SIM115 - held until close()
        try:
            fcntl.flock(lockfile, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError as exc:
            lockfile.close()
            raise Conflict(f"data root {self.root} is in use by another process") from exc
        self._lockfile = lockfile

    def recover(self) -> None:
        """Make the root consistent after a crash: drop temp files, leases of dead writers, and
        the half-extracted snapshots they held. Received blobs and ingests stay for reuse."""
        self.content.recover()
        self.leases.recover()
        self.images.recover()
        self.snapshotter.cleanup()
        for lease in self.leases.leases():
            pid = lease.labels.get("dockyard/pid", "")
            if pid.isdigit() and not _alive(int(pid)):
                log.info("dropping lease %s of dead process %s", lease.id, pid)
                self.leases.delete(lease.id)
        held = {r.id for r in self.leases.resources()}
        for info in self.snapshotter.walk():
            if "dockyard/extract" in info.labels and info.name not in held:
                log.info("removing half-extracted snapshot %s", info.name)
                self.snapshotter.remove(info.name)

    def gc(self, roots: Roots | None = None) -> Report:
        return self.collector.collect(roots or Roots())

    def import_rootfs(self, stream: BinaryIO, name: str | None) -> ImportResult:
        fq = parse_docker_reference(name).with_default_tag().fully_qualified() if name else None
        return self.importer.import_rootfs(stream, fq)

    def close(self) -> None:
        close = getattr(self.snapshotter, "close", None)
        if close is not None:
            close()
        if self._lockfile is not None:
            self._lockfile.close()
            self._lockfile = None


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _list(root: DataRoot, out: IO[str]) -> None:
    out.write(f"{'REPOSITORY':<40} {'TAG':<16} {'IMAGE ID':<14} {'SIZE':>10}\n")
    for record in root.images.records():
        manifest = Manifest.from_json(root.content.read_bytes(record.target.digest))
        config = ImageConfig.from_json(root.content.read_bytes(manifest.config.digest))
        size = sum(root.snapshotter.usage(str(c)).size for c in _chains(config))
        if record.name.startswith(DANGLING_PREFIX):
            repo, tag = "<none>", "<none>"
        else:
            ref = parse_docker_reference(record.name)
            repo, tag = ref.familiar_name(), ref.tag or "<none>"
        out.write(f"{repo:<40} {tag:<16} {manifest.config.digest.short:<14} {size:>10}\n")


def _chains(config: ImageConfig) -> list[str]:
    return [str(c) for c in chain_ids(config.diff_ids)]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m dockyard.store", description=__doc__)
    parser.add_argument("--root", type=Path, default=DEFAULT_ROOT, help="data root")
    parser.add_argument("--snapshotter", default="auto", choices=("auto", *SNAPSHOTTERS))
    parser.add_argument("--debug", action="store_true")
    verbs = parser.add_subparsers(dest="verb", required=True)
    imp = verbs.add_parser("import", help="import a rootfs tar (file or - for stdin)")
    imp.add_argument("tar")
    imp.add_argument("name", nargs="?")
    verbs.add_parser("ls", help="list images")
    rm = verbs.add_parser("rm", help="remove image names")
    rm.add_argument("names", nargs="+")
    verbs.add_parser("gc", help="remove everything no image or lease references")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.debug else logging.WARNING)
    from dockyard.sys import real

    try:
        root = DataRoot(args.root, real(), snapshotter=args.snapshotter)
        try:
            root.lock()
            root.recover()
            return _run(root, args)
        finally:
            root.close()
    except DockyardError as exc:
        print(f"Error: {exc}", file=sys.stderr)
        return exc.exit_code


def _run(root: DataRoot, args: argparse.Namespace) -> int:
    if args.verb == "import":
        if args.tar == "-":
            result = root.import_rootfs(sys.stdin.buffer, args.name)
        else:
            try:
                with open(args.tar, "rb") as stream:
                    result = root.import_rootfs(stream, args.name)
            except FileNotFoundError as exc:
                raise NotFound(f"no such file: {args.tar}") from exc
        print(result.image_id)
    elif args.verb == "ls":
        _list(root, sys.stdout)
    elif args.verb == "rm":
        for name in args.names:
            fq = parse_docker_reference(name).with_default_tag().fully_qualified()
            root.images.delete(fq)
            print(f"Untagged: {name}")
    elif args.verb == "gc":
        report = root.gc()
        print(f"removed {len(report.blobs)} blobs, {len(report.snapshots)} snapshots, "
              f"{report.bytes_freed} bytes")
    return 0


if __name__ == "__main__":
    with suppress(KeyboardInterrupt):
        sys.exit(main())
