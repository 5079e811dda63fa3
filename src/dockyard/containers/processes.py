"""The processes of a container (``docker top``): their pids from the container's cgroup, and
``ps -ef``'s table of them read from /proc, as procps prints it.

dockerd runs ``ps <ps_args> -q <pids>`` and keeps the rows of the container's pids
(``parsePSOutput``). The default, ``-ef``, is built here from /proc with no process started:
UID (the user's name on the host, its number if it has none or a longer one than 8
characters), PID, PPID, C (CPU time over elapsed time, percent, at most 99), STIME (HH:MM
today, MonDD this year, else the year), TTY, TIME ([DD-]HH:MM:SS of CPU time) and CMD (the
command line, or ``[comm]`` for a kernel-made one). Other ``ps_args`` are handed to ``ps``
itself by the service, and its output goes through :func:`parse_ps_output`.
"""

from __future__ import annotations

import os
import pwd
import re
import time
from collections.abc import Sequence
from dataclasses import dataclass

from dockyard.errors import Internal, InvalidArgument

TITLES = ("UID", "PID", "PPID", "C", "STIME", "TTY", "TIME", "CMD")
_CONTROLLERS = ("pids", "memory", "freezer", "cpu", "")  # "" : the unified hierarchy
_PS_ARG = re.compile(r"\s+([^\s]*)=\s*(PID[^\s]*)")


@dataclass(frozen=True, slots=True)
class Table:
    """``{"Titles": [...], "Processes": [[...], ...]}``."""

    titles: tuple[str, ...]
    processes: tuple[tuple[str, ...], ...]

    def to_json(self) -> dict[str, object]:
        return {"Processes": [list(p) for p in self.processes], "Titles": list(self.titles)}


def check_ps_args(ps_args: str) -> None:
    """dockerd's ``validatePSArgs``: only ``pid=`` may rename the PID column."""
    for key, value in _PS_ARG.findall(ps_args):
        if key != "pid":
            raise InvalidArgument(f'specifying "{key}={value}" is not allowed')


def cgroup_procs(pid: int, proc: str = "/proc") -> str:
    """The ``cgroup.procs`` file of the cgroup ``pid`` is in (v1: its pids, memory or freezer
    hierarchy; v2: the unified one), found through /proc/<pid>/cgroup and the mount table."""
    with open(f"{proc}/{pid}/cgroup") as lines:
        paths = {}
        for line in lines:
            _, controllers, path = line.rstrip("\n").split(":", 2)
            for controller in controllers.split(",") if controllers else [""]:
                paths[controller] = path
    mounts = cgroup_mounts(f"{proc}/self/mountinfo")
    for controller in _CONTROLLERS:
        if controller in paths and controller in mounts:
            return f"{mounts[controller]}{paths[controller]}/cgroup.procs"
    raise Internal(f"no cgroup hierarchy of process {pid} is mounted")


def cgroup_mounts(mountinfo: str) -> dict[str, str]:
    """Where each cgroup v1 controller ("memory", ...) and cgroup2 ("") is mounted."""
    found: dict[str, str] = {}
    with open(mountinfo) as lines:
        for line in lines:
            fields = line.split()
            dash = fields.index("-")
            fstype, options = fields[dash + 1], fields[dash + 3].split(",")
            if fstype == "cgroup2":
                found.setdefault("", fields[4])
            elif fstype == "cgroup":
                for option in options:
                    found.setdefault(option, fields[4])
    return found


def container_pids(init_pid: int, proc: str = "/proc") -> list[int]:
    """The pids in the cgroup of ``init_pid`` (the container's), sorted."""
    with open(cgroup_procs(init_pid, proc)) as procs:
        return sorted(int(line) for line in procs if line.strip())


@dataclass(frozen=True, slots=True)
class _Proc:
    pid: int
    ppid: int
    euid: int
    tty: int
    cpu_ticks: int
    start_ticks: int
    cmd: str


