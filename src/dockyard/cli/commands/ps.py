"""``ps`` / ``container ls``: docker 28's cli/command/container/list.go and
formatter/container.go (columns, truncation, quoting, port groups, sizes).

The query is the Go client's: ``all=1``, ``limit=N`` (``-l`` is ``limit=1``), ``size=1`` (also
when a ``--format`` uses ``.Size``), ``filters`` in the map form.
"""

from __future__ import annotations

from dockyard.cli import formatter, units
from dockyard.cli.commands.images import FORMAT, parse_filters, truncate_id
from dockyard.cli.flags import Command, Flag, Parsed
from dockyard.cli.session import Session
from dockyard.cli.template import Struct

TYPE_CHECKING = False  # typing's import costs the CLI's start a few ms
if TYPE_CHECKING:
    from typing import Any

TABLE = ("table {{.ID}}\t{{.Image}}\t{{.Command}}\t{{.RunningFor}}\t{{.Status}}\t{{.Ports}}"
         "\t{{.Names}}")
RAW = ("container_id: {{.ID}}\nimage: {{.Image}}\ncommand: {{.Command}}\n"
       "created_at: {{.CreatedAt}}\nstate: {{- pad .State 1 0}}\n"
       "status: {{- pad .Status 1 0}}\nnames: {{.Names}}\nlabels: {{- pad .Labels 1 0}}\n"
       "ports: {{- pad .Ports 1 0}}\n")
HEADER = {"ID": "CONTAINER ID", "Names": "NAMES", "Image": "IMAGE", "Command": "COMMAND",
          "CreatedAt": "CREATED AT", "RunningFor": "CREATED", "Ports": "PORTS",
          "State": "STATE", "Status": "STATUS", "Size": "SIZE", "Labels": "LABELS",
          "Mounts": "MOUNTS", "LocalVolumes": "LOCAL VOLUMES", "Networks": "NETWORKS",
          "Platform": "PLATFORM"}
FLAGS = (
    Flag("all", "a", help="Show all containers (default shows just running)"),
    Flag("filter", "f", "list", "Filter output based on conditions provided", metavar="filter"),
    FORMAT,
    Flag("last", "n", "int", "Show n last created containers (includes all states)",
         default=-1),
    Flag("latest", "l", help="Show the latest created container (includes all states)"),
    Flag("no-trunc", "", help="Don't truncate output"),
    Flag("quiet", "q", help="Only display container IDs"),
    Flag("size", "s", help="Display total file sizes"),
)
ALIASES = ("dockyard container ls, dockyard container list, dockyard container ps, "
           "dockyard ps")
PS = Command("ps", "[OPTIONS]", "List containers", FLAGS, max_args=0, aliases=ALIASES)
CONTAINER_LS = Command("container ls", "[OPTIONS]", "List containers", FLAGS, max_args=0,
                       aliases=ALIASES)
_ESCAPES = {"\a": "\\a", "\b": "\\b", "\f": "\\f", "\n": "\\n", "\r": "\\r", "\t": "\\t",
            "\v": "\\v", "\\": "\\\\", '"': '\\"'}


def go_quote(text: str) -> str:
    """strconv.Quote: Go's escapes, printable runes as they are."""
    out = []
    for ch in text:
        if ch in _ESCAPES:
            out.append(_ESCAPES[ch])
        elif ch.isprintable():
            out.append(ch)
        elif ord(ch) < 0x100:
            out.append(f"\\x{ord(ch):02x}")
        elif ord(ch) < 0x10000:
            out.append(f"\\u{ord(ch):04x}")
        else:
            out.append(f"\\U{ord(ch):08x}")
    return '"' + "".join(out) + '"'


def _names(names: list[str], trunc: bool) -> str:
    stripped = [n[1:] for n in names]
    if trunc:
        for name in stripped:
            if "/" not in name:
                stripped = [name]
                break
    return ",".join(stripped)


def _image(summary: dict[str, Any], trunc: bool) -> str:
    image = str(summary.get("Image") or "")
    if not image:
        return "<no image>"
    if trunc:
        short = truncate_id(str(summary.get("ImageID") or ""))
        if short == truncate_id(image):
            return short
        return familiar(image)
    return image


def familiar(image: str) -> str:
    """reference.FamiliarString of the name, with its tag but not its digest (what ps shows;
    without importing the reference parser): ``docker.io/library/busybox:1`` -> ``busybox:1``.
    A name the parser would refuse is shown as it is."""
    name = image.partition("@")[0]
    tag = ""
    if name.rfind(":") > name.rfind("/"):
        name, _, tag = name.rpartition(":")
    first, slash, rest = name.partition("/")
    if slash and ("." in first or ":" in first or first == "localhost" or
                  first != first.lower()):
        domain, path = first, rest
    else:
        domain, path = "docker.io", name
    if not path or path != path.lower() or not name:
        return image
    if domain in ("docker.io", "index.docker.io"):
        if path.startswith("library/") and path.count("/") == 1:
            path = path.removeprefix("library/")
        return path + (f":{tag}" if tag else "")
    return f"{domain}/{path}" + (f":{tag}" if tag else "")


