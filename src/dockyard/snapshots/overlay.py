"""The overlayfs snapshotter (containerd's overlay plugin): a snapshot's ``fs`` dir is its upper
dir while active and the layer itself once committed; parents are stacked as lower dirs.

On disk (drawn in full in :mod:`dockyard.snapshots.directory`)::

    <root>/metadata.db
    <root>/snapshots/<id>/fs       upper dir; the committed layer, with overlay whiteouts
    <root>/snapshots/<id>/work     overlayfs work dir, while active (deleted on commit)
    <root>/overlay-probe-<random>/ lives only while :func:`supported` runs

Mounts, as containerd returns them:

=========================  =======================================================
active, no parent          bind rw of its fs
view, no parent            bind ro of its (empty) fs
view of one layer          bind ro of the parent's fs
active with parents        overlay workdir=,upperdir=,lowerdir=parent:grandparent...
view with several layers   overlay ro, lowerdir only
=========================  =======================================================

Options beyond those are added only where the kernel needs them: ``index=off``,
``redirect_dir=off`` and ``metacopy=off`` when the overlay module enables that feature by default
(a committed layer must stay a self-contained diff with plain whiteouts, and a lower dir is shared
by many uppers). ``userxattr`` is for rootless overlay only, which dockyard does not do.

Limit: mount(2) takes at most one page (4096 bytes) of options, so the lowerdir list bounds the
depth of a chain to about 4000 / (len(root) + 20) layers: about 90 for a 25-character root; the
127 Docker allows need a root of 12 characters or fewer. A deeper chain raises Unsupported from
prepare/view/mounts rather than failing at mount time. The fix would be short relative paths
mounted from a chdir (moby's ``l/`` links) or the fsconfig ``lowerdir+`` API (Linux 6.8).
"""

from __future__ import annotations

import logging
import os
import shutil
import stat
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from dockyard.errors import DockyardError, InvalidArgument, Unsupported
from dockyard.mount import Mount
from dockyard.snapshots import Kind, WhiteoutStyle
from dockyard.snapshots.directory import DirectorySnapshotter
from dockyard.snapshots.metadata import Record
from dockyard.sys import MNT_DETACH, Syscalls

log = logging.getLogger(__name__)

PARAMETERS = Path("/sys/module/overlay/parameters")
MAX_OPTIONS_BYTES = 4095  # one page, less the NUL (mount(2): data is at most PAGE_SIZE)
_PROBE = "overlay-probe-"
_UNSAFE_IN_ROOT = (",", ":", "\\")  # they split or escape overlay's option values


@dataclass(frozen=True, slots=True)
class OverlaySupport:
    """The answer of :func:`supported`: usable or not (and why), and the options to add."""

    ok: bool
    options: tuple[str, ...] = ()
    reason: str = ""

    def __bool__(self) -> bool:
        return self.ok


def kernel_options(parameters: Path = PARAMETERS) -> tuple[str, ...]:
    """``<feature>=off`` for each overlay feature the module turns on by default that would make
    a layer depend on its lower dirs or its work dir (index, redirect_dir, metacopy)."""
    options = []
    for name in ("index", "redirect_dir", "metacopy"):
        try:
            value = (parameters / name).read_text().strip()
        except OSError:
            continue
        if value in ("Y", "1", "on"):
            options.append(f"{name}=off")
    return tuple(options)


def supported(root: Path, syscalls: Syscalls, parameters: Path = PARAMETERS) -> OverlaySupport:
    """Whether overlayfs works on ``root``'s filesystem: mount a tiny overlay there, delete a lower
    file through it, and check that the kernel left a whiteout and hides the file (that fails
    without d_type). The daemon keeps the answer and falls back to the native snapshotter."""
    root = root.absolute()
    if any(c in str(root) for c in _UNSAFE_IN_ROOT):
        return OverlaySupport(False, reason=f"overlay root {root} holds one of , : \\")
    root.mkdir(mode=0o700, parents=True, exist_ok=True)
    for stale in root.glob(_PROBE + "*"):
        shutil.rmtree(stale, ignore_errors=True)
    options = kernel_options(parameters)
    for _ in range(2):
        reason = _probe(root, syscalls, options)
        if reason:
            log.info("overlayfs is not usable on %s: %s", root, reason)
            return OverlaySupport(False, options, reason)
        # The probe may have loaded the module, and with it its defaults: look again.
        again = kernel_options(parameters)
        if again == options:
            return OverlaySupport(True, options)
        options = again
    return OverlaySupport(False, options, "overlay module parameters keep changing")


