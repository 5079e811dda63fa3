"""A spare child copies its writable private mappings ahead of its start, one by one, and
stops as soon as its request has come."""

from __future__ import annotations

import errno
import os
from pathlib import Path

from dockyard.containers.spawner import prefault
from dockyard.sys.recording import Call, RecordingSyscalls

MAPS = """\
55d4a0000000-55d4a0001000 r--p 00000000 fe:00 1 /usr/bin/python3.11
55d4a0400000-55d4a0402000 rw-p 00400000 fe:00 1 /usr/bin/python3.11
55d4a1000000-55d4a1800000 rw-p 00000000 00:00 0 [heap]
7f0000000000-7f0000100000 rw-p 00000000 00:00 0
7f0000100000-7f0000101000 ---p 00000000 00:00 0
7ffc00000000-7ffc00021000 rw-p 00000000 00:00 0 [stack]
7ffc000f0000-7ffc000f4000 r--p 00000000 00:00 0 [vvar]
"""


def _prefault(tmp_path: Path, syscalls: RecordingSyscalls, waiting: bytes = b"") -> None:
    """prefault() over MAPS, with ``waiting`` already in its request pipe."""
    (tmp_path / "maps").write_text(MAPS)
    read, write = os.pipe()
    try:
        if waiting:
            os.write(write, waiting)
        prefault(syscalls, read, str(tmp_path / "maps"))
    finally:
        os.close(read)
        os.close(write)


def test_writable_private_mappings_but_the_stack(tmp_path: Path) -> None:
    syscalls = RecordingSyscalls()
    _prefault(tmp_path, syscalls)
    assert syscalls.calls == [
        Call("populate_write", (0x55D4A0400000, 0x2000)),
        Call("populate_write", (0x55D4A1000000, 0x800000)),
        Call("populate_write", (0x7F0000000000, 0x100000)),
    ]


def test_a_waiting_request_stops_it(tmp_path: Path) -> None:
    syscalls = RecordingSyscalls()
    _prefault(tmp_path, syscalls, waiting=b"{}\n")
    assert syscalls.calls == []


def test_a_kernel_without_the_call_is_asked_once(tmp_path: Path) -> None:
    syscalls = RecordingSyscalls(fail={"populate_write": errno.EINVAL})
    _prefault(tmp_path, syscalls)
    assert [call.name for call in syscalls.calls] == ["populate_write"]
