"""The container commands that are one request each (or one per container): ``stop``,
``restart``, ``kill``, ``rm``, ``wait``, ``pause``, ``unpause``, ``rename``, ``top``,
``port``, ``diff``, ``export``, ``commit``, ``container prune`` and ``logs``.

Each follows docker 28's cli/command/container: the same requests and query parameters (at
API 1.41: ``stop``/``restart`` send ``t`` only when given, and no signal), the names printed
back as given, errors joined one per line (exit status 1), ``rm -f`` of a missing container
reported but not failed.
"""

from __future__ import annotations

from dockyard.cli.flags import Command, Flag, Parsed
from dockyard.cli.session import Session, StatusError

TYPE_CHECKING = False  # typing's import costs the CLI's start a few ms
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any


def _cmd(path: str, usage: str, short: str, flags: tuple[Flag, ...] = (), *, min_args: int = 1,
         max_args: int | None = None, interspersed: bool = True) -> Command:
    name = path.removeprefix("container ")
    return Command(path, usage, short, flags, min_args=min_args, max_args=max_args,
                   interspersed=interspersed,
                   aliases=f"dockyard container {name}, dockyard {name}")


_STOP_FLAGS = (
    Flag("signal", "s", "string", "Signal to send to the container"),
    Flag("time", "", "int", "Seconds to wait before killing the container (deprecated: use "
         "--timeout)"),
    Flag("timeout", "t", "int", "Seconds to wait before killing the container"),
)
STOP = _cmd("stop", "[OPTIONS] CONTAINER [CONTAINER...]", "Stop one or more running containers",
            _STOP_FLAGS)
RESTART = _cmd("restart", "[OPTIONS] CONTAINER [CONTAINER...]", "Restart one or more containers",
               _STOP_FLAGS)
KILL = _cmd("kill", "[OPTIONS] CONTAINER [CONTAINER...]", "Kill one or more running containers",
            (Flag("signal", "s", "string", "Signal to send to the container"),))
RM = Command("rm", "[OPTIONS] CONTAINER [CONTAINER...]", "Remove one or more containers", (
    Flag("force", "f", help="Force the removal of a running container (uses SIGKILL)"),
    Flag("link", "l", help="Remove the specified link"),
    Flag("volumes", "v", help="Remove anonymous volumes associated with the container"),
), min_args=1, aliases="dockyard container rm, dockyard container remove, dockyard rm")
WAIT = _cmd("wait", "CONTAINER [CONTAINER...]",
            "Block until one or more containers stop, then print their exit codes")
PAUSE = _cmd("pause", "CONTAINER [CONTAINER...]",
             "Pause all processes within one or more containers")
UNPAUSE = _cmd("unpause", "CONTAINER [CONTAINER...]",
               "Unpause all processes within one or more containers")
RENAME = _cmd("rename", "CONTAINER NEW_NAME", "Rename a container", min_args=2, max_args=2)
TOP = _cmd("top", "CONTAINER [ps OPTIONS]", "Display the running processes of a container",
           interspersed=False)
PORT = _cmd("port", "CONTAINER [PRIVATE_PORT[/PROTO]]",
            "List port mappings or a specific mapping for the container", max_args=2)
DIFF = _cmd("diff", "CONTAINER",
            "Inspect changes to files or directories on a container's filesystem", max_args=1)
EXPORT = _cmd("export", "[OPTIONS] CONTAINER", "Export a container's filesystem as a tar archive",
              (Flag("output", "o", "string", "Write to a file, instead of STDOUT"),), max_args=1)
COMMIT = _cmd("commit", "[OPTIONS] CONTAINER [REPOSITORY[:TAG]]",
              "Create a new image from a container's changes", (
                  Flag("author", "a", "string",
                       'Author (e.g., "John Hannibal Smith <hannibal@a-team.com>")'),
                  Flag("change", "c", "list",
                       "Apply Dockerfile instruction to the created image"),
                  Flag("message", "m", "string", "Commit message"),
                  Flag("pause", "p", help="Pause container during commit", default=True),
              ), max_args=2, interspersed=False)
PRUNE = Command("container prune", "[OPTIONS]", "Remove all stopped containers", (
    Flag("filter", "", "list", 'Provide filter values (e.g. "until=<timestamp>")',
         metavar="filter"),
    Flag("force", "f", help="Do not prompt for confirmation"),
), max_args=0)
LOGS = _cmd("logs", "[OPTIONS] CONTAINER", "Fetch the logs of a container", (
    Flag("details", "", help="Show extra details provided to logs"),
    Flag("follow", "f", help="Follow log output"),
    Flag("since", "", "string", 'Show logs since timestamp (e.g. "2013-01-02T13:23:37Z") or '
         'relative (e.g. "42m" for 42 minutes)'),
    Flag("tail", "n", "string", "Number of lines to show from the end of the logs",
         default="all"),
    Flag("timestamps", "t", help="Show timestamps"),
    Flag("until", "", "string", 'Show logs before a timestamp (e.g. "2013-01-02T13:23:37Z") or '
         'relative (e.g. "42m" for 42 minutes)'),
), max_args=1)


