"""``inspect``, ``image inspect`` and ``container inspect``, as cli/command/inspect does it.

``inspect`` looks a name up as docker's does: a container, then an image, a network, a volume.

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

#: --format as every inspect command has it (also volume and network inspect)
INSPECT_FORMAT = Flag("format", "f", "string",
                      "Format output using a custom template:\n'json': Print in JSON format\n"
                      "'TEMPLATE': Print output using the given Go template.")
IMAGE_INSPECT = Command("image inspect", "[OPTIONS] IMAGE [IMAGE...]",
                        "Display detailed information on one or more images", (INSPECT_FORMAT,),
                        min_args=1)
INSPECT = Command("inspect", "[OPTIONS] NAME|ID [NAME|ID...]",
                  "Return low-level information on Docker objects", (
                      INSPECT_FORMAT,
                      Flag("size", "s", help="Display total file sizes if the type is "
                           "container"),
                      Flag("type", "", "string", "Only inspect objects of the given type"),
                  ), min_args=1)
CONTAINER_INSPECT = Command("container inspect", "[OPTIONS] CONTAINER [CONTAINER...]",
                            "Display detailed information on one or more containers", (
                                INSPECT_FORMAT,
                                Flag("size", "s", help="Display total file sizes"),
                            ), min_args=1)
# what ``inspect`` tries, in docker's order (swarm objects and plugins left out)
_KINDS = ("container", "image", "network", "volume")
_TYPES = ("config", "container", "image", "network", "node", "plugin", "secret", "service",
          "task", "volume")

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


def render(fmt: str, raws: list[str], failures: list[str]) -> str:
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


def _path(kind: str, name: str, size: bool) -> tuple[str, dict[str, str | list[str]] | None]:
    from dockyard.client import image_path

    if kind == "image":
        return image_path(name, "/json"), None
    if kind == "container":
        return f"/containers/{name}/json", {"size": "1"} if size else None
    return f"/{kind}s/{name}", None


def _find(session: Session, name: str, kinds: tuple[str, ...], size: bool) -> str | None:
    """The raw JSON of the first object of ``kinds`` named ``name``; None if there is none.
    A daemon error other than not-found (or an unsupported call) is raised."""
    from dockyard.client import DaemonError
    from dockyard.errors import NotFound

    for kind in kinds:
        path, query = _path(kind, name, size)
        try:
            raw = session.client().request("GET", path, query).read().decode().strip()
        except DaemonError as exc:
            if len(kinds) > 1 and (isinstance(exc, NotFound) or "not supported" in str(exc)
                                   or "invalid reference format" in str(exc)):
                continue
            raise
        if size and kind != "container":
            session.err.write(f"WARNING: --size ignored for {kind}\n")
        return raw
    return None


def run_inspect(session: Session, command: Command, parsed: Parsed) -> int:
    from dockyard.client import DaemonError

    kinds: tuple[str, ...] = ("image",) if command is IMAGE_INSPECT else ("container",)
    if command is INSPECT:
        wanted = parsed.string("type")
        if "type" in parsed.changed and not wanted:
            raise StatusError('type is empty: must be one of "' + '", "'.join(_TYPES) + '"')
        if wanted and wanted not in _TYPES:
            raise StatusError(f'unknown type: "{wanted}": must be one of "'
                              + '", "'.join(_TYPES) + '"')
        kinds = (wanted,) if wanted else _KINDS
    size = "size" in parsed.values and parsed.flag("size")
    raws: list[str] = []
    failures: list[str] = []
    for name in parsed.args:
        try:
            raw = _find(session, name, kinds, size)
        except DaemonError as exc:
            failures.append(f"Error response from daemon: {exc}")
            continue
        if raw is None:
            failures.append(f"Error: No such object: {name}")
        else:
            raws.append(raw)
    session.out.write(render(parsed.string("format"), raws, failures))
    if failures:
        raise StatusError("\n".join(failures))
    return 0


def inspect_objects(session: Session, parsed: Parsed, path: str) -> int:
    """``volume inspect`` / ``network inspect``: GET ``path`` (with ``{}`` for each name given),
    print the JSON list or the ``--format`` output, and fail with the daemon's errors at the end,
    as docker does."""
    from dockyard.client import DaemonError

    raws: list[str] = []
    failures: list[str] = []
    for name in parsed.args:
        try:
            raws.append(session.client().request("GET", path.format(name)).read().decode()
                        .strip())
        except DaemonError as exc:
            failures.append(f"Error response from daemon: {exc}")
    session.out.write(render(parsed.string("format"), raws, failures))
    if failures:
        raise StatusError("\n".join(failures))
    return 0
