"""Drives one container through create/start/kill/exec/delete like containerd's shim does.

Run as ``python vsrunc_driver.py <request.json>``; prints one JSON object. It makes itself a
child subreaper so the container's init (which ``create`` leaves behind) becomes its child
and its exit status can be read, as a shim does. With ``terminal`` it listens on a console
socket and reads the container's output from the pty master it receives.
"""

from __future__ import annotations

import json
import os
import select
import socket
import subprocess
import sys
import time
from typing import Any

PR_SET_CHILD_SUBREAPER = 36


class Output:
    """Collects what the container writes, without blocking the steps."""

    def __init__(self, fd: int) -> None:
        self.fd = fd
        self.data = b""
        self.closed = False

    def pump(self, timeout: float) -> None:
        if self.closed:
            time.sleep(timeout)
            return
        if select.select([self.fd], [], [], timeout)[0]:
            try:
                chunk = os.read(self.fd, 65536)
            except OSError:  # EIO from a pty master once the slave is gone
                chunk = b""
            if chunk:
                self.data += chunk
            else:
                self.closed = True

    def wait_for(self, marker: str, timeout: float = 10.0) -> bool:
        deadline = time.monotonic() + timeout
        while marker.encode() not in self.data and time.monotonic() < deadline:
            self.pump(0.05)
            if self.closed:
                break
        return marker.encode() in self.data

    def drain(self, timeout: float = 5.0) -> None:
        deadline = time.monotonic() + timeout
        while not self.closed and time.monotonic() < deadline:
            self.pump(0.05)


def _runtime(req: dict[str, Any], *args: str, **kwargs: Any) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(
        [*req["runtime"], "--root", req["root"], *args],
        capture_output=True,
        timeout=30,
        **kwargs,
        check=False,
    )


def _wait_child(pid: int, timeout: float = 15.0) -> int | None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            return os.waitstatus_to_exitcode(status)
        time.sleep(0.01)
    return None


def _step(req: dict[str, Any], out: Output, step: list[Any], cid: str) -> Any:
    kind = step[0]
    if kind == "wait_for":
        return out.wait_for(step[1])
    if kind == "sleep":
        time.sleep(step[1])
        return None
    if kind == "kill":
        done = _runtime(req, "kill", *step[1:-1], cid, step[-1])
        return done.returncode
    if kind == "exec":
        done = _runtime(req, "exec", *step[1], cid, *step[2], stdin=subprocess.DEVNULL)
        return [done.returncode, done.stdout.decode(errors="replace")]
    if kind == "exec_process":
        path = os.path.join(req["bundle"], "process.json")
        with open(path, "w") as spec:
            json.dump(step[1], spec)
        done = _runtime(req, "exec", "--process", path, cid, stdin=subprocess.DEVNULL)
        return [done.returncode, done.stdout.decode(errors="replace")]
    if kind == "status":
        done = _runtime(req, "state", cid)
        return json.loads(done.stdout)["status"] if done.returncode == 0 else None
    if kind == "verb":  # any command on the container: its status and output
        args = [arg.replace("{bundle}", req["bundle"]) for arg in step[2:]]
        done = _runtime(req, step[1], *args, cid, stdin=subprocess.DEVNULL)
        return [done.returncode, done.stdout.decode(errors="replace")]
    if kind == "still":  # whether <bundle>/share/ticks (the container's) keeps its size
        path = os.path.join(req["bundle"], "share", "ticks")
        time.sleep(0.2)
        before = os.path.getsize(path)
        time.sleep(step[1])
        return os.path.getsize(path) == before
    if kind == "stats":
        done = _runtime(req, "events", "--stats", cid)
        if done.returncode != 0:
            return [done.returncode]
        return stats_summary(json.loads(done.stdout))
    raise ValueError(f"unknown step {kind}")


ALWAYS = frozenset({"kernel", "user", "cpu_exclusive", "mem_hardwall", "mem_exclusive",
                    "memory_migrate", "memory_spread_page", "memory_spread_slab",
                    "memory_pressure", "sched_load_balance", "sched_relax_domain_level",
                    "limit", "failcnt", "network_interfaces"})
