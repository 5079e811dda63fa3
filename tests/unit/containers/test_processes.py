"""``docker top``'s parts: ps -ef from /proc equals procps' own, dockerd's parsing of ps
output (threads, overhanging fields), the ps_args check, the cgroup of a process."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys

import pytest

from dockyard.containers.processes import (
    TITLES,
    Table,
    cgroup_procs,
    check_ps_args,
    container_pids,
    parse_ps_output,
    ps_ef,
)
from dockyard.errors import Internal, InvalidArgument


@pytest.mark.skipif(shutil.which("ps") is None, reason="needs procps' ps")
def test_ps_ef_as_procps() -> None:
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        pids = sorted([os.getpid(), child.pid])  # ps -q keeps the given order; ours is by pid
        ours = ps_ef(pids)
        env = {k: v for k, v in os.environ.items() if k not in ("COLUMNS", "LINES")}
        out = subprocess.run(["ps", "-ef", "-q", ",".join(map(str, pids))], check=True,
                             capture_output=True, text=True, env=env).stdout
        theirs = parse_ps_output(out, pids)
        assert ours.titles == theirs.titles == TITLES
        # C (cpu %) may move between the two reads; everything else is the same
        assert [r[:3] + r[4:] for r in ours.processes] == \
            [r[:3] + r[4:] for r in theirs.processes]
    finally:
        child.kill()
        child.wait()


def test_parse_ps_output() -> None:
    output = ("USER PID %CPU COMMAND\n"
              "root 1 0.0 sleep 100 extra words\n"
              "root - 0.0 -\n"
              "root 7 0.0 other\n"
              "root - 0.0 -\n"
              "\n")
    assert parse_ps_output(output, [1]) == Table(
        ("USER", "PID", "%CPU", "COMMAND"),
        (("root", "1", "0.0", "sleep 100 extra words"), ("root", "-", "0.0", "-")))
    assert parse_ps_output(output, [1]).to_json()["Titles"] == ["USER", "PID", "%CPU",
                                                                 "COMMAND"]
    with pytest.raises(Internal, match="Couldn't find PID field in ps output"):
        parse_ps_output("USER COMMAND\n", [1])
    with pytest.raises(Internal, match="Unexpected pid 'x'"):
        parse_ps_output("PID\nx\n", [1])


def test_ps_args() -> None:
    check_ps_args("-ef")
    check_ps_args("-o pid=PID,comm")
    with pytest.raises(InvalidArgument, match='specifying "user=PID" is not allowed'):
        check_ps_args("-o user=PID")


def test_cgroup_of_this_process() -> None:
    path = cgroup_procs(os.getpid())
    assert path.endswith("/cgroup.procs")
    assert os.getpid() in container_pids(os.getpid())
