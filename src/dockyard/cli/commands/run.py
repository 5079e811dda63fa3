"""``run``, ``create`` and ``start``: docker 28's cli/command/container run.go, create.go and
start.go over the Engine API.

``run`` sends what the docker CLI sends, in its order: create (an image missing locally is
pulled first, "Unable to find image 'x:latest' locally"), attach (101), wait (its headers before
start: ``next-exit``, or ``removed`` with --rm), start, then the streams until the output ends,
and exits with the container's status. Daemon errors of ``run`` exit 125, or 126 (cannot
invoke) or 127 (not found) as toStatusError decides from the message.
"""

from __future__ import annotations

from dockyard.cli.containeropts import CONTAINER_FLAGS, HIDDEN, Values, config_body, with_help
from dockyard.cli.flags import Command, Flag, Parsed
from dockyard.cli.session import Session, StatusError

TYPE_CHECKING = False  # typing's import costs the CLI's start a few ms
if TYPE_CHECKING:
    from typing import Any

_RUN_ONLY = (
    Flag("detach", "d", help="Run container in background and print container ID"),
    Flag("detach-keys", "", "string", "Override the key sequence for detaching a container"),
    Flag("sig-proxy", "", help="Proxy received signals to the process", default=True),
)
RUN = Command("run", "[OPTIONS] IMAGE [COMMAND] [ARG...]",
              "Create and run a new container from an image",
              tuple(sorted(CONTAINER_FLAGS + _RUN_ONLY, key=lambda f: f.long)) + HIDDEN,
              min_args=1, interspersed=False, aliases="dockyard container run, dockyard run")
CONTAINER_RUN = Command("container run", RUN.usage, RUN.short, RUN.flags, min_args=1,
                        interspersed=False, aliases=RUN.aliases)
CREATE = Command("create", "[OPTIONS] IMAGE [COMMAND] [ARG...]", "Create a new container",
                 CONTAINER_FLAGS + HIDDEN, min_args=1, interspersed=False,
                 aliases="dockyard container create, dockyard create")
CONTAINER_CREATE = Command("container create", CREATE.usage, CREATE.short, CREATE.flags,
                           min_args=1, interspersed=False, aliases=CREATE.aliases)
_START_FLAGS = (
    Flag("attach", "a", help="Attach STDOUT/STDERR and forward signals"),
    Flag("detach-keys", "", "string", "Override the key sequence for detaching a container"),
    Flag("interactive", "i", help="Attach container's STDIN"),
)
START = Command("start", "[OPTIONS] CONTAINER [CONTAINER...]",
                "Start one or more stopped containers", _START_FLAGS, min_args=1,
                aliases="dockyard container start, dockyard start")
CONTAINER_START = Command("container start", START.usage, START.short, START.flags,
                          min_args=1, aliases=START.aliases)


def status_error(exc: Exception, command: str) -> StatusError:
    """toStatusError: 127 for a missing executable, 126 for a permission problem, else 125."""
    from dockyard.client import DaemonError

    text = f"Error response from daemon: {exc}" if isinstance(exc, DaemonError) else str(exc)
    code = 125
    if "executable file not found" in text or "no such file or directory" in text:
        code = 127
    elif "permission denied" in text or "is a directory" in text:
        code = 126
    return StatusError(f"dockyard: {text}\n\nRun 'dockyard {command} --help' for more "
                       "information", code)


def _familiar_tagged(image: str) -> tuple[str, dict[str, str | list[str]]]:
    """The name "Unable to find image" shows and the pull query (moby's ImageCreate)."""
    from dockyard.oci.reference import parse_reference

    reference = parse_reference(image)
    if reference.tag is None and reference.digest is None:
        reference = reference.with_default_tag()
    query: dict[str, str | list[str]] = {"fromImage": reference.repository}
    query["tag"] = str(reference.digest) if reference.digest is not None else \
        reference.tag or "latest"
    return reference.familiar(), query


def _pull(session: Session, image: str, quiet: bool) -> None:
    import io

    from dockyard.cli.commands.distribution import _auth_header, _reference
    from dockyard.cli.progress import display
    from dockyard.client.engine import decode_lines

    name, query = _familiar_tagged(image)
    if not quiet:
        session.err.write(f"Unable to find image '{name}' locally\n")
    auth = _auth_header(session, _reference(image).domain)
    response = session.client().request("POST", "/images/create", query,
                                         headers={"X-Registry-Auth": auth})
    out = io.StringIO() if quiet else session.err
    display(decode_lines(response), out, terminal=False)