"""The fields of runc's stats JSON that are there whatever their value (not omitempty)."""


def _shape(value: Any, key: str = "") -> Any:
    if isinstance(value, dict):
        if key == "raw":
            return sorted(value)
        return {k: _shape(v, k) for k, v in value.items() if isinstance(v, dict) or k in ALWAYS}
    return type(value).__name__


def stats_summary(event: dict[str, Any]) -> dict[str, Any]:
    """What two runtimes' ``events --stats`` of the same container must agree on: the event's
    type and fields, the JSON's shape (without the fields Go omits when zero, whose values
    vary run to run), and the values the container's config decides."""
    data = event["data"]
    return {
        "event": sorted(event), "type": event["type"], "shape": _shape(data),
        "memory_limit": data["memory"]["usage"]["limit"], "pids": data["pids"],
        "cpus": data["cpuset"].get("cpus"), "mems": data["cpuset"].get("mems"),
    }


def _create(req: dict[str, Any], cid: str) -> tuple[subprocess.CompletedProcess[bytes], Output]:
    pid_file = os.path.join(req["bundle"], "init.pid")
    args = ["create", "--bundle", req["bundle"], "--pid-file", pid_file]
    if not req.get("terminal"):
        read_fd, write_fd = os.pipe()
        done = subprocess.run(
            [*req["runtime"], "--root", req["root"], *args, cid],
            stdin=subprocess.DEVNULL,
            stdout=write_fd,
            stderr=write_fd,
            timeout=30,
            check=False,
        )
        os.close(write_fd)
        return done, Output(read_fd)
    path = os.path.join(req["bundle"], "console.sock")
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as listener:
        listener.bind(path)
        listener.listen(1)
        listener.settimeout(15)
        proc = subprocess.Popen(
            [*req["runtime"], "--root", req["root"], *args, "--console-socket", path, cid],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        master = -1
        try:
            conn, _ = listener.accept()
            with conn:
                _, fds, _, _ = socket.recv_fds(conn, 4096, 1)
                master = fds[0]
        except OSError:
            pass
        stdout, stderr = proc.communicate(timeout=30)
    done = subprocess.CompletedProcess(proc.args, proc.returncode, stdout, stderr)
    return done, Output(master if master >= 0 else os.open(os.devnull, os.O_RDONLY))


def drive(req: dict[str, Any]) -> dict[str, Any]:
    import ctypes

    ctypes.CDLL(None).prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)
    cid = req["id"]
    created, out = _create(req, cid)
    result: dict[str, Any] = {"create": created.returncode, "steps": [], "exit": None}
    if created.returncode != 0:
        out.drain(1.0)
        result["stderr"] = (created.stderr or b"").decode(errors="replace") + out.data.decode()
        return result
    with open(os.path.join(req["bundle"], "init.pid")) as pid_file:
        init = int(pid_file.read())
    result["created_status"] = _step(req, out, ["status"], cid)
    started = _runtime(req, "start", cid)
    result["start"] = started.returncode
    for step in req["steps"]:
        result["steps"].append(_step(req, out, step, cid))
    result["exit"] = _wait_child(init)
    out.drain()
    result["stdout"] = out.data.decode(errors="replace").replace("\r\n", "\n")
    result["stopped_status"] = _step(req, out, ["status"], cid)
    result["delete"] = _runtime(req, "delete", cid).returncode
    return result


def main() -> None:
    with open(sys.argv[1]) as request:
        req = json.load(request)
    try:
        result = drive(req)
    finally:
        subprocess.run(
            [*req["runtime"], "--root", req["root"], "delete", "--force", req["id"]],
            capture_output=True,
            timeout=30,
            check=False,
        )
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:  # reap whatever the subreaper inherited
            try:
                if os.waitpid(-1, os.WNOHANG) == (0, 0):
                    time.sleep(0.01)
            except ChildProcessError:
                break
    print(json.dumps(result))


if __name__ == "__main__":
    main()
