"""Reading json-file logs: filters, tail, follow across rotation."""

from __future__ import annotations

import json
from pathlib import Path

from dockyard.containers.logs import Entry, Follower, files, read
from dockyard.containers.record import format_time


def line(text: str, stream: str, ns: int) -> bytes:
    return json.dumps({"log": text, "stream": stream, "time": format_time(ns)}).encode() + b"\n"


def test_read(tmp_path: Path) -> None:
    log = tmp_path / "c-json.log"
    log.write_bytes(line("a\n", "stdout", 1 * 10**9) + line("b\n", "stderr", 2 * 10**9)
                    + line("c\n", "stdout", 3 * 10**9) + b'{"log":"partial')
    entries, _, offset = read(log)
    assert entries == [Entry("stdout", b"a\n", 10**9), Entry("stderr", b"b\n", 2 * 10**9),
                       Entry("stdout", b"c\n", 3 * 10**9)]
    assert offset == log.stat().st_size - len(b'{"log":"partial')
    assert [e.data for e in read(log, tail=2)[0]] == [b"b\n", b"c\n"]
    assert [e.data for e in read(log, tail=0)[0]] == []
    assert [e.data for e in read(log, since_ns=2 * 10**9)[0]] == [b"b\n", b"c\n"]
    assert [e.data for e in read(log, until_ns=2 * 10**9)[0]] == [b"a\n", b"b\n"]


def test_timestamp() -> None:
    assert Entry("stdout", b"", 1795811166_179635556).timestamp() == \
        "2026-11-27T20:26:06.179635556Z"
    assert Entry("stdout", b"", 1795811166_100000000).timestamp() == \
        "2026-11-27T20:26:06.100000000Z"


def test_rotated_files_oldest_first(tmp_path: Path) -> None:
    log = tmp_path / "c-json.log"
    log.with_name("c-json.log.2").write_bytes(line("1\n", "stdout", 1))
    log.with_name("c-json.log.1").write_bytes(line("2\n", "stdout", 2))
    log.write_bytes(line("3\n", "stdout", 3))
    assert files(log)[0].name == "c-json.log.2"
    assert [e.data for e in read(log)[0]] == [b"1\n", b"2\n", b"3\n"]


def test_follow_across_rotation(tmp_path: Path) -> None:
    log = tmp_path / "c-json.log"
    log.write_bytes(line("1\n", "stdout", 1))
    _, inode, offset = read(log)
    follower = Follower(log, inode, offset)
    assert follower.poll() == []
    with log.open("ab") as out:
        out.write(line("2\n", "stdout", 2) + b'{"log":"3')
    assert [e.data for e in follower.poll()] == [b"2\n"]
    with log.open("ab") as out:
        out.write(b'\\n","stream":"stderr","time":"1970-01-01T00:00:00.000000003Z"}\n')
    assert follower.poll() == [Entry("stderr", b"3\n", 3)]
    with log.open("ab") as out:  # written, then the file rotates before the next poll
        out.write(line("4\n", "stdout", 4))
    log.rename(log.with_name("c-json.log.1"))
    log.write_bytes(line("5\n", "stdout", 5))
    assert [e.data for e in follower.poll()] == [b"4\n", b"5\n"]
