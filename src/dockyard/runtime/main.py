"""``dockyard-runtime``: an OCI runtime with runc's command line.

Each command imports only what it needs (the one-shot ``run`` competes with runc on start-up
time); errors are logged as runc logs them (``log.py``) and end the process with status 1,
``exec`` failures with 255, ``run`` and ``exec`` otherwise with the container process's status.
"""

from __future__ import annotations

import os
import sys

from dockyard.errors import DockyardError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from dockyard.runtime.cli import Command
    from dockyard.runtime.state import StateRoot
    from dockyard.sys import Syscalls

USAGE = """\
usage: dockyard-runtime [global options] command [command options] [arguments...]

An OCI runtime with runc's command line.

commands:
   create   create a container (its process waits for start)
   start    start the process of a created container
   run      create and start a container (in the foreground unless --detach)
   state    output the state of a container
   kill     send a signal to the container's init (--all: to every process)
   delete   delete a stopped container (--force: kill it first)
   exec     run a new process inside a container
   ps       list the processes of a container
   list     list the containers under --root
   pause    suspend every process of a container
   resume   resume a paused container
   update   change a container's resource limits
   events   resource usage (--stats: once) and OOM kills of a container
   spec     write runc's starter config.json into a bundle
   features print what this runtime supports (JSON)

global options:
   --root value        state directory (default: /run/dockyard-runtime)
   --log value         log file (default: stderr)
   --log-format value  text or json (default: text)
   --debug             debug logging
"""
_FAILED = {"create": "dockyard-runtime create failed: ", "run": "dockyard-runtime run failed: ",
           "exec": "exec failed: "}
PR_SET_DUMPABLE = 4


def main(argv: list[str] | None = None) -> int:
    """The command line; as the console script (no ``argv``) the process ends here."""
    import gc

    gc.disable()  # a one-shot command: collections only cost time (and copies after fork)
    try:
        status = _main(argv)
    finally:
        gc.enable()
    if argv is None:
        # Skip the interpreter's teardown of every module (a few ms of a one-shot command):
        # nothing is left to do but flushing stdio.
        for stream in (sys.stdout, sys.stderr):
            try:
                stream.flush()
            except OSError:  # a reader that went away (EPIPE): nothing more to tell it
                status = status or 1
        os._exit(status)
    return status


def _main(argv: list[str] | None) -> int:
    from dockyard.runtime import cli
    from dockyard.runtime.log import LogSink

    args = sys.argv[1:] if argv is None else argv
    try:
        command = cli.parse(args)
        sink = LogSink(str(command.option("log")), str(command.option("log-format")))
    except (DockyardError, ValueError) as exc:
        sys.stderr.write(f"dockyard-runtime: {exc}\n")
        return 1
    if command.option("version"):
        from dockyard import __version__
        from dockyard.runtime.state import OCI_VERSION

        print(f"dockyard-runtime version {__version__}\nspec: {OCI_VERSION}")
        return 0
    if not command.command or command.option("help"):
        sys.stdout.write(USAGE)
        return 0
    if command.option("debug"):
        sink.attach_logging()
    try:
        return _dispatch(command)
    except DockyardError as exc:
        sink.error(_FAILED.get(command.command, "") + str(exc))
        return 255 if command.command == "exec" else 1
    except OSError as exc:
        sink.error(_FAILED.get(command.command, "") + str(exc))
        return 255 if command.command == "exec" else 1


def _root(command: Command) -> StateRoot:
    from dockyard.runtime.state import DEFAULT_ROOT, StateRoot

    return StateRoot(os.path.abspath(str(command.option("root") or DEFAULT_ROOT)))


def _syscalls() -> Syscalls:
    from dockyard.sys import real

    sys_ = real()
    sys_.prctl(PR_SET_DUMPABLE, 0)  # the runtime's own /proc entries, for a host pid namespace
    return sys_


def _dispatch(command: Command) -> int:
    from dockyard.runtime import cli

    name = command.command
    if name in ("create", "run"):
        return _create(command)
    if name == "exec":
        return _exec(command)
    if name == "kill":
        cli.at_least(command, 1)
        if len(command.args) > 2:
            cli.exactly(command, 2)
        from dockyard.runtime.ops.kill import kill, parse_signal

        signal = parse_signal(command.args[1] if len(command.args) > 1 else "SIGTERM")
        kill(_root(command), command.args[0], signal, all_processes=bool(command.flag("all")))
        return 0
    if name == "list":
        return _list(command)
    if name == "ps":
        return _ps(command)
    if name in ("spec", "features"):
        return _spec(command)
    cli.exactly(command, 1)
    container_id = command.args[0]
    if name == "start":
        from dockyard.runtime.ops.start import start

        start(_root(command), container_id, _syscalls())
    elif name == "state":
        from dockyard.runtime.ops.state import render, state

        sys.stdout.write(render(state(_root(command), container_id)))
    elif name == "delete":
        from dockyard.runtime.ops.delete import delete

        delete(_root(command), container_id, force=bool(command.flag("force")),
               sys=_syscalls())
    elif name in ("pause", "resume"):
        from dockyard.runtime.ops import pause

        (pause.pause if name == "pause" else pause.resume)(_root(command), container_id)
    elif name == "update":
        _update(command)
    elif name == "events":
        _events(command)
    return 0


