"""The ``dockyard`` command: global options, command lookup, errors to exit statuses.

Command modules are imported only when their command runs, so ``dockyard version`` loads the
client and the version command and nothing else (no asyncio, no HTTP server, no daemon code).
Exit statuses follow the docker CLI: 0; 1 for a failure ("Error response from daemon: ...");
125 for a bad flag; the status a command chose otherwise (64 for a bad inspect template).
"""

from __future__ import annotations

import os
import sys
from importlib import import_module

from dockyard.cli.flags import Command, Flag, HelpRequested, Parsed, UsageError, help_text, parse
from dockyard.cli.session import Session, StatusError

TYPE_CHECKING = False  # typing's import costs the CLI's start a few ms
if TYPE_CHECKING:
    from collections.abc import Sequence
    from typing import TextIO

DEFAULT_HOST = "unix:///run/dockyard/dockyard.sock"

# command path -> (module under dockyard.cli.commands, Command attribute, run function)
COMMANDS: dict[str, tuple[str, str, str]] = {
    "version": ("system", "VERSION", "run_version"),
    "info": ("system", "INFO", "run_info"),
    "system info": ("system", "SYSTEM_INFO", "run_info"),
    "system df": ("system", "DF", "run_df"),
    "images": ("images", "IMAGES", "run_images"),
    "image ls": ("images", "IMAGE_LS", "run_images"),
    "image list": ("images", "IMAGE_LS", "run_images"),
    "image inspect": ("inspect", "IMAGE_INSPECT", "run_inspect"),
    "inspect": ("inspect", "INSPECT", "run_inspect"),
    "image rm": ("images", "IMAGE_RM", "run_rmi"),
    "image remove": ("images", "IMAGE_RM", "run_rmi"),
    "image rmi": ("images", "IMAGE_RM", "run_rmi"),
    "rmi": ("images", "RMI", "run_rmi"),
    "image tag": ("images", "TAG", "run_tag"),
    "tag": ("images", "TAG", "run_tag"),
    "image history": ("images", "HISTORY", "run_history"),
    "history": ("images", "HISTORY", "run_history"),
    "image prune": ("images", "PRUNE", "run_prune"),
    "image save": ("transfer", "IMAGE_SAVE", "run_save"),
    "save": ("transfer", "SAVE", "run_save"),
    "image load": ("transfer", "IMAGE_LOAD", "run_load"),
    "load": ("transfer", "LOAD", "run_load"),
    "image import": ("transfer", "IMAGE_IMPORT", "run_import"),
    "import": ("transfer", "IMPORT", "run_import"),
    "pull": ("distribution", "PULL", "run_pull"),
    "image pull": ("distribution", "IMAGE_PULL", "run_pull"),
    "push": ("distribution", "PUSH", "run_push"),
    "image push": ("distribution", "IMAGE_PUSH", "run_push"),
    "login": ("distribution", "LOGIN", "run_login"),
    "logout": ("distribution", "LOGOUT", "run_logout"),
    "build": ("build", "BUILD", "run_build"),
    "image build": ("build", "IMAGE_BUILD", "run_build"),
    "builder build": ("build", "BUILDER_BUILD", "run_build"),
    "builder prune": ("build", "PRUNE", "run_prune"),
    "bootstrap busybox": ("bootstrap", "BUSYBOX", "run_busybox"),
    "bootstrap debian": ("bootstrap", "DEBIAN", "run_debian"),
    "volume create": ("volumes", "CREATE", "run_create"),
    "volume ls": ("volumes", "LS", "run_ls"),
    "volume list": ("volumes", "LS", "run_ls"),
    "volume inspect": ("volumes", "INSPECT", "run_inspect"),
    "volume rm": ("volumes", "RM", "run_rm"),
    "volume remove": ("volumes", "RM", "run_rm"),
    "volume prune": ("volumes", "PRUNE", "run_prune"),
    "network create": ("networks", "CREATE", "run_create"),
    "network ls": ("networks", "LS", "run_ls"),
    "network list": ("networks", "LS", "run_ls"),
    "network inspect": ("networks", "INSPECT", "run_inspect"),
    "network rm": ("networks", "RM", "run_rm"),
    "network remove": ("networks", "RM", "run_rm"),
    "network prune": ("networks", "PRUNE", "run_prune"),
    "network connect": ("networks", "CONNECT", "run_connect"),
    "network disconnect": ("networks", "DISCONNECT", "run_disconnect"),
    # containers
    "run": ("run", "RUN", "run_run"),
    "container run": ("run", "CONTAINER_RUN", "run_run"),
    "create": ("run", "CREATE", "run_create"),
    "container create": ("run", "CONTAINER_CREATE", "run_create"),
    "start": ("run", "START", "run_start"),
    "container start": ("run", "CONTAINER_START", "run_start"),
    "exec": ("exec", "EXEC", "run_exec"),
    "container exec": ("exec", "CONTAINER_EXEC", "run_exec"),
    "attach": ("exec", "ATTACH", "run_attach"),
    "container attach": ("exec", "CONTAINER_ATTACH", "run_attach"),
    "ps": ("ps", "PS", "run_ps"),
    "container ls": ("ps", "CONTAINER_LS", "run_ps"),
    "container list": ("ps", "CONTAINER_LS", "run_ps"),
    "container ps": ("ps", "CONTAINER_LS", "run_ps"),
    "stop": ("containers", "STOP", "run_stop"),
    "container stop": ("containers", "STOP", "run_stop"),
    "restart": ("containers", "RESTART", "run_stop"),
    "container restart": ("containers", "RESTART", "run_stop"),
    "kill": ("containers", "KILL", "run_kill"),
    "container kill": ("containers", "KILL", "run_kill"),
    "rm": ("containers", "RM", "run_rm"),
    "container rm": ("containers", "RM", "run_rm"),
    "wait": ("containers", "WAIT", "run_wait"),
    "container wait": ("containers", "WAIT", "run_wait"),
    "pause": ("containers", "PAUSE", "run_pause"),
    "container pause": ("containers", "PAUSE", "run_pause"),
    "unpause": ("containers", "UNPAUSE", "run_pause"),
    "container unpause": ("containers", "UNPAUSE", "run_pause"),
    "rename": ("containers", "RENAME", "run_rename"),
    "container rename": ("containers", "RENAME", "run_rename"),
    "top": ("containers", "TOP", "run_top"),
    "container top": ("containers", "TOP", "run_top"),
    "stats": ("stats", "STATS", "run_stats"),
    "container stats": ("stats", "CONTAINER_STATS", "run_stats"),
    "port": ("containers", "PORT", "run_port"),
    "container port": ("containers", "PORT", "run_port"),
    "diff": ("containers", "DIFF", "run_diff"),
    "container diff": ("containers", "DIFF", "run_diff"),
    "export": ("containers", "EXPORT", "run_export"),
    "container export": ("containers", "EXPORT", "run_export"),
    "commit": ("containers", "COMMIT", "run_commit"),
    "container commit": ("containers", "COMMIT", "run_commit"),
    "logs": ("containers", "LOGS", "run_logs"),
    "container logs": ("containers", "LOGS", "run_logs"),
    "container remove": ("containers", "RM", "run_rm"),
    "container prune": ("containers", "PRUNE", "run_prune"),
    "container inspect": ("inspect", "CONTAINER_INSPECT", "run_inspect"),
    "cp": ("cp", "CP", "run_cp"),
    "events": ("events", "EVENTS", "run_events"),
    "system events": ("events", "SYSTEM_EVENTS", "run_events"),
    "container cp": ("cp", "CONTAINER_CP", "run_cp"),
}
GROUPS: dict[str, tuple[str, dict[str, str]]] = {
    "image": ("Manage images", {
        "build": "Build an image from a Dockerfile",
        "history": "Show the history of an image",
        "import": "Import the contents from a tarball to create a filesystem image",
        "inspect": "Display detailed information on one or more images",
        "load": "Load an image from a tar archive or STDIN",
        "ls": "List images",
        "prune": "Remove unused images",
        "pull": "Download an image from a registry",
        "push": "Upload an image to a registry",
        "rm": "Remove one or more images",
        "save": "Save one or more images to a tar archive (streamed to STDOUT by default)",
        "tag": "Create a tag TARGET_IMAGE that refers to SOURCE_IMAGE",
    }),
    "container": ("Manage containers", {
        "attach": "Attach local standard input, output, and error streams to a running "
                  "container",
        "commit": "Create a new image from a container's changes",
        "cp": "Copy files/folders between a container and the local filesystem",
        "create": "Create a new container",
        "diff": "Inspect changes to files or directories on a container's filesystem",
        "exec": "Execute a command in a running container",
        "export": "Export a container's filesystem as a tar archive",
        "inspect": "Display detailed information on one or more containers",
        "kill": "Kill one or more running containers",
        "logs": "Fetch the logs of a container",
        "ls": "List containers",
        "pause": "Pause all processes within one or more containers",
        "port": "List port mappings or a specific mapping for the container",
        "prune": "Remove all stopped containers",
        "rename": "Rename a container",
        "restart": "Restart one or more containers",
        "rm": "Remove one or more containers",
        "run": "Create and run a new container from an image",
        "start": "Start one or more stopped containers",
        "stop": "Stop one or more running containers",
        "stats": "Display a live stream of container(s) resource usage statistics",
        "top": "Display the running processes of a container",
        "unpause": "Unpause all processes within one or more containers",
        "wait": "Block until one or more containers stop, then print their exit codes",
    }),
    "system": ("Manage dockyard", {
        "df": "Show dockyard disk usage",
        "events": "Get real time events from the server",
        "info": "Display system-wide information",
    }),
    "volume": ("Manage volumes", {
        "create": "Create a volume",
        "inspect": "Display detailed information on one or more volumes",
        "ls": "List volumes",
        "prune": "Remove unused local volumes",
        "rm": "Remove one or more volumes",
    }),
    "network": ("Manage networks", {
        "connect": "Connect a container to a network",
        "create": "Create a network",
        "disconnect": "Disconnect a container from a network",
        "inspect": "Display detailed information on one or more networks",
        "ls": "List networks",
        "prune": "Remove all unused networks",
        "rm": "Remove one or more networks",
    }),
    "builder": ("Manage builds", {
        "build": "Build an image from a Dockerfile",
        "prune": "Remove build cache",
    }),
    "bootstrap": ("Build base images without a registry", {
        "busybox": "Import a busybox image built from the host's busybox-static",
        "debian": "Import a Debian image built with mmdebstrap",
    }),
}
TOP_LEVEL = {
    "build": "Build an image from a Dockerfile",
    "images": "List images", "import": "Import the contents from a tarball to create a "
    "filesystem image", "info": "Display system-wide information",
    "inspect": "Return low-level information on Docker objects",
    "history": "Show the history of an image", "load": "Load an image from a tar archive or STDIN",
    "login": "Authenticate to a registry", "logout": "Log out from a registry",
    "pull": "Download an image from a registry", "push": "Upload an image to a registry",
    "rmi": "Remove one or more images", "save": "Save one or more images to a tar archive "
    "(streamed to STDOUT by default)", "tag": "Create a tag TARGET_IMAGE that refers to "
    "SOURCE_IMAGE", "version": "Show the dockyard version information",
    "registry": "Run an OCI distribution registry (serve, gc)",
    "run": "Create and run a new container from an image",
    "exec": "Execute a command in a running container",
    "ps": "List containers", "attach": "Attach local standard input, output, and error "
    "streams to a running container", "commit": "Create a new image from a container's "
    "changes", "create": "Create a new container", "diff": "Inspect changes to files or "
    "directories on a container's filesystem", "export": "Export a container's filesystem "
    "as a tar archive", "kill": "Kill one or more running containers",
    "logs": "Fetch the logs of a container", "pause": "Pause all processes within one or "
    "more containers", "port": "List port mappings or a specific mapping for the container",
    "rename": "Rename a container", "restart": "Restart one or more containers",
    "rm": "Remove one or more containers", "start": "Start one or more stopped containers",
    "stop": "Stop one or more running containers", "top": "Display the running processes "
    "of a container", "unpause": "Unpause all processes within one or more containers",
    "wait": "Block until one or more containers stop, then print their exit codes",
    "cp": "Copy files/folders between a container and the local filesystem",
    "events": "Get real time events from the server",
    "stats": "Display a live stream of container(s) resource usage statistics",
}
GLOBAL = Command("", "[OPTIONS] COMMAND", "A container engine compatible with Docker", (
    Flag("debug", "D", help="Enable debug mode"),
    Flag("host", "H", "list", "Daemon socket to connect to", metavar="list"),
    Flag("log-level", "l", "string", 'Set the logging level ("debug", "info", "warn", '
         '"error", "fatal")', default="info"),
    Flag("version", "v", help="Print version information and quit"),
), interspersed=False)


