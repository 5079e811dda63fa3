"""``network create|ls|inspect|rm|prune|connect|disconnect``.

Each follows docker 28's cli/command/network at API 1.41: the same
requests, the default formats and headers of formatter/network.go, networks sorted naturally by
name, the same messages and exit statuses. Swarm-only flags (``--scope``, ``--ingress``,
``--config-from``) are accepted and sent as docker sends them.
"""

from __future__ import annotations

from datetime import datetime
from functools import cmp_to_key
from typing import Any

from dockyard.cli import formatter
from dockyard.cli.commands.images import FORMAT, parse_filters
from dockyard.cli.commands.inspect import INSPECT_FORMAT
from dockyard.cli.commands.volumes import _label, _pairs, natural_less
from dockyard.cli.flags import Command, Flag, Parsed
from dockyard.cli.session import Session, StatusError
from dockyard.cli.template import Struct

NETWORK_TABLE = "table {{.ID}}\t{{.Name}}\t{{.Driver}}\t{{.Scope}}"
NETWORK_HEADER = {
    "ID": "NETWORK ID", "Name": "NAME", "Driver": "DRIVER", "Scope": "SCOPE", "IPv4": "IPV4",
    "IPv6": "IPV6", "Internal": "INTERNAL", "Labels": "LABELS", "CreatedAt": "CREATED AT",
}

CREATE = Command("network create", "[OPTIONS] NETWORK", "Create a network", (
    Flag("attachable", help="Enable manual container attachment"),
    Flag("aux-address", "", "list", "Auxiliary IPv4 or IPv6 addresses used by Network driver",
         metavar="map"),
    Flag("config-from", "", "string", "The network from which to copy the configuration"),
    Flag("config-only", help="Create a configuration only network"),
    Flag("driver", "d", "string", "Driver to manage the Network", default="bridge"),
    Flag("gateway", "", "list", "IPv4 or IPv6 Gateway for the master subnet", metavar="strings"),
    Flag("ingress", help="Create swarm routing-mesh network"),
    Flag("internal", help="Restrict external access to the network"),
    Flag("ip-range", "", "list", "Allocate container ip from a sub-range", metavar="strings"),
    Flag("ipam-driver", "", "string", "IP Address Management Driver", default="default"),
    Flag("ipam-opt", "", "list", "Set IPAM driver specific options", metavar="map"),
    Flag("ipv6", help="Enable or disable IPv6 networking"),
    Flag("label", "", "list", "Set metadata on a network"),
    Flag("opt", "o", "list", "Set driver specific options", metavar="map"),
    Flag("scope", "", "string", "Control the network's scope"),
    Flag("subnet", "", "list", "Subnet in CIDR format that represents a network segment",
         metavar="strings"),
), min_args=1, max_args=1)


def _ipam_config(parsed: Parsed) -> list[dict[str, Any]]:
    """consolidateIpam: each subnet with the gateway and range inside it."""
    subnets, ranges, gateways = (parsed.strings(n) for n in ("subnet", "ip_range", "gateway"))
    if len(subnets) < len(ranges) or len(subnets) < len(gateways):
        raise StatusError("every ip-range or gateway must have a corresponding subnet")
    import ipaddress

    config = []
    for subnet in subnets:
        try:
            network = ipaddress.ip_network(subnet, strict=False)
        except ValueError as exc:
            raise StatusError(f"invalid CIDR address: {subnet}") from exc
        entry: dict[str, Any] = {"Subnet": subnet}
        for value in ranges:
            if ipaddress.ip_network(value, strict=False).subnet_of(network):  # type: ignore[arg-type]
                entry["IPRange"] = value
        for value in gateways:
            if ipaddress.ip_address(value) in network:
                entry["Gateway"] = value
        config.append(entry)
    return config


