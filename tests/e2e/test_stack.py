"""The example stack end to end: images built by dockyard from debian:bookworm-slim (bootstrapped
with mmdebstrap), started by Debian's docker-compose 1.29 against a test daemon. A page served by
nginx, proxied to the app, which writes PostgreSQL found by its service name; exec, restart and
stop through compose; psql from a client container reaching ``db`` by name; rows kept over
``down`` and ``up`` (named volume) and everything gone after ``down -v``.

The tests share one daemon and one stack and run in file order (each one leaves the stack up).
Building needs the Debian mirror (apt with host networking during RUN).
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import socket
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from .conftest import REPO, Daemon, _unmount_under, docker, start_daemon, stop
from .containers.conftest import kill_leftovers, remove_all
from .test_cli_system import dockyard

pytestmark = [pytest.mark.root, pytest.mark.slow]

EXAMPLES = REPO / "examples"
COMPOSE = shutil.which("docker-compose")
SERVICES = ("app", "db", "web")
DB = ("guestbook", "guestbook-secret", "guestbook")  # user, password, database (compose.yml)


@dataclass
class Stack:
    daemon: Daemon
    project: str
    port: int

    def compose(self, *args: str, timeout: float = 180.0) -> str:
        env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(self.daemon.workdir),
               "DOCKER_HOST": self.daemon.host, "WEB_PORT": str(self.port)}
        result = subprocess.run(
            [str(COMPOSE), "-f", str(EXAMPLES / "compose.yml"), "-p", self.project, *args],
            capture_output=True, text=True, env=env, timeout=timeout, check=False)
        assert result.returncode == 0, f"compose {args}: {result.stdout}{result.stderr}"
        return result.stdout

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def get(self, path: str) -> str:
        with urllib.request.urlopen(self.url(path), timeout=10) as answer:
            return str(answer.read().decode())

    def sign(self, message: str) -> None:
        request = urllib.request.Request(
            self.url("/app/entries"), data=json.dumps({"message": message}).encode(),
            headers={"Content-Type": "application/json"}, method="POST")
        opener = urllib.request.build_opener(NoRedirect)
        try:
            opener.open(request, timeout=10)
        except urllib.error.HTTPError as exc:
            assert exc.code == 303, exc
        else:
            raise AssertionError("no redirect after an entry")

    def messages(self) -> list[str]:
        return [entry["message"] for entry in json.loads(self.get("/app/entries"))]

    def wait_ready(self, timeout: float = 90.0) -> None:
        """Until the page comes through nginx and the app (which waits for the database)."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                self.get("/app/healthz")
                return
            except (OSError, urllib.error.URLError) as exc:
                if time.monotonic() > deadline:
                    logs = self.compose("logs", "--no-color")
                    raise AssertionError(f"the stack did not answer: {exc}\n{logs}") from exc
                time.sleep(0.5)


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: object, **kwargs: object) -> None:
        return None


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def build_images(daemon: Daemon) -> None:
    env = {"SOURCE_DATE_EPOCH": "1747699200"}
    code, _, err = dockyard(daemon, "bootstrap", "debian", env=env, timeout=600)
    assert code == 0, err
    for service in ("postgres", "app", "nginx"):
        code, out, err = dockyard(daemon, "build", "--network", "host", "-t",
                                  f"dockyard-example/{service}", str(EXAMPLES / service),
                                  timeout=600)
        assert code == 0, out + err


@pytest.fixture(scope="module")
def stack() -> Iterator[Stack]:
    if os.geteuid() != 0:
        pytest.skip("dockyardd needs root")
    if COMPOSE is None:
        pytest.skip("needs Debian's docker-compose (apt-get install docker-compose)")
    if shutil.which("mmdebstrap") is None:
        pytest.skip("needs mmdebstrap to bootstrap debian:bookworm-slim")
    workdir = Path(tempfile.mkdtemp(prefix="dy-stack-"))
    daemon: Daemon | None = None
    running: Stack | None = None
    try:
        daemon = start_daemon(workdir)
        build_images(daemon)
        running = Stack(daemon, f"stk{secrets.token_hex(3)}", free_port())
        running.compose("up", "-d")
        running.wait_ready()
        yield running
    finally:
        if daemon is not None and daemon.process.poll() is None:
            if running is not None:
                subprocess.run([str(COMPOSE), "-p", running.project, "-f",
                                str(EXAMPLES / "compose.yml"), "down", "-v", "-t", "5"],
                               env={"PATH": os.environ.get("PATH", ""),
                                    "DOCKER_HOST": daemon.host},
                               capture_output=True, timeout=120, check=False)
            remove_all(daemon)
        if daemon is not None:
            stop(daemon.process)
        kill_leftovers(workdir)
        _unmount_under(workdir)
        shutil.rmtree(workdir, ignore_errors=True)


