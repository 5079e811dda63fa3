"""Metadata steps: configs and history comments as dockerd 20.10 writes them, Go's formatting,
and the pieces of RUN (command line, build-arg prefix)."""

from __future__ import annotations

import pytest

from dockyard.build.gofmt import duration, health_struct, quote_list, quote_rune, value_list
from dockyard.build.instructions import (
    Cmd,
    Entrypoint,
    Env,
    Expose,
    Healthcheck,
    HeredocFile,
    KeyValue,
    Run,
    Shell,
    StopSignal,
    Workdir,
)
from dockyard.build.run import build_arg_env, command, failure, recorded
from dockyard.build.steps import (
    DEFAULT_PATH,
    apply,
    check_signal,
    merge_health,
    nop_command,
    parse_ports,
    with_default_path,
    workdir,
)
from dockyard.errors import InvalidArgument
from dockyard.oci.config import ContainerConfig
from dockyard.oci.config import Healthcheck as Health


@pytest.mark.parametrize(("ns", "text"), [
    (0, "0s"), (1, "1ns"), (1500, "1.5\u00b5s"), (2_000_000, "2ms"), (1_500_000_000, "1.5s"),
    (300_000_000_000, "5m0s"), (3_723_000_000_000, "1h2m3s"), (-90_000_000_000, "-1m30s"),
])
def test_duration(ns: int, text: str) -> None:
    assert duration(ns) == text


def test_go_formats() -> None:
    assert quote_list(["a b", 'q"']) == '["a b" "q\\""]'
    assert quote_list(None) == "[]"
    assert value_list(["/a", "/b"]) == "[/a /b]"
    assert [quote_rune(n) for n in (0, 2, 65, 39, 10)] == ["'\\x00'", "'\\x02'", "'A'", "'\\''",
                                                           "'\\n'"]
    health = Health(("CMD", "true"), 0, 0, 10_000_000_000, 0, 0)
    assert health_struct(health) == '&{["CMD" "true"] "0s" "0s" "10s" \'\\x00\'}'


def test_env_and_history_comment() -> None:
    config = with_default_path(ContainerConfig())
    env = Env(env=(KeyValue("PATH", "/x:" + DEFAULT_PATH[5:]), KeyValue("A", "1")))
    change = apply(env, config, cmd_set=False)
    assert change.config.env == ("PATH=/x:" + DEFAULT_PATH[5:], "A=1")
    assert nop_command(change.config, change.comment, change.one_word) == (
        "/bin/sh", "-c", "#(nop) ", f"ENV PATH=/x:{DEFAULT_PATH[5:]} A=1")


def test_cmd_entrypoint_and_shell() -> None:
    config = ContainerConfig(cmd=("sh",))
    shell = apply(Shell(shell=("/bin/bash", "-c")), config, False)
    assert shell.comment == "SHELL [/bin/bash -c]"
    cmd = apply(Cmd(command=("echo hi",)), shell.config, False)
    assert cmd.config.cmd == ("/bin/bash", "-c", "echo hi") and cmd.cmd_set
    assert cmd.comment == 'CMD ["/bin/bash" "-c" "echo hi"]'
    # ENTRYPOINT drops an inherited CMD, keeps one set in this stage
    assert apply(Entrypoint(command=("x",), shell_form=False), config, False).config.cmd is None
    kept = apply(Entrypoint(command=("x",), shell_form=False), cmd.config, True)
    assert kept.config.cmd == ("/bin/bash", "-c", "echo hi")
    assert kept.comment == 'ENTRYPOINT ["x"]'
    assert not apply(Cmd(command=()), config, False).cmd_set


def test_healthcheck_note_and_merge() -> None:
    first = apply(Healthcheck(test=("CMD-SHELL", "a"), interval=5), ContainerConfig(), False)
    second = apply(Healthcheck(test=("NONE",)), first.config, False)
    assert second.note == "Note: overriding previous HEALTHCHECK: [CMD-SHELL a]\n"
    assert merge_health(second.config.healthcheck, first.config.healthcheck) == Health(
        ("NONE",), 5, 0, 0, 0, 0)


def test_workdir_and_signals_and_ports() -> None:
    assert workdir("/a", "b/../c") == "/a/c"
    assert workdir("", "rel") == "/rel"
    assert workdir("/a", "/abs/") == "/abs/"
    change = apply(Workdir(path="x"), ContainerConfig(working_dir="/w"), False)
    assert (change.config.working_dir, change.comment, change.one_word) == (
        "/w/x", "WORKDIR /w/x", True)
    for good in ("SIGTERM", "term", "9", "RTMIN+3", "SIGRTMAX-1"):
        check_signal(good)
    for bad in ("0", "SIGNOPE", "RTMIN+30"):
        with pytest.raises(InvalidArgument, match="Invalid signal"):
            check_signal(bad)
    with pytest.raises(InvalidArgument):
        apply(StopSignal(signal="BOGUS"), ContainerConfig(), False)
    assert parse_ports(["80", "53/UDP", "8000-8002", "127.0.0.1:8080:90"]) == [
        "80/tcp", "53/udp", "8000/tcp", "8001/tcp", "8002/tcp", "90/tcp"]
    for bad, message in (("abc", "Invalid containerPort"), ("80/xyz", "Invalid proto")):
        with pytest.raises(InvalidArgument, match=message):
            parse_ports([bad])
    assert apply(Expose(ports=("443/udp", "80")), ContainerConfig(), False).comment == \
        "EXPOSE 443/udp 80"


def test_run_command_and_recorded_args() -> None:
    config = ContainerConfig()
    assert command(Run(command=("echo hi",)), config) == ("/bin/sh", "-c", "echo hi")
    assert command(Run(command=("ls", "-l"), shell_form=False), config) == ("ls", "-l")
    lone = Run(command=("<<EOF",), heredocs=(HeredocFile("EOF", "echo a\necho b\n"),))
    assert command(lone, config) == ("/bin/sh", "-c", "echo a\necho b\n")
    piped = Run(command=("cat <<EOF > /x",), heredocs=(HeredocFile("EOF", "data\n"),))
    assert command(piped, config) == ("/bin/sh", "-c", "cat <<EOF > /x\ndata\nEOF")
    args = build_arg_env({"B": "2", "A": "1", "HTTP_PROXY": "p", "E": "x"}, ["E=env"])
    assert args == ["B=2", "A=1", "HTTP_PROXY=p"]
    assert recorded(args, {"A", "B"}) == ("|2", "A=1", "B=2")
    assert recorded(["HTTP_PROXY=p"], set()) == ("|0",)
    assert recorded([], set()) == ()
    assert failure(("/bin/sh", "-c", "exit 3"), 3) == \
        "The command '/bin/sh -c exit 3' returned a non-zero code: 3"