def run_create(session: Session, command: Command, parsed: Parsed) -> int:
    body: dict[str, Any] = {
        "Driver": parsed.string("driver"), "Scope": parsed.string("scope"),
        "IPAM": {"Driver": parsed.string("ipam_driver"),
                 "Options": _pairs(parsed.strings("ipam_opt")), "Config": _ipam_config(parsed)},
        "Internal": parsed.flag("internal"), "Attachable": parsed.flag("attachable"),
        "Ingress": parsed.flag("ingress"), "ConfigOnly": parsed.flag("config_only"),
        "ConfigFrom": {"Network": parsed.string("config_from")}
        if parsed.string("config_from") else None,
        "Options": _pairs(parsed.strings("opt")),
        "Labels": _pairs([_label(v, command) for v in parsed.strings("label")]),
        "Name": parsed.args[0], "CheckDuplicate": True,
    }
    if parsed.flag("ipv6"):
        body["EnableIPv6"] = True
    created = session.client().call("POST", "/networks/create", json_body=body) or {}
    if created.get("Warning"):
        session.err.write(f"{created['Warning']}\n")
    session.out.write(f"{created.get('Id', '')}\n")
    return 0


LS = Command("network ls", "[OPTIONS]", "List networks", (
    Flag("filter", "f", "list", 'Provide filter values (e.g. "driver=bridge")', metavar="filter"),
    FORMAT,
    Flag("no-trunc", help="Do not truncate the output"),
    Flag("quiet", "q", help="Only display network IDs"),
), max_args=0, aliases="dockyard network ls, dockyard network list")


def network_row(network: dict[str, Any], trunc: bool) -> Struct:
    """formatter.networkContext (labels in sorted order; Go's map order is random)."""
    labels = network.get("Labels") or {}
    ident = str(network.get("Id", ""))
    return Struct("*formatter.networkContext", {
        "ID": ident[:12] if trunc else ident, "Name": str(network.get("Name", "")),
        "Driver": str(network.get("Driver", "")), "Scope": str(network.get("Scope", "")),
        "IPv4": "true", "IPv6": "true" if network.get("EnableIPv6") else "false",
        "Internal": "true" if network.get("Internal") else "false",
        "Labels": ",".join(f"{k}={v}" for k, v in sorted(labels.items())),
        "CreatedAt": _created(str(network.get("Created", ""))),
    })


def _created(text: str) -> str:
    """Go's time.Time.String() of an RFC 3339 time (as the docker CLI prints CreatedAt)."""
    try:
        stamp = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return text
    fraction = f".{stamp.microsecond:06d}".rstrip("0").rstrip(".")
    return stamp.strftime("%Y-%m-%d %H:%M:%S") + fraction + " +0000 UTC"


def run_ls(session: Session, command: Command, parsed: Parsed) -> int:
    from dockyard.client import encode_filters

    filters = parse_filters(parsed.strings("filter"), command)
    query = {"filters": encode_filters(filters)} if filters else None
    listed = session.client().get("/networks", query) or []

    def by_name(a: dict[str, Any], b: dict[str, Any]) -> int:
        left, right = str(a.get("Name", "")), str(b.get("Name", ""))
        return -1 if natural_less(left, right) else 1 if natural_less(right, left) else 0

    fmt = parsed.string("format") or "table"
    if fmt == "table":
        fmt = "{{.ID}}" if parsed.flag("quiet") else NETWORK_TABLE
    rows = [network_row(n, not parsed.flag("no_trunc")) for n in sorted(listed,
                                                                         key=cmp_to_key(by_name))]
    session.out.write(formatter.render(fmt, rows, NETWORK_HEADER))
    return 0


INSPECT = Command("network inspect", "[OPTIONS] NETWORK [NETWORK...]",
                  "Display detailed information on one or more networks", (
                      INSPECT_FORMAT, Flag("verbose", "v", help="Verbose output for diagnostics"),
                  ), min_args=1)


def run_inspect(session: Session, command: Command, parsed: Parsed) -> int:
    from dockyard.cli.commands.inspect import inspect_objects

    return inspect_objects(session, parsed, "/networks/{}")