def states(stack: Stack) -> dict[str, str]:
    """Each service's container state as ``docker ps -a`` words it (Up..., Exited (0)...)."""
    code, out, err = docker(stack.daemon, "ps", "-a", "--filter",
                            f"label=com.docker.compose.project={stack.project}",
                            "--format", '{{.Label "com.docker.compose.service"}}\t{{.Status}}')
    assert code == 0, err
    return dict(line.split("\t", 1) for line in out.splitlines())


def test_page_served_by_nginx_from_app_and_database(stack: Stack) -> None:
    assert "<h1>dockyard example stack</h1>" in stack.get("/")
    message = f"hello {secrets.token_hex(4)}"
    stack.sign(message)
    assert message in stack.messages()
    first = stack.get("/app/")
    second = stack.get("/app/")
    assert message in second
    assert _visits(second) == _visits(first) + 1
    assert sorted(states(stack)) == list(SERVICES)
    assert all(status.startswith("Up") for status in states(stack).values()), states(stack)


def test_compose_ps_exec_and_logs(stack: Stack) -> None:
    table = stack.compose("ps")
    for service in SERVICES:
        assert f"{stack.project}_{service}_1" in table
    assert f"127.0.0.1:{stack.port}->80/tcp" in table
    user, _, database = DB
    out = stack.compose("exec", "-T", "db", "psql", "-U", user, "-d", database, "-Atc",
                        "SELECT count(*) > 0 FROM entries")
    assert out == "t\n"
    logs = stack.compose("logs", "--no-color", "web")
    assert '"GET /app/entries HTTP/1.1" 200' in logs  # nginx's access log on stdout


def test_psql_from_a_client_container_reaches_db_by_name(stack: Stack) -> None:
    user, password, database = DB
    code, out, err = docker(stack.daemon, "run", "--rm", "--network", f"{stack.project}_backend",
                            "-e", f"PGPASSWORD={password}", "dockyard-example/postgres",
                            "psql", "-h", "db", "-U", user, "-d", database, "-Atc",
                            "SELECT current_database()")
    assert (code, out) == (0, f"{database}\n"), err


def test_restart_and_stop_keep_the_data(stack: Stack) -> None:
    message = f"before restart {secrets.token_hex(4)}"
    stack.sign(message)
    stack.compose("restart", "-t", "10")
    stack.wait_ready()
    assert message in stack.messages()
    stack.compose("stop", "-t", "20")
    # nginx stops on SIGQUIT, PostgreSQL on SIGINT, the app on SIGTERM: all exit 0
    stopped = states(stack)
    assert {s: v.split(")")[0] + ")" for s, v in stopped.items()} == \
        {s: "Exited (0)" for s in SERVICES}, stopped
    stack.compose("start")
    stack.wait_ready()
    assert message in stack.messages()


def test_rows_survive_down_and_up(stack: Stack) -> None:
    message = f"before down {secrets.token_hex(4)}"
    stack.sign(message)
    stack.compose("down", "-t", "20")
    assert states(stack) == {}
    code, out, _ = docker(stack.daemon, "volume", "ls", "-q")
    assert (code, out) == (0, f"{stack.project}_pgdata\n")
    stack.compose("up", "-d")
    stack.wait_ready()
    assert message in stack.messages()


def test_down_v_removes_containers_network_and_volume(stack: Stack) -> None:
    stack.compose("down", "-v", "-t", "20")
    assert states(stack) == {}
    assert docker(stack.daemon, "volume", "ls", "-q")[:2] == (0, "")
    code, out, _ = docker(stack.daemon, "network", "ls", "--format", "{{.Name}}")
    assert (code, sorted(out.split())) == (0, ["bridge", "host", "none"])
    stack.compose("up", "-d")  # the fixture's teardown expects a stack
    stack.wait_ready()
    assert stack.messages() == []


def _visits(page: str) -> int:
    start = page.index('<span id="visits">') + len('<span id="visits">')
    return int(page[start:page.index("</span>", start)])
