"""``exec`` and ``attach``, as docker 28's cli/command/container exec.go and attach.go.

exec: inspect the container (a missing one is the first error), create the exec, start it
detached (a plain POST) or attached (101 and the streams), then exit with the exec's
ExitCode from ``GET /exec/{id}/json``. attach: wait (not-running), inspect, attach and stream;
a detach with the keys ends both with "read escape sequence" (exit status 1), as docker's do.
"""

from __future__ import annotations

from dockyard.cli.flags import Command, Flag, Parsed
from dockyard.cli.session import Session, StatusError

EXEC = Command("exec", "[OPTIONS] CONTAINER COMMAND [ARG...]",
               "Execute a command in a running container", (
                   Flag("detach", "d", help="Detached mode: run command in the background"),
                   Flag("detach-keys", "", "string",
                        "Override the key sequence for detaching a container"),
                   Flag("env", "e", "list", "Set environment variables"),
                   Flag("env-file", "", "list", "Read in a file of environment variables"),
                   Flag("interactive", "i", help="Keep STDIN open even if not attached"),
                   Flag("privileged", "", help="Give extended privileges to the command"),
                   Flag("tty", "t", help="Allocate a pseudo-TTY"),
                   Flag("user", "u", "string",
                        'Username or UID (format: "<name|uid>[:<group|gid>]")'),
                   Flag("workdir", "w", "string", "Working directory inside the container"),
               ), min_args=2, interspersed=False,
               aliases="dockyard container exec, dockyard exec")
CONTAINER_EXEC = Command("container exec", EXEC.usage, EXEC.short, EXEC.flags, min_args=2,
                         interspersed=False, aliases=EXEC.aliases)
ATTACH = Command("attach", "[OPTIONS] CONTAINER",
                 "Attach local standard input, output, and error streams to a running "
                 "container", (
                     Flag("detach-keys", "", "string",
                          "Override the key sequence for detaching a container"),
                     Flag("no-stdin", "", help="Do not attach STDIN"),
                     Flag("sig-proxy", "", help="Proxy all received signals to the process",
                          default=True),
                 ), min_args=1, max_args=1, aliases="dockyard container attach, dockyard attach")
CONTAINER_ATTACH = Command("container attach", ATTACH.usage, ATTACH.short, ATTACH.flags,
                           min_args=1, max_args=1, aliases=ATTACH.aliases)


def exec_body(session: Session, parsed: Parsed) -> dict[str, object]:
    """parseExec: docker's ExecOptions in the order the Go client sends them."""
    from dockyard.cli.optvalues import env_value, read_kv_file

    env: list[str] = []
    for path in parsed.strings("env_file"):
        try:
            env += read_kv_file(path, True, session.environ)
        except ValueError as exc:
            raise StatusError(str(exc)) from exc
    env += [env_value(text, session.environ) for text in parsed.strings("env")]
    detach, interactive = parsed.flag("detach"), parsed.flag("interactive")
    return {"User": parsed.string("user"), "Privileged": parsed.flag("privileged"),
            "Tty": parsed.flag("tty"), "AttachStdin": interactive and not detach,
            "AttachStderr": not detach, "AttachStdout": not detach, "Detach": detach,
            "DetachKeys": parsed.string("detach_keys"), "Env": env or None,
            "WorkingDir": parsed.string("workdir"), "Cmd": parsed.args[1:]}


def run_exec(session: Session, command: Command, parsed: Parsed) -> int:
    name = parsed.args[0]
    body = exec_body(session, parsed)
    client = session.client()
    client.get(f"/containers/{name}/json")  # a missing container is the first error
    if not body["Detach"] and body["AttachStdin"] and body["Tty"] and \
            not session.in_is_terminal():
        raise StatusError("the input device is not a TTY")
    created = client.call("POST", f"/containers/{name}/exec", json_body=body)
    exec_id = str((created or {}).get("Id") or "")
    if not exec_id:
        raise StatusError("exec ID empty")
    if body["Detach"]:
        client.call("POST", f"/exec/{exec_id}/start",
                    json_body={"Detach": True, "Tty": body["Tty"]})
        return 0
    from dockyard.cli.containerio import exec_attached

    return exec_attached(session, exec_id, bool(body["Tty"]), bool(body["AttachStdin"]),
                         parsed.string("detach_keys"))


def run_attach(session: Session, command: Command, parsed: Parsed) -> int:
    from dockyard.cli.containerio import attach

    return attach(session, parsed.args[0], parsed.flag("no_stdin"),
                  parsed.string("detach_keys"), parsed.flag("sig_proxy"))
