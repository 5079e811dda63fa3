"""The bytes of the container endpoints, as the api-traces show dockerd's: /wait's headers
before /start, the 101 of attach, 8-byte frames, stdin sent before /start then half-closed,
logs framing and timestamps, the exec inspect shape, 304s."""

from __future__ import annotations

import json
import re
import socket
import time
from pathlib import Path

import pytest

from ..conftest import Daemon

pytestmark = [pytest.mark.root, pytest.mark.slow]

CREATE = {"Image": "busybox", "AttachStdout": True, "AttachStderr": True, "Tty": False,
          "HostConfig": {"AutoRemove": False, "NetworkMode": "default"}}


class Conn:
    def __init__(self, path: Path) -> None:
        self.sock = socket.socket(socket.AF_UNIX)
        self.sock.settimeout(20)
        self.sock.connect(str(path))
        self.buffer = b""

    def close(self) -> None:
        self.sock.close()

    def send(self, method: str, target: str, body: bytes = b"",
             headers: dict[str, str] | None = None) -> None:
        lines = [f"{method} /v1.41{target} HTTP/1.1", "Host: api.moby.localhost",
                 f"Content-Length: {len(body)}"]
        if body:
            lines.append("Content-Type: application/json")
        lines += [f"{k}: {v}" for k, v in (headers or {}).items()]
        self.sock.sendall("\r\n".join(lines).encode() + b"\r\n\r\n" + body)

    def _fill(self) -> None:
        data = self.sock.recv(65536)
        if not data:
            raise EOFError
        self.buffer += data

    def head(self) -> tuple[int, dict[str, str]]:
        while b"\r\n\r\n" not in self.buffer:
            self._fill()
        raw, self.buffer = self.buffer.split(b"\r\n\r\n", 1)
        lines = raw.decode().split("\r\n")
        headers = {k.lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:])}
        return int(lines[0].split()[1]), headers

    def exactly(self, n: int) -> bytes:
        while len(self.buffer) < n:
            self._fill()
        data, self.buffer = self.buffer[:n], self.buffer[n:]
        return data

    def line(self) -> bytes:
        while b"\r\n" not in self.buffer:
            self._fill()
        data, self.buffer = self.buffer.split(b"\r\n", 1)
        return data

    def chunks(self) -> bytes:
        body = b""
        while (size := int(self.line(), 16)) != 0:
            body += self.exactly(size)
            self.exactly(2)
        self.exactly(2)
        return body

    def rest(self) -> bytes:
        try:
            while True:
                self._fill()
        except (EOFError, ConnectionError):
            pass
        data, self.buffer = self.buffer, b""
        return data

    def json(self, method: str, target: str, body: object = None) -> tuple[int, object]:
        self.send(method, target, json.dumps(body).encode() if body is not None else b"")
        status, headers = self.head()
        if "content-length" in headers:
            data = self.exactly(int(headers["content-length"]))
        elif headers.get("transfer-encoding") == "chunked":
            data = self.chunks()
        else:
            data = b""
        return status, json.loads(data) if data else None


def test_run_sequence(engine: Daemon) -> None:
    """docker run -i --rm: create, attach (stdin sent before start, then half-closed), wait
    (headers before start), start, frames, the status from /wait (run_i_stdin_pipe.txt)."""
    main = Conn(engine.socket)
    status, created = main.json("POST", "/containers/create", {
        **CREATE, "Cmd": ["sh", "-c", "cat; echo done >&2; exit 4"], "OpenStdin": True,
        "StdinOnce": True, "AttachStdin": True, "HostConfig": {"AutoRemove": True}})
    assert status == 201 and set(created) == {"Id", "Warnings"}  # type: ignore[arg-type]
    container = created["Id"]  # type: ignore[index]
    attach = Conn(engine.socket)
    attach.send("POST", f"/containers/{container}/attach?stderr=1&stdin=1&stdout=1&stream=1",
                headers={"Connection": "Upgrade", "Upgrade": "tcp", "Content-Type": "text/plain"})
    assert attach.head() == (101, {"content-type": "application/vnd.docker.raw-stream",
                                   "connection": "Upgrade", "upgrade": "tcp"})
    attach.sock.sendall(b"one\ntwo\n")
    attach.sock.shutdown(socket.SHUT_WR)
    main.send("POST", f"/containers/{container}/wait?condition=removed")
    status, headers = main.head()  # before /start: the CLI waits for these
    assert (status, headers["content-type"], headers["transfer-encoding"]) == (
        200, "application/json", "chunked")
    starter = Conn(engine.socket)
    assert starter.json("POST", f"/containers/{container}/start") == (204, None)
    output = attach.rest()
    frames = []
    while output:
        frames.append((output[0], output[8:8 + int.from_bytes(output[4:8], "big")]))
        assert output[1:4] == b"\0\0\0"
        output = output[8 + len(frames[-1][1]):]
    assert b"".join(p for s, p in frames if s == 1) == b"one\ntwo\n"
    assert b"".join(p for s, p in frames if s == 2) == b"done\n"
    assert main.chunks() == b'{"Error":null,"StatusCode":4}\n'
    for conn in (main, attach, starter):
        conn.close()


