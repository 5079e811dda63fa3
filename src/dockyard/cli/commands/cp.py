"""``cp``: files between a container and the local file system, as docker 28's
cli/command/container/cp.go with moby go-archive's copy rules.

From a container: ``GET /containers/{c}/archive?path=SRC`` (its stat in the
``X-Docker-Container-Path-Stat`` header), then the tar goes to stdout (``-``) or is extracted
at DEST by the rules of PrepareArchiveCopy: into an existing directory as it is; onto an
existing file, or to a new name, with the top entry renamed. To a container: ``HEAD`` the
destination (a symlink is followed once), tar the local source (``-``: a tar read from
stdin), rename its top entry the same way and ``PUT`` it chunked with
``noOverwriteDirNonDir=true``. Without a terminal on stdout the progress line is left out.
"""

from __future__ import annotations

import base64
import json
import os
from typing import IO, Any

from dockyard.cli.flags import Command, Flag, Parsed
from dockyard.cli.session import Session, StatusError

CP = Command("cp", "[OPTIONS] CONTAINER:SRC_PATH DEST_PATH|-\n\tdockyard cp [OPTIONS] "
             "SRC_PATH|- CONTAINER:DEST_PATH",
             "Copy files/folders between a container and the local filesystem", (
                 Flag("archive", "a", help="Archive mode (copy all uid/gid information)"),
                 Flag("follow-link", "L", help="Always follow symbol link in SRC_PATH"),
                 Flag("quiet", "q", help="Suppress progress output during copy. Progress "
                      "output is automatically suppressed if no terminal is attached"),
             ), min_args=2, max_args=2, aliases="dockyard container cp, dockyard cp")
CONTAINER_CP = Command("container cp", CP.usage, CP.short, CP.flags, min_args=2, max_args=2,
                       aliases=CP.aliases)
MODE_DIR = 1 << 31  # Go's os.ModeDir
MODE_SYMLINK = 1 << 27


def split_arg(arg: str) -> tuple[str, str]:
    """splitCpArg: ``container:path``; an absolute or ``.``-led path is local."""
    if arg.startswith("/"):
        return "", arg
    container, colon, path = arg.partition(":")
    if not colon or container.startswith("."):
        return "", arg
    return container, path


def _preserve(cleaned: str, original: str) -> str:
    """PreserveTrailingDotOrSeparator."""
    if os.path.basename(cleaned) != "." and os.path.basename(original) == ".":
        cleaned += ("" if cleaned.endswith("/") else "/") + "."
    if not cleaned.endswith("/") and original.endswith("/"):
        cleaned += "/"
    return cleaned


def split_dir_entry(path: str) -> tuple[str, str]:
    """SplitPathDirEntry: parent and base, keeping a trailing ``.``."""
    cleaned = os.path.normpath(path)
    if os.path.basename(path) == ".":
        cleaned += "/."
    return os.path.dirname(cleaned) or ".", os.path.basename(cleaned)


def _asserts_dir(path: str) -> bool:
    return path.endswith("/") or os.path.basename(path) == "."


def _path_stat(headers: dict[str, str]) -> dict[str, Any]:
    raw = headers.get("x-docker-container-path-stat", "")
    try:
        return dict(json.loads(base64.b64decode(raw))) if raw else {}
    except ValueError:
        return {}


def run_cp(session: Session, command: Command, parsed: Parsed) -> int:
    source, dest = parsed.args
    if not source:
        raise StatusError("source can not be empty")
    if not dest:
        raise StatusError("destination can not be empty")
    quiet = parsed.flag("quiet") if "quiet" in parsed.changed else not \
        session.out_is_terminal()
    src_container, src_path = split_arg(source)
    dst_container, dst_path = split_arg(dest)
    if src_container and dst_container:
        raise StatusError("copying between containers is not supported")
    if src_container:
        return _from_container(session, src_container, src_path, dst_path, quiet)
    if dst_container:
        return _to_container(session, dst_container, src_path, dst_path, quiet=quiet,
                             parsed=parsed)
    raise StatusError("must specify at least one container source")


def _destination(path: str) -> tuple[str, bool, bool]:
    """CopyInfoDestinationPath: (path, exists, is_dir), symlinks followed (at most 10)."""
    for _ in range(11):
        if not os.path.islink(path):
            break
        target = os.readlink(path)
        path = target if target.startswith("/") else os.path.join(split_dir_entry(path)[0],
                                                                   target)
    else:
        raise StatusError(f"too many symlinks in {path}")
    if os.path.lexists(path):
        return path, True, os.path.isdir(path)
    parent = split_dir_entry(path)[0]
    if not os.path.exists(parent):
        raise StatusError(f"stat {parent}: no such file or directory")
    if not os.path.isdir(parent):
        raise StatusError("not a directory")
    return path, False, False