def each(session: Session, names: list[str], call: Callable[[str], Any],
         ignore: Callable[[Exception], bool] | None = None) -> int:
    """Call once per name; print the name after success, join the errors (exit status 1)."""
    from dockyard.client import DaemonError

    failures = []
    for name in names:
        try:
            call(name)
        except DaemonError as exc:
            if ignore is not None and ignore(exc):
                session.err.write(f"Error response from daemon: {exc}\n")
                continue
            failures.append(f"Error response from daemon: {exc}")
            continue
        except StatusError as exc:
            failures.append(str(exc))
            continue
        session.out.write(f"{name}\n")
    if failures:
        raise StatusError("\n".join(failures))
    return 0


def _stop_query(parsed: Parsed) -> dict[str, str | list[str]] | None:
    if "time" in parsed.changed and "timeout" in parsed.changed:
        raise StatusError("conflicting options: cannot specify both --timeout and --time")
    for name in ("timeout", "time"):
        if name in parsed.changed:
            return {"t": str(parsed.values[name])}
    return None


def run_stop(session: Session, command: Command, parsed: Parsed) -> int:
    query = _stop_query(parsed)
    verb = "stop" if command.path.endswith("stop") else "restart"
    client = session.client()
    return each(session, parsed.args,
                lambda name: client.call("POST", f"/containers/{name}/{verb}", query))


def run_kill(session: Session, command: Command, parsed: Parsed) -> int:
    signal = parsed.string("signal")
    query = {"signal": signal} if signal else None
    client = session.client()
    return each(session, parsed.args,
                lambda name: client.call("POST", f"/containers/{name}/kill", query))


def run_pause(session: Session, command: Command, parsed: Parsed) -> int:
    verb = command.path.rpartition(" ")[2]
    client = session.client()
    return each(session, parsed.args,
                lambda name: client.call("POST", f"/containers/{name}/{verb}"))


def run_rm(session: Session, command: Command, parsed: Parsed) -> int:
    from dockyard.errors import NotFound

    query: dict[str, str | list[str]] = {}
    for flag, key in (("volumes", "v"), ("link", "link"), ("force", "force")):
        if parsed.flag(flag):
            query[key] = "1"
    client = session.client()

    def remove(name: str) -> None:
        name = name.strip("/")
        if not name:
            raise StatusError("container name cannot be empty")
        client.call("DELETE", f"/containers/{name}", query or None)

    force = parsed.flag("force")
    return each(session, parsed.args, remove,
                ignore=lambda exc: force and isinstance(exc, NotFound))


def run_wait(session: Session, command: Command, parsed: Parsed) -> int:
    from dockyard.client import DaemonError
    from dockyard.client.hijack import Waiter

    failures = []
    for name in parsed.args:
        try:
            status, _ = Waiter(session.client(), name, "").result()
        except DaemonError as exc:
            failures.append(f"Error response from daemon: {exc}")
            continue
        session.out.write(f"{status}\n")
    if failures:
        raise StatusError("\n".join(failures))
    return 0


def run_rename(session: Session, command: Command, parsed: Parsed) -> int:
    from dockyard.client import DaemonError

    old, new = (a.strip() for a in parsed.args)
    if not old or not new:
        raise StatusError("Error: Neither old nor new names may be empty")
    try:
        session.client().call("POST", f"/containers/{old}/rename", {"name": new})
    except DaemonError as exc:
        session.err.write(f"Error response from daemon: {exc}\n")
        raise StatusError(f"Error: failed to rename container named {old}") from exc
    return 0


def run_top(session: Session, command: Command, parsed: Parsed) -> int:
    from dockyard.cli.tabwriter import TabWriter

    query = {"ps_args": " ".join(parsed.args[1:])} if len(parsed.args) > 1 else None
    listed = session.client().get(f"/containers/{parsed.args[0]}/top", query) or {}
    writer = TabWriter(20, 1, 3)
    writer.write("\t".join(listed.get("Titles") or []) + "\n")
    for process in listed.get("Processes") or []:
        writer.write("\t".join(process) + "\n")
    session.out.write(writer.flush())
    return 0


