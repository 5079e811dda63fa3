"""``volume create``, ``volume ls``, ``volume inspect``, ``volume rm`` and ``volume prune``.

Each follows docker 28's cli/command/volume at API 1.41: the same requests, the default formats
and headers of formatter/volume.go, names sorted naturally (``v2`` before ``v10``), the same
messages and exit statuses. Cluster (swarm) volume flags are left out: they need API 1.42.
"""

from __future__ import annotations

from functools import cmp_to_key
from typing import Any

from dockyard.cli import formatter, units
from dockyard.cli.commands.images import FORMAT, parse_filters
from dockyard.cli.commands.inspect import INSPECT_FORMAT
from dockyard.cli.flags import Command, Flag, Parsed, UsageError
from dockyard.cli.session import Session, StatusError
from dockyard.cli.template import Struct

VOLUME_TABLE = "table {{.Driver}}\t{{.Name}}"
VOLUME_QUIET = "{{.Name}}"
VOLUME_RAW = "name: {{.Name}}\\ndriver: {{.Driver}}\\n"
VOLUME_RAW_QUIET = "name: {{.Name}}"
VOLUME_HEADER = {
    "ID": "ID", "Name": "VOLUME NAME", "Group": "GROUP", "Driver": "DRIVER", "Scope": "SCOPE",
    "Availability": "AVAILABILITY", "Mountpoint": "MOUNTPOINT", "Labels": "LABELS",
    "Links": "LINKS", "Size": "SIZE", "Status": "STATUS",
}

CREATE = Command("volume create", "[OPTIONS] [VOLUME]", "Create a volume", (
    Flag("driver", "d", "string", "Specify volume driver name", default="local"),
    Flag("label", "", "list", "Set metadata for a volume"),
    Flag("name", "", "string", "Specify volume name"),
    Flag("opt", "o", "list", "Set driver specific options", metavar="map"),
), max_args=1)


def _label(value: str, command: Command) -> str:
    """opts.ValidateLabel: a label needs a name."""
    if not value.partition("=")[0].strip():
        raise UsageError(
            f'invalid argument "{value}" for "--label" flag: invalid label \'{value}\': empty '
            f"name\n\nUsage:  {command.use_line()}\n\n"
            f"Run '{command.command_path} --help' for more information", 125)
    return value


def _pairs(values: list[str]) -> dict[str, str]:
    """opts.MapOpts / ConvertKVStringsToMap: ``k=v``, or ``k`` for an empty value."""
    result: dict[str, str] = {}
    for value in values:
        key, _, item = value.partition("=")
        result[key] = item
    return result


def run_create(session: Session, command: Command, parsed: Parsed) -> int:
    name = parsed.string("name")
    if parsed.args:
        if name:
            raise StatusError("conflicting options: cannot specify a volume-name through both "
                              "--name and as a positional arg")
        name = parsed.args[0]
    body: dict[str, Any] = {"Driver": parsed.string("driver")}
    options = _pairs(parsed.strings("opt"))
    if options:
        body["DriverOpts"] = options
    labels = _pairs([_label(v, command) for v in parsed.strings("label")])
    if labels:
        body["Labels"] = labels
    body["Name"] = name
    volume = session.client().call("POST", "/volumes/create", json_body=body) or {}
    session.out.write(f"{volume.get('Name', name)}\n")
    return 0


LIST_FLAGS = (
    Flag("filter", "f", "list", 'Provide filter values (e.g. "dangling=true")', metavar="filter"),
    FORMAT,
    Flag("quiet", "q", help="Only display volume names"),
)
LS = Command("volume ls", "[OPTIONS]", "List volumes", LIST_FLAGS, max_args=0,
             aliases="dockyard volume ls, dockyard volume list")


def natural_less(a: str, b: str) -> bool:
    """sortorder.NaturalLess: digit runs compare as numbers and sort before other bytes."""
    x, y = a.encode(), b.encode()
    i = j = 0
    while i < len(x) and j < len(y):
        dx, dy = x[i:i + 1].isdigit(), y[j:j + 1].isdigit()
        if dx != dy:
            return dx
        if not dx:
            if x[i] != y[j]:
                return x[i] < y[j]
            i, j = i + 1, j + 1
            continue
        while i < len(x) and x[i:i + 1] == b"0":
            i += 1
        while j < len(y) and y[j:j + 1] == b"0":
            j += 1
        start_x, start_y = i, j
        while i < len(x) and x[i:i + 1].isdigit():
            i += 1
        while j < len(y) and y[j:j + 1].isdigit():
            j += 1
        if i - start_x != j - start_y:
            return i - start_x < j - start_y
        if x[start_x:i] != y[start_y:j]:
            return x[start_x:i] < y[start_y:j]
        if start_x != start_y:
            return start_x < start_y
    return len(x) < len(y)