RM = Command("network rm", "NETWORK [NETWORK...]", "Remove one or more networks", (
    Flag("force", "f", help="Do not error if the network does not exist"),
), min_args=1, aliases="dockyard network rm, dockyard network remove")


def run_rm(session: Session, command: Command, parsed: Parsed) -> int:
    from dockyard.client import DaemonError
    from dockyard.errors import NotFound

    failures: list[str] = []
    for name in parsed.args:
        try:
            found = session.client().get(f"/networks/{name}") or {}
            if found.get("Ingress"):
                session.out.write("WARNING! This will remove the routing-mesh network.\n")
            session.client().call("DELETE", f"/networks/{name}")
        except DaemonError as exc:
            if parsed.flag("force") and isinstance(exc, NotFound):
                continue
            failures.append(f"Error response from daemon: {exc}")
            continue
        session.out.write(f"{name}\n")
    if failures:
        raise StatusError("\n".join(failures))
    return 0


PRUNE = Command("network prune", "[OPTIONS]", "Remove all unused networks", (
    Flag("filter", "", "list", 'Provide filter values (e.g. "until=<timestamp>")',
         metavar="filter"),
    Flag("force", "f", help="Do not prompt for confirmation"),
), max_args=0)
PRUNE_WARNING = ("WARNING! This will remove all custom networks not used by at least one "
                 "container.\nAre you sure you want to continue?")


def run_prune(session: Session, command: Command, parsed: Parsed) -> int:
    from dockyard.cli.commands.prune import Pruning, prune

    return prune(session, command, parsed, Pruning(
        "/networks/prune", "NetworksDeleted", "Deleted Networks", PRUNE_WARNING, reclaims=False))


CONNECT = Command("network connect", "[OPTIONS] NETWORK CONTAINER",
                  "Connect a container to a network", (
                      Flag("alias", "", "list", "Add network-scoped alias for the container",
                           metavar="strings"),
                      Flag("driver-opt", "", "list", "driver options for the network",
                           metavar="strings"),
                      Flag("ip", "", "string", "IPv4 address (e.g., \"172.30.100.104\")"),
                      Flag("ip6", "", "string", "IPv6 address (e.g., \"2001:db8::33\")"),
                      Flag("link", "", "list", "Add link to another container", metavar="list"),
                      Flag("link-local-ip", "", "list", "Add a link-local address for the "
                           "container", metavar="strings"),
                  ), min_args=2, max_args=2)


def run_connect(session: Session, command: Command, parsed: Parsed) -> int:
    network, container = parsed.args
    ipam: dict[str, Any] = {}
    if parsed.string("ip"):
        ipam["IPv4Address"] = parsed.string("ip")
    if parsed.string("ip6"):
        ipam["IPv6Address"] = parsed.string("ip6")
    if parsed.strings("link_local_ip"):
        ipam["LinkLocalIPs"] = parsed.strings("link_local_ip")
    endpoint: dict[str, Any] = {"IPAMConfig": ipam, "Links": parsed.strings("link") or None,
                                "Aliases": parsed.strings("alias") or None}
    options = _pairs(parsed.strings("driver_opt"))
    if options:
        endpoint["DriverOpts"] = options
    session.client().call("POST", f"/networks/{network}/connect",
                          json_body={"Container": container, "EndpointConfig": endpoint})
    return 0


DISCONNECT = Command("network disconnect", "[OPTIONS] NETWORK CONTAINER",
                     "Disconnect a container from a network", (
                         Flag("force", "f", help="Force the container to disconnect from a "
                              "network"),
                     ), min_args=2, max_args=2)


def run_disconnect(session: Session, command: Command, parsed: Parsed) -> int:
    network, container = parsed.args
    session.client().call("POST", f"/networks/{network}/disconnect",
                          json_body={"Container": container, "Force": parsed.flag("force")})
    return 0