def top_help() -> str:
    lines = ["Usage:  dockyard [OPTIONS] COMMAND", "", GLOBAL.short, "", "Commands:"]
    lines += [f"  {name:<11} {text}" for name, text in sorted(TOP_LEVEL.items())]
    lines += ["", "Management Commands:"]
    lines += [f"  {name:<11} {text}" for name, (text, _) in sorted(GROUPS.items())]
    from dockyard.cli.flags import flag_usages

    lines += ["", "Global Options:", *flag_usages(GLOBAL.flags), "",
              "Run 'dockyard COMMAND --help' for more information on a command.", ""]
    return "\n".join(lines)


def group_help(group: str) -> str:
    text, subs = GROUPS[group]
    lines = [f"Usage:  dockyard {group} COMMAND", "", text, "", "Commands:"]
    lines += [f"  {name:<11} {desc}" for name, desc in sorted(subs.items())]
    lines += ["", f"Run 'dockyard {group} COMMAND --help' for more information on a command.", ""]
    return "\n".join(lines)


def _resolve(words: list[str]) -> tuple[str, list[str]]:
    """The command path (``image ls``) and its arguments; UsageError for an unknown one."""
    first = words[0]
    if first in GROUPS:
        rest = words[1:]
        if not rest or rest[0] in ("--help", "-h"):
            raise _GroupHelp(group_help(first), 0, to_err=not rest)
        path = f"{first} {rest[0]}"
        if path not in COMMANDS:
            raise UsageError(f"dockyard: unknown command: dockyard {path}\n\nUsage:  dockyard "
                             f"{first}\n\nRun 'dockyard {first} --help' for more information", 1)
        return path, rest[1:]
    if first not in COMMANDS:
        raise UsageError(f"dockyard: unknown command: dockyard {first}\n\n"
                         "Run 'dockyard --help' for more information", 1)
    return first, words[1:]


