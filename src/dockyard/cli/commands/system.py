"""``version``, ``info`` and ``system df``, laid out as docker 28 prints them.

``version`` runs docker's own default template (cli/command/system/version.go) through the
tabwriter (minwidth 20, padding 1); the client half names Python instead of Go. ``info``
prints the server half in prettyPrintServerInfo's order. ``system df`` is formatter/disk_usage.go.
"""

from __future__ import annotations

import os
import sys

from dockyard.cli import formatter, units
from dockyard.cli.flags import Command, Flag, Parsed
from dockyard.cli.session import Session, StatusError
from dockyard.cli.template import Struct

TYPE_CHECKING = False  # typing's import costs the CLI's start a few ms
if TYPE_CHECKING:
    from typing import Any

VERSION_TEMPLATE = """{{with .Client -}}
Client:
 Version:\t{{.Version}}
 API version:\t{{.APIVersion}}
{{- if ne .APIVersion .DefaultAPIVersion}} (downgraded from {{.DefaultAPIVersion}}){{end}}
 Python version:\t{{.PythonVersion}}
 OS/Arch:\t{{.Os}}/{{.Arch}}
{{- end}}

{{- if ne .Server nil}}{{with .Server}}

Server:{{if ne .Platform.Name ""}} {{.Platform.Name}}{{end}}
 {{- range $component := .Components}}
 {{$component.Name}}:
  {{- if eq $component.Name "Engine" }}
  Version:\t{{.Version}}
  API version:\t{{index .Details "ApiVersion"}} (minimum version {{index .Details "MinAPIVersion"}})
  Go version:\t{{index .Details "GoVersion"}}
  Git commit:\t{{index .Details "GitCommit"}}
  Built:\t{{index .Details "BuildTime"}}
  OS/Arch:\t{{index .Details "Os"}}/{{index .Details "Arch"}}
  Experimental:\t{{index .Details "Experimental"}}
  {{- else }}
  Version:\t{{$component.Version}}
  {{- $detailsOrder := getDetailsOrder $component}}
  {{- range $key := $detailsOrder}}
  {{$key}}:\t{{index $component.Details $key}}
   {{- end}}
  {{- end}}
 {{- end}}
 {{- end}}{{- end}}"""

VERSION = Command("version", "[OPTIONS]", "Show the dockyard version information", (
    Flag("format", "f", "string", "Format output using a custom template"),), max_args=0)
INFO = Command("info", "[OPTIONS]", "Display system-wide information", (
    Flag("format", "f", "string", "Format output using a custom template"),), max_args=0)
SYSTEM_INFO = Command("system info", "[OPTIONS]", "Display system-wide information",
                      INFO.flags, max_args=0)


def _arch() -> str:
    machine = os.uname().machine
    return {"x86_64": "amd64", "aarch64": "arm64", "armv7l": "arm", "i686": "386"}.get(
        machine, machine)


def client_version(api_version: str) -> Struct:
    from dockyard import __version__
    from dockyard.client import MAX_API_VERSION

    return Struct("system.clientVersion", {
        "Version": __version__, "APIVersion": api_version or MAX_API_VERSION,
        "DefaultAPIVersion": MAX_API_VERSION,
        "PythonVersion": ".".join(str(p) for p in sys.version_info[:3]),
        "Os": sys.platform, "Arch": _arch,
    }, escape_html=False)


def _server_version(raw: dict[str, Any]) -> dict[str, Any]:
    """The /version answer with BuildTime in ANSI C form and an Engine component ensured."""
    server = dict(raw)
    server.setdefault("Platform", {"Name": ""})
    components = [dict(c) for c in server.get("Components") or []]
    for component in components:
        details = dict(component.get("Details") or {})
        if component.get("Name") == "Engine" and "BuildTime" in details:
            details["BuildTime"] = units.ansic(str(details["BuildTime"]))
        component["Details"] = details
    if not any(c.get("Name") == "Engine" for c in components):
        components.append({"Name": "Engine", "Version": server.get("Version", ""), "Details": {
            "ApiVersion": server.get("ApiVersion", ""),
            "MinAPIVersion": server.get("MinAPIVersion", ""),
            "GitCommit": server.get("GitCommit", ""), "GoVersion": server.get("GoVersion", ""),
            "Os": server.get("Os", ""), "Arch": server.get("Arch", ""),
            "BuildTime": units.ansic(str(server.get("BuildTime", ""))),
            "Experimental": "true" if server.get("Experimental") else "false"}})
    server["Components"] = components
    return server