def _natural_cmp(a: dict[str, Any], b: dict[str, Any]) -> int:
    left, right = str(a.get("Name", "")), str(b.get("Name", ""))
    return -1 if natural_less(left, right) else 1 if natural_less(right, left) else 0


def volume_row(volume: dict[str, Any]) -> Struct:
    """formatter.volumeContext (labels joined in sorted order; Go's map order is random)."""
    labels = volume.get("Labels")
    usage = volume.get("UsageData")
    return Struct("*formatter.volumeContext", {
        "Name": str(volume.get("Name", "")), "Driver": str(volume.get("Driver", "")),
        "Scope": str(volume.get("Scope", "")), "Mountpoint": str(volume.get("Mountpoint", "")),
        "Labels": ",".join(f"{k}={v}" for k, v in sorted(labels.items())) if labels else "",
        "Links": "N/A" if usage is None else str(usage.get("RefCount", 0)),
        "Size": "N/A" if usage is None else units.human_size(usage.get("Size", 0)),
        "Group": "N/A", "Availability": "N/A", "Status": "N/A",
    })


def volume_format(source: str, quiet: bool) -> str:
    """formatter.NewVolumeFormat."""
    if source == "table":
        return VOLUME_QUIET if quiet else VOLUME_TABLE
    if source == "raw":
        return VOLUME_RAW_QUIET if quiet else VOLUME_RAW
    return source


def run_ls(session: Session, command: Command, parsed: Parsed) -> int:
    from dockyard.client import encode_filters

    filters = parse_filters(parsed.strings("filter"), command)
    query = {"filters": encode_filters(filters)} if filters else None
    listed = session.client().get("/volumes", query) or {}
    volumes = sorted(listed.get("Volumes") or [], key=cmp_to_key(_natural_cmp))
    fmt = volume_format(parsed.string("format") or "table", parsed.flag("quiet"))
    session.out.write(formatter.render(fmt, [volume_row(v) for v in volumes], VOLUME_HEADER))
    return 0


INSPECT = Command("volume inspect", "[OPTIONS] VOLUME [VOLUME...]",
                  "Display detailed information on one or more volumes", (INSPECT_FORMAT,),
                  min_args=1)


def run_inspect(session: Session, command: Command, parsed: Parsed) -> int:
    from dockyard.cli.commands.inspect import inspect_objects

    return inspect_objects(session, parsed, "/volumes/{}")


RM = Command("volume rm", "[OPTIONS] VOLUME [VOLUME...]", "Remove one or more volumes", (
    Flag("force", "f", help="Force the removal of one or more volumes"),
), min_args=1, aliases="dockyard volume rm, dockyard volume remove")


def run_rm(session: Session, command: Command, parsed: Parsed) -> int:
    from dockyard.cli.commands.containers import each

    query = {"force": "1"} if parsed.flag("force") else None
    return each(session, parsed.args,
                lambda name: session.client().call("DELETE", f"/volumes/{name}", query))


PRUNE = Command("volume prune", "[OPTIONS]", "Remove unused local volumes", (
    Flag("all", "a", help="Remove all unused volumes, not just anonymous ones"),
    Flag("filter", "", "list", 'Provide filter values (e.g. "label=<label>")', metavar="filter"),
    Flag("force", "f", help="Do not prompt for confirmation"),
), max_args=0)
# Below API 1.42 the daemon removes named volumes too, and docker 28 warns so.
PRUNE_WARNING = ("WARNING! This will remove all local volumes not used by at least one "
                 "container.\nAre you sure you want to continue?")


def run_prune(session: Session, command: Command, parsed: Parsed) -> int:
    from dockyard.cli.commands.prune import Pruning, prune
    from dockyard.client import MAX_API_VERSION

    if parsed.flag("all"):
        raise StatusError(f'"--all" requires API version 1.42, but the Docker daemon API '
                          f"version is {MAX_API_VERSION}")
    return prune(session, command, parsed, Pruning(
        "/volumes/prune", "VolumesDeleted", "Deleted Volumes", PRUNE_WARNING))