class _GroupHelp(Exception):
    def __init__(self, text: str, code: int, to_err: bool) -> None:
        super().__init__(text)
        self.code = code
        self.to_err = to_err  # a bare group name prints its help on stderr, as cobra does


def _host(parsed: Parsed, environ: dict[str, str]) -> str:
    hosts = parsed.strings("host")
    if len(hosts) > 1:
        raise StatusError("specify only one -H")
    return hosts[0] if hosts else environ.get("DOCKYARD_HOST") or DEFAULT_HOST


def run(argv: Sequence[str], session: Session | None = None,
        environ: dict[str, str] | None = None) -> int:
    """Run one command line; returns the exit status. Output goes to the session's streams."""
    env = dict(os.environ) if environ is None else environ
    err = session.err if session is not None else sys.stderr
    out = session.out if session is not None else sys.stdout
    try:
        top = parse(GLOBAL, argv)
        if top.flag("version"):
            from dockyard import __version__

            out.write(f"dockyard version {__version__}\n")
            return 0
        if not top.args:
            out.write(top_help())
            return 0
        if top.args[0] == "registry":
            _exec_registry(top.args[1:])
        path, rest = _resolve(top.args)
        module_name, spec_name, run_name = COMMANDS[path]
        module = import_module(f"dockyard.cli.commands.{module_name}")
        command: Command = getattr(module, spec_name)
        parsed = parse(command, rest)
        if session is None:
            session = Session(_host(top, env), environ=env)
        elif not session.host:
            session.host = _host(top, env)
        try:
            code: int = getattr(module, run_name)(session, command, parsed)
        finally:
            session.close()
        return code
    except HelpRequested:
        out.write(top_help() if not top_args(argv) else _command_help(argv))
        return 0
    except _GroupHelp as exc:
        (err if exc.to_err else out).write(str(exc))
        return exc.code
    except UsageError as exc:
        err.write(f"{exc}\n")
        return exc.exit_code
    except StatusError as exc:
        if str(exc):
            err.write(f"{exc}\n")
        return exc.exit_code
    except Exception as exc:
        return _report(exc, err)


