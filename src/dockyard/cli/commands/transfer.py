"""``save``, ``load`` and ``import``: image tars streamed to and from the daemon.

Bodies are never held in memory: ``save`` copies the response chunk by chunk into the output
(a temp file renamed into place for ``-o``, as docker's atomicwriter does), ``load`` and
``import`` send the file or stdin chunked as the Go client does.
"""

from __future__ import annotations

import os
from typing import BinaryIO

from dockyard.cli.flags import Command, Flag, Parsed
from dockyard.cli.session import Session, StatusError

SAVE_ALIASES = "dockyard image save, dockyard save"
_SAVE_FLAGS = (Flag("output", "o", "string", "Write to a file, instead of STDOUT"),)
_SAVE_SHORT = "Save one or more images to a tar archive (streamed to STDOUT by default)"
SAVE = Command("save", "[OPTIONS] IMAGE [IMAGE...]", _SAVE_SHORT, _SAVE_FLAGS, min_args=1,
               aliases=SAVE_ALIASES)
IMAGE_SAVE = Command("image save", "[OPTIONS] IMAGE [IMAGE...]", _SAVE_SHORT, _SAVE_FLAGS,
                     min_args=1, aliases=SAVE_ALIASES)


def run_save(session: Session, command: Command, parsed: Parsed) -> int:
    output = parsed.string("output")
    client = session.client()
    query: dict[str, str | list[str]] = {"names": parsed.args}
    if not output:
        if session.out_is_terminal():
            raise StatusError("cowardly refusing to save to a terminal. "
                              "Use the -o flag or redirect")
        client.download("/images/get", query, session.stdout_binary)
        session.stdout_binary.flush()
        return 0
    directory = os.path.dirname(os.path.abspath(output))
    partial = os.path.join(directory, f".{os.path.basename(output)}.{os.getpid()}.partial")
    try:
        with open(partial, "wb") as out:
            os.fchmod(out.fileno(), 0o600)
            client.download("/images/get", query, out)
        os.replace(partial, output)
    except OSError as exc:
        raise StatusError(f"failed to save image: {exc}") from exc
    finally:
        if os.path.exists(partial):
            os.unlink(partial)
    return 0


LOAD_ALIASES = "dockyard image load, dockyard load"
_LOAD_FLAGS = (Flag("input", "i", "string", "Read from tar archive file, instead of STDIN"),
               Flag("quiet", "q", help="Suppress the load output"))
LOAD = Command("load", "[OPTIONS]", "Load an image from a tar archive or STDIN", _LOAD_FLAGS,
               max_args=0, aliases=LOAD_ALIASES)
IMAGE_LOAD = Command("image load", "[OPTIONS]", "Load an image from a tar archive or STDIN",
                     _LOAD_FLAGS, max_args=0, aliases=LOAD_ALIASES)


def _open_input(path: str) -> BinaryIO:
    try:
        return open(path, "rb")
    except OSError as exc:
        raise StatusError(f"open {path}: {exc.strerror.lower() if exc.strerror else exc}") \
            from exc


def run_load(session: Session, command: Command, parsed: Parsed) -> int:
    from dockyard.cli.jsonfmt import display_messages

    path = parsed.string("input")
    if not path and session.in_is_terminal():
        raise StatusError("requested load from stdin, but stdin is empty")
    quiet = parsed.flag("quiet") or not session.out_is_terminal()
    source = _open_input(path) if path else session.stdin
    try:
        response = session.client().upload("/images/load", {"quiet": "1" if quiet else "0"},
                                           source)
    finally:
        if path:
            source.close()
    if "application/json" in response.headers.get("content-type", ""):
        from dockyard.client.engine import decode_lines

        display_messages(decode_lines(response), session.out)
    else:
        for chunk in response.chunks():
            session.out.write(chunk.decode(errors="replace"))
    return 0


IMPORT_ALIASES = "dockyard image import, dockyard import"
_IMPORT_FLAGS = (
    Flag("change", "c", "list", "Apply Dockerfile instruction to the created image"),
    Flag("message", "m", "string", "Set commit message for imported image"),
    Flag("platform", "", "string", "Set platform if server is multi-platform capable"),
)
_IMPORT_SHORT = "Import the contents from a tarball to create a filesystem image"
IMPORT = Command("import", "[OPTIONS] file|URL|- [REPOSITORY[:TAG]]", _IMPORT_SHORT,
                 _IMPORT_FLAGS, min_args=1, max_args=2, aliases=IMPORT_ALIASES)
IMAGE_IMPORT = Command("image import", "[OPTIONS] file|URL|- [REPOSITORY[:TAG]]", _IMPORT_SHORT,
                       _IMPORT_FLAGS, min_args=1, max_args=2, aliases=IMPORT_ALIASES)


def import_query(reference: str, changes: list[str], message: str, platform: str,
                 source: str = "-") -> dict[str, str | list[str]]:
    """The query of POST /images/create?fromSrc= (client/image_import.go): the reference
    is checked, then sent as given in ``repo``."""
    from dockyard.oci.reference import parse_reference

    query: dict[str, str | list[str]] = {"fromSrc": source}
    if reference:
        parse_reference(reference)
        query["repo"] = reference
    if message:
        query["message"] = message
    if platform:
        query["platform"] = platform.lower()
    if changes:
        query["changes"] = changes
    return query


def run_import(session: Session, command: Command, parsed: Parsed) -> int:
    from dockyard.cli.jsonfmt import display_messages
    from dockyard.client.engine import decode_lines
    from dockyard.errors import InvalidArgument

    source = parsed.args[0]
    reference = parsed.args[1] if len(parsed.args) > 1 else ""
    try:
        query = import_query(reference, parsed.strings("change"), parsed.string("message"),
                             parsed.string("platform"),
                             source if source.startswith(("http://", "https://")) else "-")
    except InvalidArgument as exc:
        raise StatusError(str(exc)) from exc
    client = session.client()
    if query["fromSrc"] != "-":
        response = client.request("POST", "/images/create", query)
    elif source == "-":
        response = client.upload("/images/create", query, session.stdin)
    else:
        with _open_input(source) as body:
            response = client.upload("/images/create", query, body)
    display_messages(decode_lines(response), session.out)
    return 0
