"""Namespace pinning and the thread seam, with recorded syscalls (no root)."""

from __future__ import annotations

import errno
import os
import threading
from pathlib import Path

import pytest

from dockyard.errors import SystemCallError
from dockyard.network import netns
from dockyard.sys import CLONE_NEWNET, MNT_DETACH, MS_BIND
from dockyard.sys.recording import Call, RecordingSyscalls


def test_create_unshares_in_a_thread_and_binds_the_thread_namespace(tmp_path: Path) -> None:
    path = str(tmp_path / "ns")
    syscalls = RecordingSyscalls()
    netns.create(path, syscalls)
    assert syscalls.calls == [Call("unshare", (CLONE_NEWNET,)),
                              Call("mount", ("/proc/thread-self/ns/net", path, "none", MS_BIND,
                                             ""))]
    assert os.path.isfile(path)
    netns.remove(path, syscalls)
    assert syscalls.calls[-1] == Call("umount", (path, MNT_DETACH))
    assert not os.path.exists(path)
    netns.remove(path, syscalls)  # gone already: nothing to do
    assert len(syscalls.calls) == 3


def test_a_failed_create_leaves_no_file(tmp_path: Path) -> None:
    path = str(tmp_path / "ns")
    with pytest.raises(SystemCallError) as caught:
        netns.create(path, RecordingSyscalls(fail={"mount": errno.EPERM}))
    assert caught.value.errno == errno.EPERM
    assert not os.path.exists(path)


def test_create_refuses_an_existing_path(tmp_path: Path) -> None:
    (tmp_path / "ns").write_text("")
    with pytest.raises(SystemCallError) as caught:
        netns.create(str(tmp_path / "ns"), RecordingSyscalls())
    assert caught.value.errno == errno.EEXIST


def test_run_in_runs_the_job_in_another_thread_after_setns() -> None:
    syscalls = RecordingSyscalls()
    where = netns.run_in(9, lambda: threading.current_thread().name, syscalls)
    assert (where, syscalls.calls) == ("dockyard-netns", [Call("setns", (9, CLONE_NEWNET))])
    with pytest.raises(SystemCallError):
        netns.run_in(9, lambda: 1, RecordingSyscalls(fail={"setns": errno.EINVAL}))