def _exec_registry(args: list[str]) -> None:
    """``dockyard registry ...`` is its own program (the distribution server never loads into
    the CLI): replace this process with ``python -m dockyard.registry``."""
    sys.stdout.flush()
    os.execv(sys.executable, [sys.executable, "-m", "dockyard.registry", *args])


def top_args(argv: Sequence[str]) -> list[str]:
    try:
        return parse(GLOBAL, [a for a in argv if a not in ("--help", "-h")]).args
    except UsageError:
        return []


def _command_help(argv: Sequence[str]) -> str:
    words = [w for w in top_args(argv) if not w.startswith("-")]
    for length in (2, 1):
        path = " ".join(words[:length])
        if path in COMMANDS:
            module_name, spec_name, _ = COMMANDS[path]
            module = import_module(f"dockyard.cli.commands.{module_name}")
            return help_text(getattr(module, spec_name))
    if words and words[0] in GROUPS:
        return group_help(words[0])
    return top_help()


def _report(exc: Exception, err: TextIO) -> int:
    from dockyard.client import DaemonError
    from dockyard.errors import DockyardError

    stream = err
    if isinstance(exc, DaemonError):
        stream.write(f"Error response from daemon: {exc}\n")
        return 1
    if isinstance(exc, DockyardError):
        stream.write(f"{exc}\n")
        return 1
    if isinstance(exc, BrokenPipeError):
        return 141
    if isinstance(exc, KeyboardInterrupt):
        return 130
    raise exc


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    try:
        code = run(args)
    except KeyboardInterrupt:
        return 130
    try:
        sys.stdout.flush()
    except BrokenPipeError:
        return 141
    return code