def run_version(session: Session, command: Command, parsed: Parsed) -> int:
    from dockyard.cli.tabwriter import TabWriter
    from dockyard.cli.template import Template, TemplateError
    from dockyard.cli.template.exec import JSONStruct
    from dockyard.client import DaemonError
    from dockyard.errors import DockyardError

    fmt = parsed.string("format")
    text = VERSION_TEMPLATE if not fmt else "{{json .}}" if fmt == "json" else fmt
    order = {"getDetailsOrder": lambda c: sorted((c.get("Details") or {}).keys())}
    try:
        tmpl = Template(text, name="version", funcs=order)
    except TemplateError as exc:
        raise StatusError(f"template parsing error: {exc}", 64) from exc
    failure: Exception | None = None
    server = None
    client = session.client()
    try:
        server = _server_version(client.get("/version") or {})
    except DockyardError as exc:
        failure = exc
    api_version = "" if failure else client.api_version
    # types.Version's Go field for the JSON key "ApiVersion" is APIVersion.
    server_view = None if server is None else JSONStruct(
        "types.Version", server, {"APIVersion": "ApiVersion"})
    data = {"Client": client_version(api_version), "Server": server_view}
    writer = TabWriter(20, 1, 1)
    try:
        writer.write(tmpl.execute(data))
    except TemplateError as exc:
        failure = failure or StatusError(f"template parsing error: {exc}")
    writer.write("\n")
    session.out.write(writer.flush())
    if failure is not None:
        prefix = "Error response from daemon: " if isinstance(failure, DaemonError) else ""
        raise StatusError(prefix + str(failure))
    return 0


def _line(out: list[str], label: str, value: Any, skip_empty: bool = False) -> None:
    if skip_empty and (value is None or value == ""):
        return
    if isinstance(value, bool):
        value = "true" if value else "false"
    out.append(f"{label} {'' if value is None else value}\n")


def _security_options(options: list[str]) -> list[str]:
    lines = []
    for option in options:
        fields = dict(f.partition("=")[::2] for f in option.split(","))
        lines.append(f"  {fields.get('name', option)}\n")
        if "profile" in fields:
            lines.append(f"   Profile: {fields['profile']}\n")
    return lines


def server_info_lines(info: dict[str, Any]) -> list[str]:
    """prettyPrintServerInfo's lines, in its order, for the fields a daemon answers."""
    out: list[str] = []
    for label, key in ((" Containers:", "Containers"), ("  Running:", "ContainersRunning"),
                       ("  Paused:", "ContainersPaused"), ("  Stopped:", "ContainersStopped"),
                       (" Images:", "Images")):
        _line(out, label, info.get(key, 0))
    _line(out, " Server Version:", info.get("ServerVersion"), True)
    _line(out, " Storage Driver:", info.get("Driver"), True)
    out += [f"  {k}: {v}\n" for k, v in info.get("DriverStatus") or []]
    out += [f" {k}: {v}\n" for k, v in info.get("SystemStatus") or []]
    for label, key in ((" Logging Driver:", "LoggingDriver"), (" Cgroup Driver:", "CgroupDriver"),
                       (" Cgroup Version:", "CgroupVersion")):
        _line(out, label, info.get(key), True)
    plugins = info.get("Plugins") or {}
    out.append(" Plugins:\n")
    _line(out, "  Volume:", " ".join(plugins.get("Volume") or []))
    _line(out, "  Network:", " ".join(plugins.get("Network") or []))
    if plugins.get("Authorization"):
        _line(out, "  Authorization:", " ".join(plugins["Authorization"]))
    _line(out, "  Log:", " ".join(plugins.get("Log") or []))
    _line(out, " Swarm:", (info.get("Swarm") or {}).get("LocalNodeState", ""))
    if info.get("Runtimes"):
        _line(out, " Runtimes:", " ".join(info["Runtimes"]))
        _line(out, " Default Runtime:", info.get("DefaultRuntime", ""))
    if info.get("OSType") == "linux":
        _line(out, " Init Binary:", info.get("InitBinary", ""))
        for label, key in ((" containerd version:", "ContainerdCommit"),
                           (" runc version:", "RuncCommit"), (" init version:", "InitCommit")):
            _line(out, label, (info.get(key) or {}).get("ID", ""))
        if info.get("SecurityOptions"):
            out.append(" Security Options:\n")
            out += _security_options(info["SecurityOptions"])
    return out + _host_lines(info)


