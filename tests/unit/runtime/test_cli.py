"""runc's command line as containerd, docker and people write it."""

from __future__ import annotations

import io

import pytest

from dockyard.errors import InvalidArgument, Unsupported
from dockyard.runtime.cli import exactly, parse
from dockyard.runtime.log import LogSink, format_line
from dockyard.runtime.ops.kill import parse_signal


def test_containerd_create_line() -> None:
    command = parse(["--root", "/run/containerd/runc/moby", "--log", "/x/log.json",
                     "--log-format", "json", "create", "--bundle", "/b", "--pid-file",
                     "/b/init.pid", "--console-socket", "/tmp/s.sock", "abc"])
    assert command.command == "create"
    assert command.args == ("abc",)
    assert command.option("root") == "/run/containerd/runc/moby"
    assert command.option("log-format") == "json"
    assert command.flags == {"bundle": "/b", "pid-file": "/b/init.pid",
                             "console-socket": "/tmp/s.sock"}
    assert command.flag("no-pivot") is False
    assert command.flag("preserve-fds") == 0


def test_go_flag_spellings_and_reordering() -> None:
    command = parse(["-root=/r", "run", "id1", "-b", "/b", "--detach", "--preserve-fds=2",
                     "-no-pivot=false"])
    assert command.option("root") == "/r"
    assert command.args == ("id1",)
    assert command.flags == {"bundle": "/b", "detach": True, "preserve-fds": 2,
                             "no-pivot": False}


def test_exec_keeps_everything_after_the_id() -> None:
    command = parse(["exec", "-t", "-e", "A=1", "--env", "B=2", "-u", "1000:1000", "-g", "10",
                     "c1", "sh", "-c", "echo -e x", "--tty"])
    assert command.args == ("c1", "sh", "-c", "echo -e x", "--tty")
    assert command.flags == {"tty": True, "env": ("A=1", "B=2"), "user": "1000:1000",
                             "additional-gids": (10,)}


def test_double_dash_ends_flags() -> None:
    assert parse(["kill", "--", "c1", "-9"]).args == ("c1", "-9")


@pytest.mark.parametrize(("argv", "message"), [
    (["create", "--bogus", "c"], "create: flag provided but not defined: -bogus"),
    (["create", "--bundle"], "flag needs an argument: -bundle"),
    (["run", "--preserve-fds", "x", "c"], "invalid value 'x' for flag -preserve-fds"),
    (["nosuch"], "No help topic for 'nosuch'"),
])  # fmt: skip
def test_errors(argv: list[str], message: str) -> None:
    with pytest.raises(InvalidArgument) as caught:
        parse(argv)
    assert str(caught.value) == message


def test_unsupported_commands_and_arity() -> None:
    with pytest.raises(Unsupported):
        parse(["checkpoint", "c"])
    with pytest.raises(InvalidArgument, match="requires exactly 1 argument"):
        exactly(parse(["state"]), 1)


@pytest.mark.parametrize(("text", "number"), [
    ("9", 9), ("KILL", 9), ("SIGKILL", 9), ("kill", 9), ("sigterm", 15), ("TERM", 15),
    ("SIGRTMIN", 34), ("RTMIN+2", 36), ("SIGRTMAX-1", 63), ("WINCH", 28),
])  # fmt: skip
def test_signals_by_name_and_number(text: str, number: int) -> None:
    assert parse_signal(text) == number


def test_unknown_signal() -> None:
    with pytest.raises(InvalidArgument, match="unknown signal 'FOO'"):
        parse_signal("FOO")


def test_log_lines_in_logrus_formats() -> None:
    moment = 1_764_280_743.0
    assert format_line("error", 'no such "x"', "text", moment) == \
        'time="2025-11-27T21:59:03Z" level=error msg="no such \\"x\\""\n'
    assert format_line("error", "boom", "text", moment) == \
        'time="2025-11-27T21:59:03Z" level=error msg=boom\n'
    assert format_line("error", "a <b>", "json", moment) == \
        '{"level":"error","msg":"a \\u003cb\\u003e","time":"2025-11-27T21:59:03Z"}\n'


def test_errors_go_to_the_log_file_and_bare_to_stderr(tmp_path) -> None:
    stderr = io.StringIO()
    sink = LogSink(str(tmp_path / "log.json"), "json", stderr)
    sink.error("container does not exist")
    assert stderr.getvalue() == "container does not exist\n"
    assert '"msg":"container does not exist"' in (tmp_path / "log.json").read_text()
    only_stderr = io.StringIO()
    LogSink("", "text", only_stderr).error("x y")
    assert only_stderr.getvalue().endswith('level=error msg="x y"\n')
