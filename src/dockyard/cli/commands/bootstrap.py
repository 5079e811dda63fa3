"""``bootstrap busybox`` and ``bootstrap debian``: base images without a registry.

Both build a root filesystem tar on this host and send it through the Engine API exactly as
``docker import`` would (``POST /images/create?fromSrc=-`` with a chunked body and
``changes``), so the daemon needs nothing special for them. An import stamps the current time
into the image, so the same tar imported twice makes two images: when the tag already names an
image of exactly this tar (its one layer's digest) and configuration, nothing is imported and
its ID is printed, as ``docker pull`` leaves an up-to-date image (what was built on it keeps
its cache).

* busybox: Debian's busybox-static binary, every applet linked (cli/rootfs.py).
* debian: ``mmdebstrap --variant=minbase --format=tar``; the ``slim`` variant adds the
  debuerreotype slimify excludes (bench/make-debian-slim.sh does the same in bash).
  SOURCE_DATE_EPOCH is passed on: mmdebstrap then writes a tar sorted by name with mtimes
  clamped to it, so the same epoch and package set give the same layer digest.
"""

from __future__ import annotations

import os
import subprocess
import tempfile
from typing import IO, Any

from dockyard.cli.flags import Command, Flag, Parsed
from dockyard.cli.session import Session, StatusError

DEBIAN_PATH = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
SLIM_EXCLUDES = (
    "path-exclude=/usr/share/doc/*",
    "path-include=/usr/share/doc/*/copyright",
    "path-exclude=/usr/share/groff/*",
    "path-exclude=/usr/share/info/*",
    "path-exclude=/usr/share/linda/*",
    "path-exclude=/usr/share/lintian/overrides/*",
    "path-exclude=/usr/share/locale/*",
    "path-exclude=/usr/share/man/*",
)
HOST_SOURCES = "/etc/apt/sources.list.d/debian.sources"

BUSYBOX = Command("bootstrap busybox", "[OPTIONS]",
                  "Import a busybox image built from the host's busybox-static", (
                      Flag("binary", "", "string", "The static busybox binary",
                           default="/bin/busybox"),
                      Flag("tag", "t", "string", "Name and tag of the image",
                           default="busybox:latest"),
                  ), max_args=0)
DEBIAN = Command("bootstrap debian", "[OPTIONS]", "Import a Debian image built with mmdebstrap", (
    Flag("mirror", "", "string", "Apt sources: a deb822 file or a mirror URL "
         f"(default: {HOST_SOURCES} if present)"),
    Flag("suite", "", "string", "Debian suite", default="bookworm"),
    Flag("tag", "t", "string", "Name and tag of the image (default debian:SUITE-slim)"),
    Flag("variant", "", "string", "slim (minbase without docs, man pages, locales) or minbase",
         default="slim"),
), max_args=0)


def source_date_epoch(environ: dict[str, str]) -> int:
    value = environ.get("SOURCE_DATE_EPOCH", "")
    if not value:
        return 0
    if not value.isdigit():
        raise StatusError(f"SOURCE_DATE_EPOCH must be a number of seconds, not {value!r}")
    return int(value)


def _import(session: Session, tar: IO[bytes], tag: str, changes: list[str],
            config: dict[str, Any]) -> None:
    """Import the (seekable) tar as ``docker import - TAG`` does, unless the tag names an image
    of this very tar whose Config has ``config``'s values; print the image's ID either way."""
    import hashlib

    digest = hashlib.sha256()
    while chunk := tar.read(1 << 20):
        digest.update(chunk)
    tar.seek(0)
    current = _inspect(session, tag)
    if current is not None and _same(current, f"sha256:{digest.hexdigest()}", config):
        session.out.write(f"{current['Id']}\n")
        session.err.write(f"{tag} is up to date\n")
        return
    _upload(session, tar, tag, changes)


def _inspect(session: Session, tag: str) -> dict[str, Any] | None:
    from dockyard.errors import NotFound

    try:
        found = session.client().get(f"/images/{tag}/json")
    except NotFound:
        return None
    return found if isinstance(found, dict) else None