def _host_lines(info: dict[str, Any]) -> list[str]:
    """The second half of prettyPrintServerInfo: kernel, OS, resources, registries."""
    out: list[str] = []
    for label, key in ((" Kernel Version:", "KernelVersion"),
                       (" Operating System:", "OperatingSystem"), (" OSType:", "OSType"),
                       (" Architecture:", "Architecture")):
        _line(out, label, info.get(key), True)
    _line(out, " CPUs:", info.get("NCPU", 0))
    _line(out, " Total Memory:", units.bytes_size(info.get("MemTotal") or 0))
    _line(out, " Name:", info.get("Name"), True)
    _line(out, " ID:", info.get("ID"), True)
    _line(out, " Docker Root Dir:", info.get("DockerRootDir", ""))
    _line(out, " Debug Mode:", bool(info.get("Debug")))
    if info.get("Debug"):
        for label, key in (("  File Descriptors:", "NFd"), ("  Goroutines:", "NGoroutines"),
                           ("  System Time:", "SystemTime"),
                           ("  EventsListeners:", "NEventsListener")):
            _line(out, label, info.get(key, 0))
    for label, key in ((" HTTP Proxy:", "HttpProxy"), (" HTTPS Proxy:", "HttpsProxy"),
                       (" No Proxy:", "NoProxy")):
        _line(out, label, info.get(key), True)
    if info.get("Labels"):
        out.append(" Labels:\n")
        out += [f"  {label}\n" for label in info["Labels"]]
    _line(out, " Experimental:", bool(info.get("ExperimentalBuild")))
    registry = info.get("RegistryConfig") or {}
    cidrs = registry.get("InsecureRegistryCIDRs") or []
    indexes = registry.get("IndexConfigs") or {}
    if cidrs or indexes:
        out.append(" Insecure Registries:\n")
        out += [f"  {c['Name']}\n" for c in indexes.values() if not c.get("Secure")]
        out += [f"  {cidr}\n" for cidr in cidrs]
    if registry.get("Mirrors"):
        out.append(" Registry Mirrors:\n")
        out += [f"  {m}\n" for m in registry["Mirrors"]]
    _line(out, " Live Restore Enabled:", bool(info.get("LiveRestoreEnabled")))
    out.append("\n")
    return out


def run_info(session: Session, command: Command, parsed: Parsed) -> int:
    from dockyard import __version__
    from dockyard.client import DaemonError
    from dockyard.errors import DockyardError

    fmt = parsed.string("format")
    try:
        info = session.client().get("/info") or {}
    except DockyardError as exc:
        if fmt:
            raise
        session.out.write(f"Client:\n Version:    {__version__}\n Debug Mode: false\n\nServer:\n")
        prefix = "Error response from daemon: " if isinstance(exc, DaemonError) else ""
        raise StatusError(prefix + str(exc)) from exc
    if fmt:
        from dockyard.cli.template import Template, TemplateError

        try:
            text = "{{json .}}" if fmt == "json" else fmt
            session.out.write(Template(text).execute(info) + "\n")
        except TemplateError as exc:
            raise StatusError(f"template parsing error: {exc}", 64) from exc
        return 0
    session.out.write(f"Client:\n Version:    {__version__}\n Debug Mode: false\n\nServer:\n")
    session.out.write("".join(server_info_lines(info)))
    for warning in info.get("Warnings") or []:
        session.err.write(f"{warning}\n")
    return 0


