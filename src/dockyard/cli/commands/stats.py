"""``stats`` / ``container stats``: docker 28's cli/command/container/stats.go and
stats_helpers.go (one ``GET /containers/{id}/stats?stream=`` per container, the CPU and memory
formulas) and formatter_stats.go (columns, ``--`` for a container with no figures).

``--no-stream`` asks each container for one object (``stream=0``) and prints one table. Without
it, a thread per container reads its stream (an object a second) and the table is redrawn every
second; with no container named, the list of containers (running, or all with ``-a``) is read
again at each redraw so new containers appear and removed ones go.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from dockyard.cli import formatter, units
from dockyard.cli.commands.images import FORMAT_HELP, truncate_id
from dockyard.cli.flags import Command, Flag, Parsed
from dockyard.cli.session import Session
from dockyard.cli.template import Struct

TABLE = ("table {{.ID}}\t{{.Name}}\t{{.CPUPerc}}\t{{.MemUsage}}\t{{.MemPerc}}\t{{.NetIO}}"
         "\t{{.BlockIO}}\t{{.PIDs}}")
HEADER = {"Container": "CONTAINER", "ID": "CONTAINER ID", "Name": "NAME", "CPUPerc": "CPU %",
          "MemUsage": "MEM USAGE / LIMIT", "MemPerc": "MEM %", "NetIO": "NET I/O",
          "BlockIO": "BLOCK I/O", "PIDs": "PIDS"}
FLAGS = (
    Flag("all", "a", help="Show all containers (default shows just running)"),
    Flag("format", "", "string", FORMAT_HELP),
    Flag("no-stream", "", help="Disable streaming stats and only pull the first result"),
    Flag("no-trunc", "", help="Do not truncate output"),
)
SHORT = "Display a live stream of container(s) resource usage statistics"
ALIASES = "dockyard container stats, dockyard stats"
STATS = Command("stats", "[OPTIONS] [CONTAINER...]", SHORT, FLAGS, aliases=ALIASES)
CONTAINER_STATS = Command("container stats", "[OPTIONS] [CONTAINER...]", SHORT, FLAGS,
                          aliases=ALIASES)
CLEAR = "\033[2J\033[H"


@dataclass(frozen=True, slots=True)
class Entry:
    """docker's StatsEntry: one container's figures (``invalid``: none to show)."""

    container: str
    name: str = ""
    id: str = ""
    cpu: float = 0.0
    memory: float = 0.0
    memory_limit: float = 0.0
    memory_percent: float = 0.0
    net_rx: float = 0.0
    net_tx: float = 0.0
    block_read: float = 0.0
    block_write: float = 0.0
    pids: int = 0
    invalid: bool = True


def cpu_percent(stats: dict[str, Any]) -> float:
    """calculateCPUPercentUnix: the container's share of the host's CPU time since the
    previous sample, times the online CPUs."""
    cpu, pre = stats.get("cpu_stats") or {}, stats.get("precpu_stats") or {}
    usage = cpu.get("cpu_usage") or {}
    cpu_delta = float(usage.get("total_usage", 0)) - float(
        (pre.get("cpu_usage") or {}).get("total_usage", 0))
    system_delta = float(cpu.get("system_cpu_usage", 0)) - float(pre.get("system_cpu_usage", 0))
    online = float(cpu.get("online_cpus", 0)) or float(len(usage.get("percpu_usage") or []))
    if system_delta > 0.0 and cpu_delta > 0.0:
        return cpu_delta / system_delta * online * 100.0
    return 0.0


def memory_usage(memory: dict[str, Any]) -> float:
    """calculateMemUsageUnixNoCache: usage less the inactive file cache."""
    usage = int(memory.get("usage", 0))
    raw = memory.get("stats") or {}
    if "total_inactive_file" in raw and raw["total_inactive_file"] < usage:  # cgroup v1
        return float(usage - raw["total_inactive_file"])
    inactive = int(raw.get("inactive_file", 0))
    return float(usage - inactive) if inactive < usage else float(usage)


def block_io(blkio: dict[str, Any]) -> tuple[float, float]:
    read = write = 0
    for entry in blkio.get("io_service_bytes_recursive") or []:
        op = str(entry.get("op") or "")[:1].lower()
        if op == "r":
            read += int(entry.get("value", 0))
        elif op == "w":
            write += int(entry.get("value", 0))
    return float(read), float(write)


def entry(container: str, stats: dict[str, Any]) -> Entry:
    """The figures the table shows, from one stats object."""
    memory = stats.get("memory_stats") or {}
    used, limit = memory_usage(memory), float(memory.get("limit", 0))
    networks = (stats.get("networks") or {}).values()
    read, write = block_io(stats.get("blkio_stats") or {})
    name = str(stats.get("name") or "")
    return Entry(
        container=container, name=name[1:] if name.startswith("/") else name,
        id=str(stats.get("id") or ""), cpu=cpu_percent(stats), memory=used,
        memory_limit=limit, memory_percent=used / limit * 100.0 if limit else 0.0,
        net_rx=float(sum(int(n.get("rx_bytes", 0)) for n in networks)),
        net_tx=float(sum(int(n.get("tx_bytes", 0)) for n in networks)),
        block_read=read, block_write=write,
        pids=int((stats.get("pids_stats") or {}).get("current", 0)), invalid=False)


def row(found: Entry, trunc: bool) -> Struct:
    """formatter's statsContext."""
    bad = found.invalid

    def pair(first: float, second: float, binary: bool = False) -> str:
        if binary:
            return f"{units.bytes_size(first)} / {units.bytes_size(second)}"
        return f"{units.human_size(first, 3)} / {units.human_size(second, 3)}"

    return Struct("*formatter.statsContext", {
        "Container": found.container,
        "Name": found.name or "--",
        "ID": truncate_id(found.id) if trunc else found.id,
        "CPUPerc": "--" if bad else f"{found.cpu:.2f}%",
        "MemUsage": "-- / --" if bad else pair(found.memory, found.memory_limit, True),
        "MemPerc": "--" if bad else f"{found.memory_percent:.2f}%",
        "NetIO": "--" if bad else pair(found.net_rx, found.net_tx),
        "BlockIO": "--" if bad else pair(found.block_read, found.block_write),
        "PIDs": "--" if bad else str(found.pids),
    })


def stats_format(source: str) -> str:
    return TABLE if source in ("", "table") else source


def _containers(session: Session, all_: bool) -> list[str]:
    listed = session.client().get("/containers/json", {"all": "1"} if all_ else {}) or []
    return [str(c.get("Id") or "") for c in listed]


def run_stats(session: Session, command: Command, parsed: Parsed) -> int:
    fmt = stats_format(parsed.string("format"))
    formatter.parse(fmt)  # a bad template fails before the requests
    trunc = not parsed.flag("no_trunc")
    named = list(parsed.args)
    if parsed.flag("no_stream"):
        names = named or _containers(session, parsed.flag("all"))
        client = session.client()
        found = [entry(name, client.get(f"/containers/{name}/stats", {"stream": "0"}))
                 for name in names]
        session.out.write(formatter.render(fmt, [row(e, trunc) for e in found], HEADER))
        return 0
    from dockyard.cli.commands.stats_stream import Streams

    with Streams(session.host, entry) as streams:
        while True:
            names = named or _containers(session, parsed.flag("all"))
            streams.follow(names)
            rows = [row(streams.latest(name), trunc) for name in names]
            if session.out_is_terminal():
                session.out.write(CLEAR)
            session.out.write(formatter.render(fmt, rows, HEADER))
            session.out.flush()
            streams.wait(1.0)