def display_ports(ports: list[dict[str, Any]]) -> str:
    """formatter.DisplayablePorts: consecutive ports grouped, host mappings last."""
    ordered = sorted(ports, key=lambda p: (p.get("PrivatePort", 0), p.get("IP", ""),
                                           p.get("PublicPort", 0), p.get("Type", "")))
    groups: dict[str, list[int]] = {}
    result: list[str] = []
    mappings: list[str] = []
    for port in ordered:
        current, key = int(port.get("PrivatePort", 0)), str(port.get("Type", ""))
        ip = str(port.get("IP") or "")
        if ip:
            public = int(port.get("PublicPort", 0))
            if public != current:
                mappings.append(f"{_join_host(ip, str(public))}->{current}/{key}")
                continue
            key = f"{ip}/{key}"
        group = groups.get(key)
        if group is None:
            groups[key] = [current, current]
        elif current == group[1] + 1:
            group[1] = current
        else:
            result.append(_group(key, *group))
            groups[key] = [current, current]
    result += [_group(key, *group) for key, group in groups.items()]
    return ", ".join(result + mappings)


def _join_host(ip: str, port: str) -> str:
    return f"[{ip}]:{port}" if ":" in ip else f"{ip}:{port}"


def _group(key: str, first: int, last: int) -> str:
    ip, _, kind = key.rpartition("/")
    group = str(first) if first == last else f"{first}-{last}"
    if ip:
        group = f"{_join_host(ip, group)}->{group}"
    return f"{group}/{kind}"


def container_row(summary: dict[str, Any], trunc: bool, now: float) -> Struct:
    created = int(summary.get("Created") or 0)
    labels = summary.get("Labels") or {}
    mounts = summary.get("Mounts") or []
    command = str(summary.get("Command") or "")
    size_rw, size_root = int(summary.get("SizeRw") or 0), int(summary.get("SizeRootFs") or 0)
    networks = ((summary.get("NetworkSettings") or {}).get("Networks") or {})
    cid = str(summary.get("Id") or "")
    return Struct("*formatter.ContainerContext", {
        "ID": truncate_id(cid) if trunc else cid,
        "Names": _names(list(summary.get("Names") or []), trunc),
        "Image": _image(summary, trunc),
        "Command": go_quote(formatter.ellipsis(command, 20) if trunc else command),
        "CreatedAt": lambda: units.go_time_string(created),
        "RunningFor": lambda: units.since(created, now),
        "Ports": lambda: display_ports(list(summary.get("Ports") or [])),
        "State": str(summary.get("State") or ""), "Status": str(summary.get("Status") or ""),
        "Size": lambda: units.human_size(size_rw, 3) + (
            f" (virtual {units.human_size(size_root, 3)})" if size_root > 0 else ""),
        "Labels": ",".join(sorted(f"{k}={v}" for k, v in labels.items())),
        "Mounts": ",".join(formatter.ellipsis(str(m.get("Name") or m.get("Source") or ""), 15)
                           if trunc else str(m.get("Name") or m.get("Source") or "")
                           for m in mounts),
        "LocalVolumes": str(sum(1 for m in mounts if m.get("Driver") == "local")),
        "Networks": ",".join(networks), "Platform": None,
    })


def ps_format(source: str, quiet: bool, size: bool) -> str:
    """formatter.NewContainerFormat."""
    if source in ("", "table"):
        return "{{.ID}}" if quiet else TABLE + ("\t{{.Size}}" if size else "")
    if source == "raw":
        return "container_id: {{.ID}}" if quiet else RAW + ("size: {{.Size}}\\n" if size else "")
    return "{{.ID}}" if quiet else source


def run_ps(session: Session, command: Command, parsed: Parsed) -> int:
    from dockyard.client import encode_filters

    fmt, quiet = parsed.string("format"), parsed.flag("quiet")
    if fmt and quiet:
        session.err.write("WARNING: Ignoring custom format, because both --format and --quiet "
                          "are set.\n")
    size = parsed.flag("size")
    if fmt:
        formatter.parse(fmt)  # a bad template fails before the request
        if not quiet and not size and "size" not in parsed.changed and ".Size" in fmt:
            size = True
    limit = parsed.values["last"]
    assert isinstance(limit, int)
    if parsed.flag("latest") and limit == -1:
        limit = 1
    query: dict[str, str | list[str]] = {}
    if parsed.flag("all"):
        query["all"] = "1"
    if limit > 0:
        query["limit"] = str(limit)
    if size:
        query["size"] = "1"
    filters = parse_filters(parsed.strings("filter"), command)
    if filters:
        query["filters"] = encode_filters(filters)
    listed = session.client().get("/containers/json", query) or []
    trunc = not parsed.flag("no_trunc")
    rows = [container_row(c, trunc, session.now()) for c in listed]
    session.out.write(formatter.render(ps_format(fmt, quiet, size), rows, HEADER))
    return 0
