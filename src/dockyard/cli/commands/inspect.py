"""``image inspect`` and ``inspect`` (images only for now), as cli/command/inspect does it.

Without ``--format`` the daemon's JSON is re-indented as it came (key order and escapes kept);
``--format json`` compacts it; a template runs over each object. docker runs the template on
its typed Go struct first, so a null list prints ``[]`` and a null map ``map[]``; dockyard
approximates those types by the names of the fields that hold them.
"""

from __future__ import annotations

import json
from typing import Any

from dockyard.cli.flags import Command, Flag, Parsed
from dockyard.cli.session import Session, StatusError

_FORMAT = Flag("format", "f", "string",
               "Format output using a custom template:\n'json': Print in JSON format\n"
               "'TEMPLATE': Print output using the given Go template.")
IMAGE_INSPECT = Command("image inspect", "[OPTIONS] IMAGE [IMAGE...]",
                        "Display detailed information on one or more images", (_FORMAT,),
                        min_args=1)
INSPECT = Command("inspect", "[OPTIONS] NAME|ID [NAME|ID...]",
                  "Return low-level information on Docker objects", (_FORMAT,), min_args=1)

_SLICES = frozenset({"RepoTags", "RepoDigests", "Env", "Cmd", "Entrypoint", "OnBuild", "Shell",
                     "Layers", "Args"})
_MAPS = frozenset({"Labels", "Volumes", "ExposedPorts", "Data", "Options"})


def typed(value: Any, key: str = "") -> Any:
    """Raw JSON with Go's typed nils in place of the nulls of known list and map fields."""
    from dockyard.cli.template import NIL_MAP, NIL_SLICE

    if value is None:
        return NIL_SLICE if key in _SLICES else NIL_MAP if key in _MAPS else None
    if isinstance(value, dict):
        return {k: typed(v, k) for k, v in value.items()}
    if isinstance(value, list):
        return [typed(v) for v in value]
    return value


def _render(fmt: str, raws: list[str], failures: list[str]) -> str:
    """The output for the objects found; template errors are added to ``failures``."""
    from dockyard.cli.jsonfmt import indent

    if not fmt:
        return indent("[" + ",".join(raws) + "]") + "\n" if raws else "[]\n"
    if fmt == "json":
        compact = (json.dumps(json.loads(r), separators=(",", ":"), ensure_ascii=False)
                   for r in raws)
        return "[" + ",".join(compact) + "]\n" if raws else "[]\n"
    from dockyard.cli.template import Template, TemplateError

    try:
        tmpl = Template(fmt)
    except TemplateError as exc:
        raise StatusError(f"template parsing error: {exc}", 64) from exc
    out = []
    for raw in raws:
        try:
            out.append(tmpl.execute(typed(json.loads(raw)), missing_error=True) + "\n")
        except TemplateError as exc:
            failures.append(f"template parsing error: {exc}")
    return "".join(out) or "\n"


def run_inspect(session: Session, command: Command, parsed: Parsed) -> int:
    from dockyard.client import DaemonError, image_path
    from dockyard.errors import NotFound

    raws: list[str] = []
    failures: list[str] = []
    generic = command is INSPECT
    for name in parsed.args:
        try:
            response = session.client().request("GET", image_path(name, "/json"))
            raws.append(response.read().decode().strip())
        except DaemonError as exc:
            if generic and isinstance(exc, NotFound):
                failures.append(f"Error: No such object: {name}")
            else:
                failures.append(f"Error response from daemon: {exc}")
    session.out.write(_render(parsed.string("format"), raws, failures))
    if failures:
        raise StatusError("\n".join(failures))
    return 0