DF = Command("system df", "[OPTIONS]", "Show dockyard disk usage", (
    Flag("format", "", "string", "Format output using a custom template"),
    Flag("verbose", "v", help="Show detailed information on space usage"),
), max_args=0)
DF_TABLE = "table {{.Type}}\t{{.TotalCount}}\t{{.Active}}\t{{.Size}}\t{{.Reclaimable}}"
DF_HEADER = {"Type": "TYPE", "TotalCount": "TOTAL", "Active": "ACTIVE", "Size": "SIZE",
             "Reclaimable": "RECLAIMABLE"}


def _reclaimable(reclaimable: int, total: int) -> str:
    if total > 0:
        return f"{units.human_size(reclaimable)} ({reclaimable * 100 // total}%)"
    return units.human_size(reclaimable)


def df_rows(du: dict[str, Any]) -> list[Struct]:
    """The four summary rows of formatter/disk_usage.go."""
    images = du.get("Images") or []
    containers = du.get("Containers") or []
    volumes = du.get("Volumes") or []
    cache = du.get("BuildCache") or []
    layers = int(du.get("LayersSize") or 0)
    used = sum(int(i.get("Size", 0)) - int(i.get("SharedSize", 0)) for i in images
               if i.get("Containers") and i.get("Size") != -1 and i.get("SharedSize") != -1)
    active_states = ("running", "paused", "restarting")
    c_total = sum(int(c.get("SizeRw") or 0) for c in containers)
    c_free = sum(int(c.get("SizeRw") or 0) for c in containers
                 if c.get("State") not in active_states)
    sized = [v.get("UsageData") or {} for v in volumes]
    v_total = sum(int(u.get("Size", 0)) for u in sized if u.get("Size", -1) != -1)
    v_free = sum(int(u.get("Size", 0)) for u in sized
                 if u.get("Size", -1) != -1 and not u.get("RefCount"))
    builder = sum(int(b.get("Size") or 0) for b in cache if not b.get("Shared"))
    in_use = sum(int(b.get("Size") or 0) for b in cache if b.get("InUse") and not b.get("Shared"))

    def row(kind: str, total: int, active: int, size: str, reclaimable: str) -> Struct:
        return Struct("*formatter.diskUsageContext", {
            "Type": kind, "TotalCount": str(total), "Active": str(active), "Size": size,
            "Reclaimable": reclaimable})

    return [
        row("Images", len(images), sum(1 for i in images if (i.get("Containers") or 0) > 0),
            units.human_size(layers), _reclaimable(layers - used, layers)),
        row("Containers", len(containers),
            sum(1 for c in containers if c.get("State") in active_states),
            units.human_size(c_total), _reclaimable(c_free, c_total)),
        row("Local Volumes", len(volumes), sum(1 for u in sized if (u.get("RefCount") or 0) > 0),
            units.human_size(v_total), _reclaimable(v_free, v_total)),
        row("Build Cache", len(cache), sum(1 for b in cache if b.get("InUse")),
            units.human_size(builder), units.human_size(builder - in_use)),
    ]


def run_df(session: Session, command: Command, parsed: Parsed) -> int:
    du = session.client().get("/system/df") or {}
    if parsed.flag("verbose"):
        from dockyard.cli.commands.df_verbose import render_verbose

        session.out.write(render_verbose(du, parsed.string("format") or "table", session.now()))
        return 0
    fmt = parsed.string("format") or "table"
    session.out.write(formatter.render(DF_TABLE if fmt == "table" else fmt, df_rows(du),
                                       DF_HEADER))
    return 0