def test_wait_cancelled_and_304(engine: Daemon) -> None:
    main = Conn(engine.socket)
    main.json("POST", "/containers/create?name=t304", {**CREATE, "Cmd": ["sleep", "100"]})
    waiter = Conn(engine.socket)
    waiter.send("POST", "/containers/t304/wait?condition=next-exit")
    assert waiter.head()[0] == 200
    assert main.json("POST", "/containers/t304/start") == (204, None)
    waiter.sock.shutdown(socket.SHUT_WR)  # docker run -d drops the wait
    assert waiter.chunks() == b'{"Error":{"Message":"context canceled"},"StatusCode":-1}\n'
    main.send("POST", "/containers/t304/start")
    assert main.head()[0] == 304
    assert main.json("POST", "/containers/t304/stop?t=1") == (204, None)
    main.send("POST", "/containers/t304/stop")
    assert main.head()[0] == 304
    assert main.json("POST", "/containers/t304/wait") == (200, {"Error": None,
                                                                "StatusCode": 137})
    assert main.json("GET", "/containers/nosuch/json") == (
        404, {"message": "No such container: nosuch"})
    assert main.json("DELETE", "/containers/t304") == (204, None)
    for conn in (main, waiter):
        conn.close()


def test_logs_framing(engine: Daemon) -> None:
    main = Conn(engine.socket)
    main.json("POST", "/containers/create?name=talker",
              {**CREATE, "Cmd": ["sh", "-c",
                                 "echo line 1; echo err 1 >&2; sleep 0.2; echo line 2"]})
    main.json("POST", "/containers/talker/start")
    assert main.json("POST", "/containers/talker/wait")[1] == {"Error": None, "StatusCode": 0}
    main.send("GET", "/containers/talker/logs?stderr=1&stdout=1&tail=all")
    status, headers = main.head()
    assert status == 200 and "content-type" not in headers
    body = main.chunks()
    assert sorted(re.findall(rb"(.)\0\0\0\0\0\0.([a-z]+ \d\n)", body, re.S)) == [
        (b"\x01", b"line 1\n"), (b"\x01", b"line 2\n"), (b"\x02", b"err 1\n")]
    main.send("GET", "/containers/talker/logs?stdout=1&tail=1&timestamps=1")
    main.head()
    body = main.chunks()
    assert re.fullmatch(rb"\x01\0\0\0\0\0\0&\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z line 2\n",
                        body, re.S)
    main.json("DELETE", "/containers/talker")
    main.close()


def test_exec_inspect_shape(engine: Daemon) -> None:
    main = Conn(engine.socket)
    main.json("POST", "/containers/create?name=tex", {**CREATE, "Cmd": ["sleep", "100"]})
    main.json("POST", "/containers/tex/start")
    status, created = main.json("POST", "/containers/tex/exec", {
        "User": "0", "Privileged": False, "Tty": False, "AttachStdin": False,
        "AttachStderr": True, "AttachStdout": True, "Detach": False, "DetachKeys": "",
        "Env": ["FOO=bar"], "WorkingDir": "/", "Cmd": ["sh", "-c", "echo $FOO; exit 5"]})
    assert status == 201
    exec_id = created["Id"]  # type: ignore[index]
    stream = Conn(engine.socket)
    stream.send("POST", f"/exec/{exec_id}/start", b'{"Detach":false,"Tty":false}\n',
                headers={"Connection": "Upgrade", "Upgrade": "tcp"})
    assert stream.head()[0] == 101
    stream.sock.shutdown(socket.SHUT_WR)
    assert stream.rest() == b"\x01\0\0\0\0\0\0\x04bar\n"
    for _ in range(100):
        status, inspected = main.json("GET", f"/exec/{exec_id}/json")
        if not inspected["Running"]:  # type: ignore[index]
            break
        time.sleep(0.02)
    assert inspected == {  # type: ignore[comparison-overlap]
        "ID": exec_id, "Running": False, "ExitCode": 5,
        "ProcessConfig": {"tty": False, "entrypoint": "sh",
                          "arguments": ["-c", "echo $FOO; exit 5"], "privileged": False,
                          "user": "0"},
        "OpenStdin": False, "OpenStderr": True, "OpenStdout": True, "CanRemove": False,
        "ContainerID": inspected["ContainerID"], "DetachKeys": "",  # type: ignore[index]
        "Pid": inspected["Pid"]}  # type: ignore[index]
    status, _ = main.json("POST", "/containers/tex/exec", {"Cmd": ["true"], "Detach": True})
    main.json("DELETE", "/containers/tex?force=1")
    for conn in (main, stream):
        conn.close()