def create_container(session: Session, values: Values, body: dict[str, Any]) -> str:
    """POST /containers/create, pulling a missing image (--pull); prints the warnings."""
    from dockyard.errors import NotFound

    pull, name = values.string("pull"), values.string("name")
    query = {"name": name} if name else None
    cidfile = values.string("cidfile")
    if cidfile:
        import os

        if os.path.exists(cidfile):
            raise StatusError("container ID file found, make sure the other container isn't "
                              f"running or delete {cidfile}", 125)
    if pull == "always":
        _pull(session, body["Image"], values.flag("quiet"))
    try:
        created = session.client().call("POST", "/containers/create", query, json_body=body)
    except NotFound:
        if pull not in ("missing", ""):
            raise
        _pull(session, body["Image"], values.flag("quiet"))
        created = session.client().call("POST", "/containers/create", query, json_body=body)
    for warning in created.get("Warnings") or []:
        session.err.write(f"WARNING: {warning}\n")
    container_id = str(created["Id"])
    if cidfile:
        with open(cidfile, "w") as f:
            f.write(container_id)
    return container_id


def _body(session: Session, values: Values, command: str) -> dict[str, Any]:
    from dockyard.cli.attach import terminal_size

    pull = values.string("pull")
    if pull not in ("always", "missing", "never", ""):
        raise with_help(f"invalid pull option: '{pull}': must be one of \"always\", "
                        "\"missing\" or \"never\"", command)
    args = values.parsed.args
    return config_body(values, args[0], args[1:], session.environ,
                       terminal_size(session.stdout_binary))


def run_create(session: Session, command: Command, parsed: Parsed) -> int:
    values = Values(command, parsed)
    body = _body(session, values, "create")
    session.out.write(f"{create_container(session, values, body)}\n")
    return 0


def run_run(session: Session, command: Command, parsed: Parsed) -> int:
    from dockyard.client import DaemonError

    values = Values(command, parsed)
    body = _body(session, values, "run")
    detach = values.flag("detach")
    if not detach:
        if body["AttachStdin"] and body["Tty"] and not session.in_is_terminal():
            raise StatusError("the input device is not a TTY")
    elif values.strings("attach"):
        raise StatusError("conflicting options: cannot specify both --attach and --detach")
    else:
        body.update(AttachStdin=False, AttachStdout=False, AttachStderr=False, StdinOnce=False)
    try:
        container_id = create_container(session, values, body)
    except DaemonError as exc:
        raise status_error(exc, "run") from exc
    if not (body["AttachStdin"] or body["AttachStdout"] or body["AttachStderr"]):
        _start(session, container_id, None)
        session.out.write(f"{container_id}\n")
        return 0
    from dockyard.cli.containerio import Attached

    attached = Attached(session, container_id, tty=body["Tty"],
                        stdin=body["AttachStdin"], stdout=body["AttachStdout"],
                        stderr=body["AttachStderr"], keys=values.string("detach_keys"),
                        proxy=values.flag("sig_proxy"))
    return attached.run(auto_remove=body["HostConfig"]["AutoRemove"],
                        start=lambda: _start(session, container_id, attached))


def _start(session: Session, container_id: str, attached: object) -> None:
    from dockyard.client import DaemonError

    try:
        session.client().call("POST", f"/containers/{container_id}/start")
    except DaemonError as exc:
        raise status_error(exc, "run") from exc


def run_start(session: Session, command: Command, parsed: Parsed) -> int:
    if parsed.flag("attach") or parsed.flag("interactive"):
        if len(parsed.args) > 1:
            raise StatusError("you cannot start and attach multiple containers at once")
        return _start_attached(session, parsed)
    from dockyard.client import DaemonError

    failed = []
    for name in parsed.args:
        try:
            session.client().call("POST", f"/containers/{name}/start")
        except DaemonError as exc:
            session.err.write(f"Error response from daemon: {exc}\n")
            failed.append(name)
            continue
        session.out.write(f"{name}\n")
    if failed:
        raise StatusError(f"Error: failed to start containers: {', '.join(failed)}")
    return 0


def _start_attached(session: Session, parsed: Parsed) -> int:
    from dockyard.cli.containerio import Attached

    info = session.client().get(f"/containers/{parsed.args[0]}/json")
    config, host = info.get("Config") or {}, info.get("HostConfig") or {}
    tty = bool(config.get("Tty"))
    attached = Attached(session, str(info["Id"]), tty=tty,
                        stdin=parsed.flag("interactive") and bool(config.get("OpenStdin")),
                        stdout=True, stderr=True, keys=parsed.string("detach_keys"),
                        proxy=not tty)

    def start() -> None:
        session.client().call("POST", f"/containers/{info['Id']}/start")

    return attached.run(auto_remove=bool(host.get("AutoRemove")), start=start)