def run_port(session: Session, command: Command, parsed: Parsed) -> int:
    from functools import cmp_to_key

    from dockyard.cli.commands.volumes import natural_less

    name = parsed.args[0]
    info = session.client().get(f"/containers/{name}/json")
    ports = (info.get("NetworkSettings") or {}).get("Ports") or {}
    out = []
    if len(parsed.args) > 1:
        port, _, proto = parsed.args[1].partition("/")
        if not port.isdigit() or int(port) > 65535:
            reason = "value out of range" if port.isdigit() else "invalid syntax"
            raise StatusError(f'Error: invalid port ({port}): strconv.ParseUint: parsing '
                              f'"{port}": {reason}')
        frontends = ports.get(f"{port}/{proto or 'tcp'}") or []
        if not frontends:
            raise StatusError(f"Error: No public port '{parsed.args[1]}' published for {name}")
        out = [_host_port(f) for f in frontends]
    else:
        out = [f"{key} -> {_host_port(f)}" for key, fronts in ports.items() for f in fronts or []]
    if out:
        def order(a: str, b: str) -> int:
            return -1 if natural_less(a, b) else 1 if natural_less(b, a) else 0

        out.sort(key=cmp_to_key(order))
        session.out.write("\n".join(out) + "\n")
    return 0


def _host_port(frontend: dict[str, str]) -> str:
    ip, port = frontend.get("HostIp", ""), frontend.get("HostPort", "")
    return f"[{ip}]:{port}" if ":" in ip else f"{ip}:{port}"


def run_diff(session: Session, command: Command, parsed: Parsed) -> int:
    changes = session.client().get(f"/containers/{parsed.args[0]}/changes") or []
    kinds = {0: "C", 1: "A", 2: "D"}
    session.out.write("".join(f"{kinds.get(c.get('Kind'), '?')} {c.get('Path')}\n"
                              for c in changes))
    return 0


def run_export(session: Session, command: Command, parsed: Parsed) -> int:
    output = parsed.string("output")
    path = f"/containers/{parsed.args[0]}/export"
    if not output:
        if session.out_is_terminal():
            raise StatusError("cowardly refusing to save to a terminal. Use the -o flag or "
                              "redirect")
        session.client().download(path, None, session.stdout_binary)
        session.stdout_binary.flush()
        return 0
    import os

    temp = f"{output}.{os.getpid()}.tmp"
    try:
        with open(temp, "wb") as f:
            os.fchmod(f.fileno(), 0o600)
            session.client().download(path, None, f)
        os.replace(temp, output)
    except BaseException:
        if os.path.exists(temp):
            os.unlink(temp)
        raise
    return 0


def run_commit(session: Session, command: Command, parsed: Parsed) -> int:
    query: dict[str, str | list[str]] = {"container": parsed.args[0]}
    if len(parsed.args) > 1:
        repo, tag = _split_reference(parsed.args[1])
        query["repo"], query["tag"] = repo, tag
    query["author"], query["comment"] = parsed.string("author"), parsed.string("message")
    if parsed.strings("change"):
        query["changes"] = parsed.strings("change")
    if not parsed.flag("pause"):
        query["pause"] = "0"
    answer = session.client().call("POST", "/commit", query) or {}
    session.out.write(f"{answer.get('Id', '')}\n")
    return 0


def _split_reference(text: str) -> tuple[str, str]:
    """The Go client's ContainerCommit: a fully qualified repo and its tag (none: latest)."""
    from dockyard.errors import InvalidArgument
    from dockyard.oci.reference import parse_reference

    try:
        reference = parse_reference(text)
    except InvalidArgument as exc:
        raise StatusError(f"invalid reference format: {exc}") from exc
    if reference.digest is not None:
        raise StatusError("refusing to create a tag with a digest reference")
    return reference.repository, reference.tag or "latest"


def run_prune(session: Session, command: Command, parsed: Parsed) -> int:
    from dockyard.cli.commands.prune import Pruning, prune

    return prune(session, command, parsed, Pruning(
        "/containers/prune", "ContainersDeleted", "Deleted Containers",
        "WARNING! This will remove all stopped containers.\nAre you sure you want to continue?"))


def run_logs(session: Session, command: Command, parsed: Parsed) -> int:
    from dockyard.cli.attach import _Frames
    from dockyard.cli.containerio import binary_err
    from dockyard.cli.timestamps import since_until

    info = session.client().get(f"/containers/{parsed.args[0]}/json")
    query = {"stdout": "1", "stderr": "1", **since_until(parsed, session.now())}
    for name in ("timestamps", "follow", "details"):
        if parsed.flag(name):
            query[name] = "1"
    query["tail"] = parsed.string("tail")
    response = session.client().request("GET", f"/containers/{info['Id']}/logs", query)
    out = session.stdout_binary
    frames = None if (info.get("Config") or {}).get("Tty") else _Frames(out, binary_err(session))
    for chunk in response.chunks():
        if frames is None:
            out.write(chunk)
            out.flush()
        else:
            frames.feed(chunk)
    return 0