def _probe(root: Path, syscalls: Syscalls, options: tuple[str, ...]) -> str:
    """The reason overlay fails on ``root`` with ``options``, or "" when it works."""
    probe = Path(tempfile.mkdtemp(prefix=_PROBE, dir=root))
    try:
        lower, upper, work, merged = (probe / n for n in ("lower", "upper", "work", "merged"))
        for path in (lower, upper, work, merged):
            path.mkdir()
        (lower / "gone").write_bytes(b"")
        data = ",".join((f"lowerdir={lower}", f"upperdir={upper}", f"workdir={work}", *options))
        syscalls.mount("overlay", str(merged), "overlay", 0, data)
        try:
            (merged / "gone").unlink()
            listing = os.listdir(merged)
        finally:
            syscalls.umount(str(merged), MNT_DETACH)
        whiteout = os.lstat(upper / "gone")
        if not (stat.S_ISCHR(whiteout.st_mode) and whiteout.st_rdev == 0):
            return f"deleting a lower file left no whiteout in {upper}"
        if listing:
            return f"a whiteout does not hide a lower file (no d_type on {root}?): {listing}"
        return ""
    except (DockyardError, OSError) as exc:
        return str(exc)
    finally:
        shutil.rmtree(probe, ignore_errors=True)


class OverlaySnapshotter(DirectorySnapshotter):
    """Snapshots as overlayfs layers under ``root``. Raises Unsupported where overlay fails;
    pass the daemon's :func:`supported` answer as ``support`` to skip probing again."""

    def __init__(
        self,
        root: Path,
        syscalls: Syscalls,
        *,
        support: OverlaySupport | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if any(c in str(root.absolute()) for c in _UNSAFE_IN_ROOT):
            raise InvalidArgument(f"overlay snapshotter root {root} holds one of , : \\")
        support = support if support is not None else supported(root, syscalls)
        if not support:
            raise Unsupported(f"overlayfs does not work on {root}: {support.reason}")
        self._options = support.options
        super().__init__(root, syscalls, clock=clock)

    @property
    def whiteout_style(self) -> WhiteoutStyle:
        return "overlay"

    def _populate(self, kind: Kind, new: Path, parent_fs: Path | None) -> None:
        fs = new / "fs"
        fs.mkdir()
        if kind is Kind.ACTIVE:
            (new / "work").mkdir()
            os.chmod(new / "work", 0o711)
        if kind is Kind.ACTIVE and parent_fs is not None:
            # The merged root takes the upper dir's owner and mode: keep the parent's.
            st = os.stat(parent_fs)
            os.chown(fs, st.st_uid, st.st_gid)
            os.chmod(fs, stat.S_IMODE(st.st_mode))
        else:
            os.chmod(fs, 0o755)

    def _seal(self, snapshot_dir: Path) -> None:
        # The work dir holds overlay's private state (and the inode its whiteouts are linked to).
        shutil.rmtree(snapshot_dir / "work", ignore_errors=True)

    def _mounts(self, record: Record) -> list[Mount]:
        kind = record.info.kind
        parents = [str(self.fs_dir(i)) for i in record.parent_ids]
        if not parents:
            return [_bind(str(self.fs_dir(record.id)), readonly=kind is Kind.VIEW)]
        if kind is Kind.VIEW and len(parents) == 1:
            return [_bind(parents[0], readonly=True)]
        if kind is Kind.ACTIVE:
            fs, work = self.fs_dir(record.id), self.fs_dir(record.id).with_name("work")
            options = [f"workdir={work}", f"upperdir={fs}"]
        else:
            options = ["ro"]
        options.append("lowerdir=" + ":".join(parents))
        options.extend(self._options)
        data = ",".join(o for o in options if o != "ro")
        if len(data.encode()) > MAX_OPTIONS_BYTES:
            raise Unsupported(
                f"snapshot {record.info.name!r}: {len(parents)} layers need {len(data)} bytes of"
                f" overlay options, over the {MAX_OPTIONS_BYTES} mount(2) takes (root {self.root})"
            )
        return [Mount("overlay", "overlay", tuple(options))]


def _bind(source: str, *, readonly: bool) -> Mount:
    return Mount("bind", source, ("ro" if readonly else "rw", "rbind"))