def _from_container(session: Session, container: str, src: str, dst: str,
                    quiet: bool) -> int:
    if dst != "-":
        dst = _preserve(os.path.abspath(dst), dst)
        parent = os.path.dirname(os.path.normpath(dst))
        if parent and not os.path.exists(parent):
            raise StatusError(f'invalid output path: directory "{parent}" does not exist')
    response = session.client().request("GET", f"/containers/{container}/archive",
                                        {"path": src})
    if dst == "-":
        for chunk in response.chunks():
            session.stdout_binary.write(chunk)
        session.stdout_binary.flush()
        return 0
    stat = _path_stat(response.headers)
    src_dir = bool(int(stat.get("mode") or 0) & MODE_DIR)
    from dockyard.cli.commands.cptar import ResponseReader, extract

    path, exists, is_dir = _destination(dst)
    target, rename = _prepare(src, src_dir, "", path, exists=exists, is_dir=is_dir)
    size = extract(ResponseReader(response), target, rename)
    if not quiet:
        from dockyard.cli import units

        session.err.write(f"Successfully copied {units.human_size(size, 3)} to {dst}\n")
    return 0


def _prepare(src: str, src_dir: bool, rebase: str, dst: str, *, exists: bool,
             is_dir: bool) -> tuple[str, tuple[str, str] | None]:
    """PrepareArchiveCopy: the directory to extract into and the (old, new) top name."""
    dst_dir, dst_base = split_dir_entry(dst)
    src_base = rebase or split_dir_entry(src)[1]
    if exists and is_dir:
        return dst, None
    if exists and src_dir:
        raise StatusError("cannot copy directory")
    if not exists and not src_dir and _asserts_dir(dst):
        raise StatusError("no such directory")
    return dst_dir, (src_base, dst_base)


def _stat_container(session: Session, container: str, path: str) -> dict[str, Any] | None:
    from dockyard.client import DaemonError

    try:
        response = session.client().request("HEAD", f"/containers/{container}/archive",
                                            {"path": path})
    except DaemonError:
        return None
    response.read()
    return _path_stat(response.headers)


def _to_container(session: Session, container: str, src: str, dst: str, *, quiet: bool,
                  parsed: Parsed) -> int:
    stat = _stat_container(session, container, dst)
    resolved = dst
    if stat is not None and int(stat.get("mode") or 0) & MODE_SYMLINK:
        target = str(stat.get("linkTarget") or "")
        resolved = target if target.startswith("/") else os.path.join(
            split_dir_entry(dst)[0], target)
        stat = _stat_container(session, container, resolved)
    exists = stat is not None
    is_dir = exists and bool(int((stat or {}).get("mode") or 0) & MODE_DIR)
    query: dict[str, str | list[str]] = {"noOverwriteDirNonDir": "true"}
    if parsed.flag("archive"):
        query["copyUIDGID"] = "true"
    if src == "-":
        if not is_dir:
            raise StatusError(f'destination "{container}:{dst}" must be a directory')
        query["path"] = resolved
        _put(session, container, query, session.stdin)
        return 0
    from dockyard.cli.commands.cptar import pack, source_info

    src = _preserve(os.path.abspath(src), src)
    resolved_src, src_dir, rebase = source_info(src, parsed.flag("follow_link"))
    target, rename = _prepare(resolved_src, src_dir, rebase, resolved, exists=exists,
                              is_dir=is_dir)
    top = rename[1] if rename is not None else rebase or split_dir_entry(resolved_src)[1]
    query["path"] = target
    with pack(resolved_src, top) as (body, size):
        _put(session, container, query, body)
    if not quiet:
        from dockyard.cli import units

        session.err.write(f"Successfully copied {units.human_size(size, 3)} to "
                          f"{container}:{resolved}\n")
    return 0


def _put(session: Session, container: str, query: dict[str, str | list[str]],
         body: IO[bytes]) -> None:
    """PUT the tar, streamed chunked as the Go client sends it."""
    session.client().request("PUT", f"/containers/{container}/archive", query, body=body,
                             headers={"Content-Type": "application/x-tar"}).read()
