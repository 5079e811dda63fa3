"""Hooks run as runc runs them: state on stdin, argv and env rules, failures and timeouts."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import pytest

from dockyard.errors import Unavailable
from dockyard.runtime.hooks import HookState, run
from dockyard.runtime.spec import Hook
from dockyard.sys import real

STATE = HookState(id="c1", status="creating", bundle="/b", pid=42,
                  annotations={"z": "1", "a": "<2>"})


def test_state_json_is_runcs() -> None:
    assert STATE.to_json() == ('{"ociVersion":"1.0.2-dev","id":"c1","status":"creating",'
                               '"pid":42,"bundle":"/b","annotations":{"a":"\\u003c2\\u003e",'
                               '"z":"1"}}')
    assert HookState(id="c1", status="stopped", bundle="/b").to_json() == \
        '{"ociVersion":"1.0.2-dev","id":"c1","status":"stopped","bundle":"/b"}'


def test_hooks_get_the_state_argv_and_env_in_order(tmp_path: Path) -> None:
    log = tmp_path / "log"
    script = ('read -r state; printf "%s|%s|%s|%s\\n" "$0" "$1" "$X" "$state" >> ' + str(log))
    hooks = (Hook(path="/bin/sh", args=("sh", "-c", script, "first")),
             Hook(path="/bin/sh", args=("sh", "-c", script, "second"), env=("X=set",)))
    run("prestart", hooks, STATE, real(), env={"X": "inherited"})
    lines = log.read_text().splitlines()
    assert [line.split("|")[:3] for line in lines] == [["first", "", "inherited"],
                                                       ["second", "", "set"]]
    assert [json.loads(line.split("|")[3]) for line in lines] == [json.loads(STATE.to_json())] * 2


def test_without_args_argv_is_the_path(tmp_path: Path) -> None:
    script = tmp_path / "hook"
    script.write_text(f"#!/bin/sh\necho \"$0 $#\" > {tmp_path}/out\n")
    script.chmod(0o755)
    run("poststop", (Hook(path=str(script)),), STATE, real())
    assert (tmp_path / "out").read_text() == f"{script} 0\n"


def test_a_failing_hook_reports_status_and_output_and_stops_the_list(tmp_path: Path) -> None:
    hooks = (Hook(path="/bin/sh", args=("sh", "-c", "echo out; echo err >&2; exit 3")),
             Hook(path="/bin/sh", args=("sh", "-c", f"touch {tmp_path}/second")))
    with pytest.raises(Unavailable) as caught:
        run("createRuntime", hooks, STATE, real())
    assert str(caught.value) == ("error running createRuntime hook #0: error running hook: "
                                 "exit status 3, stdout: out\n, stderr: err\n")
    assert not (tmp_path / "second").exists()


def test_a_killed_hook_and_one_that_cannot_be_executed() -> None:
    with pytest.raises(Unavailable, match=r"hook #0: error running hook: signal: killed"):
        run("poststart", (Hook(path="/bin/sh", args=("sh", "-c", "kill -9 $$")),), STATE,
            real())
    with pytest.raises(Unavailable, match=r"hook #0: fork/exec /nonexistent: No such file"):
        run("poststart", (Hook(path="/nonexistent"),), STATE, real())


def test_a_hook_past_its_timeout_is_killed() -> None:
    start = time.monotonic()
    with pytest.raises(Unavailable, match=r"hook ran past specified timeout of 1\.0s"):
        run("prestart", (Hook(path="/bin/sleep", args=("sleep", "30"), timeout=1),), STATE,
            real())
    assert time.monotonic() - start < 5


def test_a_hook_that_ignores_stdin_and_a_large_state(tmp_path: Path) -> None:
    big = HookState(id="c", status="created", bundle="/b",
                    annotations={f"k{i}": "v" * 1000 for i in range(200)})
    run("startContainer", (Hook(path="/bin/true"),), big, real())
    run("startContainer", (Hook(path="/bin/sh", args=("sh", "-c", f"wc -c > {tmp_path}/n")),),
        big, real())
    assert int((tmp_path / "n").read_text()) == len(big.to_json())


def test_nothing_of_ours_leaks_into_a_hook(tmp_path: Path) -> None:
    fd = os.open(tmp_path, os.O_RDONLY)  # inheritable on purpose
    os.set_inheritable(fd, True)
    try:
        run("prestart", (Hook(path="/bin/sh", args=("sh", "-c",
                                                    f"ls /proc/self/fd > {tmp_path}/fds")),),
            STATE, real())
    finally:
        os.close(fd)
    assert sorted(int(n) for n in (tmp_path / "fds").read_text().split()) == [0, 1, 2, 3]