def _create(command: Command) -> int:
    from dockyard.runtime import cli, validate
    from dockyard.runtime.ops.create import CreateOptions

    cli.exactly(command, 1)
    options = CreateOptions(
        bundle=str(command.flag("bundle") or os.getcwd()),
        pid_file=str(command.flag("pid-file")),
        console_socket=str(command.flag("console-socket")),
        no_pivot=bool(command.flag("no-pivot")),
        fds=validate.preserved_fds(int(command.flag("preserve-fds"))),  # type: ignore[call-overload]
        detach=command.command == "create" or bool(command.flag("detach")),
    )
    if command.command == "create":
        from dockyard.runtime.ops.create import create

        created = create(_root(command), command.args[0], options, _syscalls())
        os.close(created.pidfd)
        return 0
    from dockyard.runtime.ops.run import run

    return run(_root(command), command.args[0], options, _syscalls(),
               keep=bool(command.flag("keep")))


def _exec(command: Command) -> int:
    from dockyard.errors import InvalidArgument
    from dockyard.runtime import cli, validate
    from dockyard.runtime.ops import exec as ops

    cli.at_least(command, 1)
    root = _root(command)
    container_id = command.args[0]
    path = str(command.flag("process"))
    if path:
        process = ops.load_process(path)
    else:
        if len(command.args) == 1:
            raise InvalidArgument("process args cannot be empty")
        _, spec = ops.container(root, container_id)
        if spec.process is None:
            raise InvalidArgument("config.json: process: missing")
        process = ops.process_from(spec.process, ops.Overrides(
            args=command.args[1:], cwd=str(command.flag("cwd")),
            env=command.flag("env"),  # type: ignore[arg-type]
            user=str(command.flag("user")),
            additional_gids=command.flag("additional-gids"),  # type: ignore[arg-type]
            caps=command.flag("cap"),  # type: ignore[arg-type]
            tty=bool(command.flag("tty")),
            no_new_privs=True if command.flag("no-new-privs") else None,
        ))
    options = ops.ExecOptions(
        fds=validate.preserved_fds(int(command.flag("preserve-fds"))),  # type: ignore[call-overload]
        console_socket=str(command.flag("console-socket")),
        pid_file=str(command.flag("pid-file")), detach=bool(command.flag("detach")),
        ignore_paused=bool(command.flag("ignore-paused")))
    status = ops.execute(root, container_id, process, options, _syscalls())
    return 0 if options.detach else status


def _list(command: Command) -> int:
    from dockyard.errors import InvalidArgument
    from dockyard.runtime import cli
    from dockyard.runtime.ops.list import containers, render_json, table

    cli.exactly(command, 0)
    states = containers(_root(command))
    if command.flag("quiet"):
        sys.stdout.write("".join(f"{s.id}\n" for s in states))
    elif command.flag("format") == "table":
        sys.stdout.write(table(states))
    elif command.flag("format") == "json":
        sys.stdout.write(render_json(states))
    else:
        raise InvalidArgument("invalid format option")
    return 0


def _ps(command: Command) -> int:
    from dockyard.errors import InvalidArgument
    from dockyard.runtime import cli
    from dockyard.runtime.jsontext import dumps
    from dockyard.runtime.ops.ps import pids, ps_table

    cli.at_least(command, 1)
    found = pids(_root(command), command.args[0])
    if command.flag("format") == "json":
        sys.stdout.write(dumps(found) + "\n")
    elif command.flag("format") == "table":
        sys.stdout.write(ps_table(found, list(command.args[1:])))
    else:
        raise InvalidArgument("invalid format option")
    return 0


def _update(command: Command) -> None:
    from dockyard.runtime.ops import update

    path = str(command.flag("resources"))
    if path:
        try:
            if path == "-":
                data = sys.stdin.buffer.read()
            else:
                with open(path, "rb") as file:
                    data = file.read()
        except OSError as exc:
            from dockyard.errors import InvalidArgument

            raise InvalidArgument(f"--resources {path}: {exc.strerror}") from exc
        resources = update.read_resources(data, path if path != "-" else "stdin")
    else:
        resources = update.from_flags(command.flags)
    update.update(_root(command), command.args[0], resources)


def _events(command: Command) -> None:
    from dockyard.runtime.ops import events

    interval = events.parse_interval(str(command.flag("interval")))
    container_id = command.args[0]
    if command.flag("stats"):
        sample = events.stats(_root(command), container_id)
        sys.stdout.write(events.render("stats", container_id, sample))
        return

    def emit(line: str) -> None:
        sys.stdout.write(line)
        sys.stdout.flush()

    events.watch(_root(command), container_id, interval, emit)


def _spec(command: Command) -> int:
    from dockyard.runtime import cli

    cli.exactly(command, 0)
    if command.command == "features":
        from dockyard.runtime.ops.features import render

        sys.stdout.write(render())
        return 0
    from dockyard.runtime.ops.spec import write

    write(str(command.flag("bundle")), as_rootless=bool(command.flag("rootless")))
    return 0