def _same(image: dict[str, Any], layer: str, config: dict[str, Any]) -> bool:
    """The image is the tar (one layer of that digest) with ``config`` in its Config."""
    rootfs, present = image.get("RootFS") or {}, image.get("Config") or {}
    return rootfs.get("Layers") == [layer] and all(
        present.get(key) == value for key, value in config.items())


def _upload(session: Session, body: IO[bytes], tag: str, changes: list[str]) -> None:
    """POST the tar as ``docker import - TAG`` does and print the daemon's messages."""
    from dockyard.cli.jsonfmt import display_messages
    from dockyard.client.engine import decode_lines

    repo, _, version = tag.rpartition(":") if ":" in tag.rpartition("/")[2] else (tag, "", "")
    query: dict[str, str | list[str]] = {"fromSrc": "-", "repo": repo, "changes": changes}
    if version:
        query["tag"] = version
    response = session.client().upload("/images/create", query, body)
    display_messages(decode_lines(response), session.out)


def run_busybox(session: Session, command: Command, parsed: Parsed) -> int:
    from dockyard.cli.rootfs import busybox_tar

    binary_path = parsed.string("binary")
    try:
        with open(binary_path, "rb") as f:
            binary = f.read()
        listing = subprocess.run([binary_path, "--list-full"], check=True, capture_output=True,
                                 text=True).stdout
    except (OSError, subprocess.CalledProcessError) as exc:
        raise StatusError(f"bootstrap busybox: cannot use {binary_path}: {exc} "
                          "(install busybox-static)") from exc
    epoch = source_date_epoch(session.environ)
    with tempfile.TemporaryFile() as tar:
        busybox_tar(binary, listing.splitlines(), tar, epoch)
        tar.seek(0)
        _import(session, tar, parsed.string("tag"), ['CMD ["sh"]'], {"Cmd": ["sh"], "Env": None})
    return 0


def mmdebstrap_argv(suite: str, variant: str, mirror: str) -> list[str]:
    if variant not in ("slim", "minbase"):
        raise StatusError(f"unknown variant {variant!r}: expected slim or minbase")
    argv = ["mmdebstrap", "--quiet", "--variant=minbase", "--format=tar"]
    if variant == "slim":
        argv += [f"--dpkgopt={option}" for option in SLIM_EXCLUDES]
    argv += [suite, "-"]
    if mirror:
        argv.append(mirror)
    elif os.path.exists(HOST_SOURCES):
        argv.append(HOST_SOURCES)
    return argv


def run_debian(session: Session, command: Command, parsed: Parsed) -> int:
    suite, variant = parsed.string("suite"), parsed.string("variant")
    argv = mmdebstrap_argv(suite, variant, parsed.string("mirror"))
    tag = parsed.string("tag") or (f"debian:{suite}-slim" if variant == "slim"
                                   else f"debian:{suite}")
    env = dict(os.environ)
    if "SOURCE_DATE_EPOCH" in session.environ:
        env["SOURCE_DATE_EPOCH"] = str(source_date_epoch(session.environ))
    session.err.write(f"running {' '.join(argv)}\n")
    try:
        proc = subprocess.Popen(argv, stdout=subprocess.PIPE, env=env)
    except OSError as exc:
        raise StatusError(f"bootstrap debian: cannot run mmdebstrap: {exc} "
                          "(install mmdebstrap)") from exc
    assert proc.stdout is not None
    with tempfile.TemporaryFile() as tar:  # whole before the import: it may not be needed
        try:
            while chunk := proc.stdout.read(1 << 20):
                tar.write(chunk)
        finally:
            proc.stdout.close()
            code = proc.wait()
        if code != 0:
            raise StatusError(f"bootstrap debian: mmdebstrap exited with status {code}")
        tar.seek(0)
        _import(session, tar, tag, [f"ENV {DEBIAN_PATH}", 'CMD ["bash"]'],
                {"Cmd": ["bash"], "Env": [DEBIAN_PATH]})
    return 0