def _read(pid: int, proc: str) -> _Proc | None:
    try:
        with open(f"{proc}/{pid}/stat", "rb") as f:
            raw = f.read().decode(errors="replace")
        with open(f"{proc}/{pid}/status") as f:
            status = f.read()
        with open(f"{proc}/{pid}/cmdline", "rb") as f:
            cmdline = f.read()
    except (FileNotFoundError, ProcessLookupError):
        return None  # gone meanwhile
    comm = raw[raw.index("(") + 1:raw.rindex(")")]
    fields = raw[raw.rindex(")") + 2:].split()
    euid = next(int(line.split()[2]) for line in status.splitlines() if line.startswith("Uid:"))
    args = [a.decode(errors="replace") for a in cmdline.rstrip(b"\0").split(b"\0")] \
        if cmdline else []
    return _Proc(pid, int(fields[1]), euid, int(fields[4]), int(fields[11]) + int(fields[12]),
                 int(fields[19]), " ".join(args) if args else f"[{comm}]")


def ps_ef(pids: Sequence[int], *, proc: str = "/proc", now: float | None = None) -> Table:
    """``ps -ef`` of ``pids``, in pid order as ``ps -q`` prints them."""
    hertz = os.sysconf("SC_CLK_TCK")
    now = time.time() if now is None else now
    with open(f"{proc}/uptime") as f:
        uptime = float(f.read().split()[0])
    with open(f"{proc}/stat") as f:
        boot = next(int(line.split()[1]) for line in f if line.startswith("btime "))
    rows = []
    for pid in sorted(pids):
        found = _read(pid, proc)
        if found is None:
            continue
        started = boot + found.start_ticks // hertz
        elapsed = int(uptime - found.start_ticks / hertz)  # procps: whole seconds
        percent = (found.cpu_ticks * 100 // hertz) // elapsed if elapsed > 0 else 0
        rows.append((_user(found.euid), str(found.pid), str(found.ppid), str(min(percent, 99)),
                     _stime(started, now), _tty(found.tty), _cputime(found.cpu_ticks // hertz),
                     found.cmd))
    return Table(TITLES, tuple(rows))


def _user(uid: int) -> str:
    try:
        name = pwd.getpwuid(uid).pw_name
    except KeyError:
        return str(uid)
    return name if len(name) <= 8 else str(uid)


def _stime(started: float, now: float) -> str:
    start, today = time.localtime(started), time.localtime(now)
    if start.tm_year != today.tm_year:
        return time.strftime("%Y", start)
    if start.tm_yday != today.tm_yday:
        return time.strftime("%b%d", start)
    return time.strftime("%H:%M", start)


def _tty(number: int) -> str:
    if number == 0:
        return "?"
    major, minor = os.major(number), os.minor(number)
    if 136 <= major <= 143:
        return f"pts/{(major - 136) * 256 + minor}"
    if major == 4 and minor < 64:
        return f"tty{minor}"
    if major == 4:
        return f"ttyS{minor - 64}"
    return "?"


def _cputime(seconds: int) -> str:
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    text = f"{hours:02d}:{rest // 60:02d}:{rest % 60:02d}"
    return f"{days}-{text}" if days else text


def parse_ps_output(output: str, pids: Sequence[int]) -> Table:
    """dockerd's ``parsePSOutput``: the title line, then the rows whose PID is the
    container's (thread lines with ``-`` follow their process); extra fields go into the
    last column."""
    lines = output.split("\n")
    titles = tuple(lines[0].split())
    if "PID" not in titles:
        raise Internal("Couldn't find PID field in ps output")
    index = titles.index("PID")
    wanted = set(pids)
    rows: list[tuple[str, ...]] = []
    kept = False
    for line in lines[1:]:
        fields = line.split()
        if not fields:
            continue
        if fields[index] == "-":
            if kept:
                rows.append(_fit(fields, len(titles)))
            continue
        try:
            pid = int(fields[index])
        except ValueError as exc:
            raise Internal(f"Unexpected pid '{fields[index]}': {exc}") from exc
        kept = pid in wanted
        if kept:
            rows.append(_fit(fields, len(titles)))
    return Table(titles, tuple(rows))


def _fit(fields: list[str], count: int) -> tuple[str, ...]:
    return (*fields[:count - 1], " ".join(fields[count - 1:]))
