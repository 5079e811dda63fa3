"""Networks through the real docker CLI 28: names and aliases on user networks (the embedded
DNS, which forwards other names to a stub resolver in a namespace this test makes), isolation
between networks, every ``-p`` form reachable from the host's 127.0.0.1, ``docker port``, ps
and inspect, compose's disconnect/connect before a start, reconciliation after a SIGKILL, and
no leaks over create/start/rm cycles.

Traffic goes only to 127.0.0.1, to the containers and to the "outside" namespace made here
(198.19.53.0/29, in the benchmarking range): the daemon gets ``--dns 198.19.53.2``, and a
container given its own ``--dns`` gets 198.19.53.3 (a second stub there), so nothing asks the
host's resolver.
"""

from __future__ import annotations

import contextlib
import ipaddress
import json
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from dockyard.containers import etcfiles

from ..conftest import Daemon, _unmount_under, docker, start_daemon, stop
from .conftest import CLI, bootstrap, kill_leftovers, monitors_under, remove_all

pytestmark = [pytest.mark.root, pytest.mark.slow]

STUB = Path(__file__).resolve().parents[2] / "integration" / "network" / "stub_dns.py"
HOST_END, STUB_ADDRESS, OWN_ADDRESS = "198.19.53.1", "198.19.53.2", "198.19.53.3"
STUB_ANSWER = "198.18.0.99"  # what the stub answers for every name


def sh(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    return subprocess.run(list(args), capture_output=True, text=True, check=check, timeout=30)


@dataclass
class Outside:
    netns: str
    link: str
    stub: subprocess.Popen[str]
    own: subprocess.Popen[str]  # the stub at OWN_ADDRESS

    def asked(self, own: bool = False) -> list[str]:
        """The names the stub (or the other one) was asked so far (it prints each one)."""
        stub = self.own if own else self.stub
        stub.send_signal(signal.SIGTERM)
        out, _ = stub.communicate(timeout=10)
        return out.split()


@pytest.fixture
def outside() -> Iterator[Outside]:
    """A namespace holding stub resolvers at 198.19.53.2 and .3, linked to the host by a
    veth."""
    tag = "dye" + secrets.token_hex(2)
    sh("ip", "netns", "add", tag)
    stubs: list[subprocess.Popen[str]] = []
    try:
        sh("ip", "link", "add", f"{tag}o", "type", "veth", "peer", "name", "eth0", "netns", tag)
        sh("ip", "addr", "add", f"{HOST_END}/29", "dev", f"{tag}o")
        sh("ip", "link", "set", f"{tag}o", "up")
        # replies to masqueraded traffic come in here: this link forwards (the host's global
        # ip_forward stays off, the daemon runs with --ip-forward=false)
        Path(f"/proc/sys/net/ipv4/conf/{tag}o/forwarding").write_text("1")
        for args in (("addr", "add", f"{STUB_ADDRESS}/29", "dev", "eth0"),
                     ("addr", "add", f"{OWN_ADDRESS}/29", "dev", "eth0"),
                     ("link", "set", "eth0", "up"), ("link", "set", "lo", "up")):
            sh("ip", "-n", tag, *args)
        for address in (STUB_ADDRESS, OWN_ADDRESS):
            stubs.append(subprocess.Popen(["ip", "netns", "exec", tag, sys.executable, "-S",
                                           str(STUB), address], stdout=subprocess.PIPE, text=True))
            assert stubs[-1].stdout is not None and stubs[-1].stdout.readline() == "ready\n"
        yield Outside(tag, f"{tag}o", *stubs)
    finally:
        for stub in stubs:
            if stub.poll() is None:
                stub.kill()
                stub.communicate(timeout=10)
        sh("ip", "link", "del", f"{tag}o", check=False)
        sh("ip", "netns", "del", tag, check=False)


@pytest.fixture
def net_engine(outside: Outside) -> Iterator[Daemon]:
    """A daemon with busybox whose containers' resolver (and the embedded DNS's upstream) is
    the stub; every container removed, every monitor gone, the networks dismantled after."""
    workdir = Path(tempfile.mkdtemp(prefix="dy-e2e-net-"))
    started: Daemon | None = None
    try:
        started = start_daemon(workdir, "--dns", STUB_ADDRESS)
        bootstrap(started)
        yield started
    finally:
        if started is not None:
            if started.process.poll() is None:
                remove_all(started)
                for name in _custom_networks(started):
                    docker(started, "network", "rm", name)
            stop(started.process)
        kill_leftovers(workdir)
        _unmount_under(workdir)
        shutil.rmtree(workdir, ignore_errors=True)


@pytest.fixture
def cli(net_engine: Daemon) -> CLI:
    def run(*args: str, stdin: bytes | None = None, timeout: float = 60.0) -> \
            tuple[int, str, str]:
        return docker(net_engine, *args, stdin=stdin, timeout=timeout)

    return run


def _custom_networks(daemon: Daemon) -> list[str]:
    _, out, _ = docker(daemon, "network", "ls", "--filter", "type=custom", "--format",
                       "{{.Name}}")
    return out.split()


def ok(result: tuple[int, str, str]) -> str:
    code, out, err = result
    assert code == 0, f"exit {code}: {out}{err}"
    return out


def addresses(nslookup: str) -> list[str]:
    """The answer addresses of busybox nslookup's output (after the "Name:" line)."""
    answer = nslookup.split("Name:", 1)[1] if "Name:" in nslookup else ""
    return re.findall(r"Address:\s*([0-9.]+)", answer)


def http_get(port: int, path: str = "/hostname", host: str = "127.0.0.1") -> str:
    """The body of a GET from the host, or the error's class name."""
    try:
        with socket.create_connection((host, port), timeout=3) as sock:
            sock.sendall(f"GET {path} HTTP/1.0\r\nHost: x\r\n\r\n".encode())
            data = b""
            while chunk := sock.recv(4096):
                data += chunk
    except OSError as exc:
        return type(exc).__name__
    head, _, body = data.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.") and b" 200 " in head.split(b"\r\n")[0], head
    return body.decode().strip()


def free_ports(count: int) -> list[int]:
    ports: list[int] = []
    while len(ports) < count:
        with socket.socket() as probe:
            probe.bind(("0.0.0.0", 0))
            port = int(probe.getsockname()[1])
        if port not in ports:
            ports.append(port)
    return ports


def httpd(cli: CLI, name: str, *options: str) -> str:
    """A busybox httpd serving /etc (GET /hostname answers the container's hostname)."""
    return ok(cli("run", "-d", "--name", name, *options, "busybox", "httpd", "-f", "-p", "80",
                  "-h", "/etc")).strip()


def inspect(cli: CLI, name: str) -> dict[str, object]:
    return json.loads(ok(cli("inspect", name)))[0]  # type: ignore[no-any-return]


def test_names_aliases_and_forwarding_on_a_user_network(cli: CLI, outside: Outside) -> None:
    ok(cli("network", "create", "front"))
    web = httpd(cli, "web", "--network", "front", "--network-alias", "svc")
    web_ip = ok(cli("inspect", "-f", "{{.NetworkSettings.Networks.front.IPAddress}}", "web"))
    web_ip = web_ip.strip()
    script = ("nslookup web; nslookup svc; nslookup " + web[:12] + "; ping -c1 -W2 web >/dev/null"
              " && echo PING-OK; wget -qO- http://svc/hostname; nslookup elsewhere.test; "
              "cat /etc/resolv.conf")
    out = ok(cli("run", "--rm", "--network", "front", "busybox", "sh", "-c", script))
    lookups = out.split("Server:")[1:]
    assert [addresses(x) for x in lookups[:3]] == [[web_ip]] * 3  # name, alias, short ID
    assert "PING-OK" in out and f"\n{web[:12]}\n" in out
    assert set(addresses(lookups[3])) == {STUB_ANSWER}  # forwarded to the stub
    gateway = ok(cli("network", "inspect", "-f", "{{(index .IPAM.Config 0).Gateway}}",
                     "front")).strip()
    assert f"nameserver {gateway}\n" in out and "options ndots:0" in out
    assert "elsewhere.test" in outside.asked()


def _host_part() -> tuple[str, list[str]]:
    """The search line and the options the host's resolv.conf gives a container's file."""
    host = etcfiles.parse(Path("/etc/resolv.conf").read_text())
    return (f"search {' '.join(host.search)}\n" if host.search else "", list(host.options))


def _embedded(gateway: str, search: str, options: list[str]) -> str:
    """A user network's resolv.conf as dockerd writes it (the gateway for 127.0.0.11)."""
    if not any("ndots" in option for option in options):
        options = [*options, "ndots:0"]
    return f"{search}nameserver {gateway}\noptions {' '.join(options)}\n"


def test_a_containers_dns_servers_are_its_upstreams_on_a_user_network(
        cli: CLI, outside: Outside) -> None:
    """As dockerd: on a user network ``--dns`` servers are not in resolv.conf (it names the
    embedded DNS, with ``options ndots:0``) but where the embedded DNS forwards that
    container's other queries; a container without ``--dns`` is forwarded to the daemon's
    ``--dns``; ``--dns-search`` and ``--dns-option`` stay in the file."""
    ok(cli("network", "create", "front"))
    gateway = ok(cli("network", "inspect", "-f", "{{(index .IPAM.Config 0).Gateway}}",
                     "front")).strip()
    search, options = _host_part()

    def run(name: str, *flags: str) -> tuple[set[str], str]:
        out = ok(cli("run", "--rm", "--network", "front", *flags, "busybox", "sh", "-c",
                     f"nslookup {name}; echo ==; cat /etc/resolv.conf"))
        lookup, _, resolv = out.partition("==\n")
        return set(addresses(lookup)), resolv

    assert run("own.test", "--dns", OWN_ADDRESS) == \
        ({STUB_ANSWER}, _embedded(gateway, search, options))
    assert run("own-search.test", "--dns", OWN_ADDRESS, "--dns-search", "corp.test",
               "--dns-option", "timeout:3") == \
        ({STUB_ANSWER}, f"search corp.test\nnameserver {gateway}\noptions timeout:3 ndots:0\n")
    assert run("daemon.test") == ({STUB_ANSWER}, _embedded(gateway, search, options))
    own, daemon = set(outside.asked(own=True)), set(outside.asked())
    assert {"own.test", "own-search.test"} <= own and "daemon.test" not in own
    assert "daemon.test" in daemon and not {"own.test", "own-search.test"} & daemon


def test_connect_and_a_daemon_restart_keep_a_containers_upstreams(
        net_engine: Daemon, cli: CLI, outside: Outside) -> None:
    ok(cli("network", "create", "front"))
    gateway = ok(cli("network", "inspect", "-f", "{{(index .IPAM.Config 0).Gateway}}",
                     "front")).strip()
    search, _ = _host_part()
    ok(cli("run", "-d", "--name", "own", "--dns", OWN_ADDRESS, "--dns-option", "timeout:2",
           "busybox", "sleep", "300"))
    assert ok(cli("exec", "own", "cat", "/etc/resolv.conf")) == \
        f"{search}nameserver {OWN_ADDRESS}\noptions timeout:2\n"
    ok(cli("network", "connect", "front", "own"))  # dockerd rewrites the file so
    assert ok(cli("exec", "own", "cat", "/etc/resolv.conf")) == \
        f"{search}nameserver {gateway}\noptions timeout:2 ndots:0\n"
    assert set(addresses(ok(cli("exec", "own", "nslookup", "connected.test")))) == {STUB_ANSWER}
    net_engine.process.send_signal(signal.SIGKILL)  # the container outlives its daemon
    net_engine.process.wait(10)
    (net_engine.workdir / "dockyard.sock").unlink()
    net_engine.process = start_daemon(net_engine.workdir, *net_engine.extra_args).process
    assert set(addresses(ok(cli("exec", "own", "nslookup", "restarted.test")))) == {STUB_ANSWER}
    own, daemon = set(outside.asked(own=True)), set(outside.asked())
    assert {"connected.test", "restarted.test"} <= own
    assert not {"connected.test", "restarted.test"} & daemon


def test_user_networks_are_isolated(cli: CLI) -> None:
    ok(cli("network", "create", "blue"))
    ok(cli("network", "create", "red"))
    httpd(cli, "b1", "--network", "blue")
    httpd(cli, "r1", "--network", "red")
    red_ip = ok(cli("inspect", "-f", "{{.NetworkSettings.Networks.red.IPAddress}}",
                    "r1")).strip()
    script = (f"ping -c1 -W1 {red_ip} && echo REACHED; wget -T2 -qO- http://{red_ip}/hostname"
              " && echo REACHED; nslookup r1; ping -c1 -W1 b1 >/dev/null && echo SAME-OK")
    out = ok(cli("exec", "b1", "sh", "-c", script))
    assert "REACHED" not in out and "SAME-OK" in out
    assert red_ip not in addresses(out.split("Server:")[-1])  # r1 is not a name on blue
    # connected to both, a container reaches both
    ok(cli("network", "connect", "red", "b1"))
    assert "SAME-OK" in ok(cli("exec", "b1", "sh", "-c",
                               "ping -c1 -W2 r1 >/dev/null && echo SAME-OK"))


def test_every_port_form_and_the_views(cli: CLI) -> None:
    loopback, anywhere = free_ports(2)
    one = httpd(cli, "one", "-p", f"127.0.0.1:{loopback}:80")
    two = httpd(cli, "two", "-p", f"{anywhere}:80")
    three = httpd(cli, "three", "--expose", "80", "--expose", "90/udp", "-P")
    assert http_get(loopback) == one[:12]
    assert http_get(anywhere) == two[:12]
    port_out = ok(cli("port", "three"))
    chosen = [int(line.rsplit(":", 1)[1]) for line in port_out.splitlines()]
    assert port_out == f"80/tcp -> 0.0.0.0:{chosen[0]}\n90/udp -> 0.0.0.0:{chosen[1]}\n"
    assert http_get(chosen[0]) == three[:12]
    assert ok(cli("port", "one")) == f"80/tcp -> 127.0.0.1:{loopback}\n"
    assert ok(cli("port", "one", "80")) == f"127.0.0.1:{loopback}\n"
    assert cli("port", "one", "81")[2] == "Error: No public port '81' published for one\n"
    rows = dict(line.split(" ", 1) for line in ok(cli(
        "ps", "--format", "{{.Names}} {{.Ports}}")).splitlines())
    assert rows == {"one": f"127.0.0.1:{loopback}->80/tcp", "two": f"0.0.0.0:{anywhere}->80/tcp",
                    "three": f"0.0.0.0:{chosen[0]}->80/tcp, 0.0.0.0:{chosen[1]}->90/udp"}
    settings = inspect(cli, "one")["NetworkSettings"]
    assert isinstance(settings, dict)
    bridge = json.loads(ok(cli("network", "inspect", "bridge")))[0]
    subnet = ipaddress.IPv4Network(bridge["IPAM"]["Config"][0]["Subnet"])
    endpoint = settings["Networks"]["bridge"]
    assert settings["Ports"] == {"80/tcp": [{"HostIp": "127.0.0.1", "HostPort": str(loopback)}]}
    assert settings["IPAddress"] == endpoint["IPAddress"]
    assert ipaddress.IPv4Address(endpoint["IPAddress"]) in subnet
    assert settings["Gateway"] == endpoint["Gateway"] == str(next(subnet.hosts()))
    assert endpoint["NetworkID"] == bridge["Id"] and len(endpoint["EndpointID"]) == 64
    assert endpoint["IPPrefixLen"] == subnet.prefixlen
    assert endpoint["MacAddress"] == "02:42:" + ":".join(
        f"{int(b):02x}" for b in endpoint["IPAddress"].split("."))
    assert bridge["Containers"][one]["IPv4Address"] == \
        f"{endpoint['IPAddress']}/{subnet.prefixlen}"
    # a taken host port fails the start with dockerd's words and leaves nothing behind
    code, _, err = cli("run", "-d", "--name", "clash", "-p", f"127.0.0.1:{loopback}:80",
                       "busybox", "true")
    assert code != 0 and f"Bind for 127.0.0.1:{loopback} failed: port is already allocated" in err
    ok(cli("rm", "-f", "one", "two", "three", "clash"))
    assert http_get(loopback) == "ConnectionRefusedError"


def test_hosts_and_resolv_conf(cli: CLI) -> None:
    out = ok(cli("run", "--rm", "--hostname", "box", "--add-host", "db:10.1.2.3", "busybox",
                 "sh", "-c", "cat /etc/hosts /etc/resolv.conf; ip -4 -o addr show eth0"))
    own = re.search(r"inet ([0-9.]+)/", out)
    assert own is not None
    assert f"10.1.2.3\tdb\n{own[1]}\tbox\n" in out  # extra hosts, then the container's line
    assert f"nameserver {STUB_ADDRESS}\n" in out  # the daemon's --dns on the default bridge
    out = ok(cli("run", "--rm", "--dns", "10.9.9.9", "--dns-search", "corp.test", "busybox",
                 "cat", "/etc/resolv.conf"))
    assert "nameserver 10.9.9.9\n" in out and "search corp.test\n" in out
    assert STUB_ADDRESS not in out
    out = ok(cli("run", "--rm", "--network", "none", "busybox", "ip", "-o", "link"))
    assert [line.split(":")[1].strip() for line in out.splitlines()] == ["lo"]
    ok(cli("run", "-d", "--name", "base", "busybox", "sleep", "60"))
    base_ip = ok(cli("inspect", "-f", "{{.NetworkSettings.IPAddress}}", "base")).strip()
    out = ok(cli("run", "--rm", "--network", "container:base", "busybox", "ip", "-4", "-o",
                 "addr", "show", "eth0"))
    assert f"inet {base_ip}/" in out


def test_compose_disconnects_and_reconnects_before_start(cli: CLI, net_engine: Daemon) -> None:
    ok(cli("network", "create", "--label", "com.docker.compose.network=tnet", "tnet"))
    cid = ok(cli("create", "--name", "tweb", "--network", "tnet", "--network-alias", "web",
                 "busybox", "sleep", "60")).strip()
    created = inspect(cli, "tweb")["NetworkSettings"]
    assert isinstance(created, dict)
    assert created["Networks"]["tnet"]["Aliases"] == ["web"]
    assert created["Networks"]["tnet"]["IPAddress"] == ""
    ok(cli("network", "disconnect", "tnet", "tweb"))
    assert inspect(cli, "tweb")["NetworkSettings"]["Networks"] == {}  # type: ignore[index]
    ok(cli("network", "connect", "--alias", "web", "--alias", cid[:12], "tnet", "tweb"))
    ok(cli("start", "tweb"))
    running = inspect(cli, "tweb")["NetworkSettings"]["Networks"]["tnet"]  # type: ignore[index]
    assert running["Aliases"] == ["web", cid[:12]] and running["IPAddress"]
    out = ok(cli("run", "--rm", "--network", "tnet", "busybox", "nslookup", "web"))
    assert addresses(out) == [running["IPAddress"]]
    members = json.loads(ok(cli("network", "inspect", "tnet")))[0]["Containers"]
    assert list(members) == [cid] and members[cid]["Name"] == "tweb"
    assert cli("network", "rm", "tnet")[2].startswith("Error response from daemon: error while "
                                                     "removing network: network tnet id ")
    # and on a running container: disconnect takes eth0 away, connect gives one back
    ok(cli("network", "disconnect", "tnet", "tweb"))
    assert "eth0" not in ok(cli("exec", "tweb", "ip", "-o", "link"))
    ok(cli("rm", "-f", "tweb"))
    assert ok(cli("network", "rm", "tnet")) == "tnet\n"


# -- crash and leaks --------------------------------------------------------------------------


def _names(daemon: Daemon) -> tuple[str, str]:
    """This daemon's default bridge and nftables table (tagged by its exec root)."""
    bridge = ok(docker(daemon, "network", "inspect", "-f",
                       '{{index .Options "com.docker.network.bridge.name"}}', "bridge")).strip()
    return bridge, f"dockyard_{bridge[2:-1]}"


def _ports_of(bridge: str) -> list[str]:
    out = sh("ip", "-o", "link", "show", "master", bridge, check=False).stdout
    return sorted(line.split(":")[1].strip().split("@")[0] for line in out.splitlines())


def _dnat_targets(table: str) -> str:
    return sh("nft", "list", "map", "ip", table, "ports_ip").stdout


def test_a_sigkilled_daemon_is_reconciled(net_engine: Daemon, cli: CLI) -> None:
    keep_port, gone_port = free_ports(2)
    ok(cli("network", "create", "front"))
    httpd(cli, "keep", "-p", f"127.0.0.1:{keep_port}:80")
    gone = httpd(cli, "gone", "--network", "front", "-p", f"127.0.0.1:{gone_port}:80")
    gone_pid = int(ok(cli("inspect", "-f", "{{.State.Pid}}", "gone")))
    bridge, table = _names(net_engine)
    front = "dy" + bridge[2:-1] + "-" + ok(cli("network", "inspect", "-f", "{{.Id}}",
                                               "front")).strip()[:8]
    assert len(_ports_of(bridge)) == 1 and len(_ports_of(front)) == 1
    net_engine.process.send_signal(signal.SIGKILL)
    net_engine.process.wait(10)
    for pid in monitors_under(net_engine.workdir):  # "gone" loses its monitor and process
        if gone.encode() in Path(f"/proc/{pid}/cmdline").read_bytes():
            os.kill(pid, signal.SIGKILL)
    with contextlib.suppress(ProcessLookupError):
        os.kill(gone_pid, signal.SIGKILL)
    (net_engine.workdir / "dockyard.sock").unlink()
    again = start_daemon(net_engine.workdir, *net_engine.extra_args)
    net_engine.process = again.process
    assert ok(cli("inspect", "-f", "{{.State.Running}}", "gone")) == "false\n"
    assert http_get(keep_port) == ok(cli("inspect", "-f", "{{.Config.Hostname}}",
                                         "keep")).strip()
    assert http_get(gone_port) == "ConnectionRefusedError"
    with socket.socket() as probe:  # the reservation is gone too
        probe.bind(("127.0.0.1", gone_port))
    deadline = time.monotonic() + 5
    while _ports_of(front) and time.monotonic() < deadline:
        time.sleep(0.05)  # the kernel dismantles the dead namespace asynchronously
    assert _ports_of(front) == [] and len(_ports_of(bridge)) == 1
    targets = _dnat_targets(table)
    assert f"{keep_port} :" in targets and f"{gone_port} :" not in targets
    ok(cli("start", "gone"))  # and it starts again on its network
    assert http_get(gone_port) == gone[:12]


def _state(daemon: Daemon, bridge: str, table: str) -> dict[str, list[str]]:
    """What the kernel holds for this daemon: links, addresses, routes, rules, namespaces.
    The bridges' carrier (it follows their ports with a lag) and timers are left out."""
    ours = re.compile(rf"\b{re.escape(bridge[:-1])}\S*")  # its bridges, veths (master ...)

    def lines(*command: str) -> list[str]:
        return sorted(" ".join(re.sub(r"\S+_timer\s+\S+|NO-CARRIER,|,LOWER_UP|linkdown|"
                                      r"state \S+|operstate \S+", "", line).split())
                      for line in sh(*command).stdout.splitlines() if ours.search(line))

    return {
        "links": lines("ip", "-d", "-o", "link"),
        "addresses": lines("ip", "-o", "addr"),
        "routes": lines("ip", "route"),
        "rules": sh("nft", "-s", "list", "table", "ip", table).stdout.splitlines(),
        "netns": sorted(os.listdir(daemon.exec_root / "netns")),
        # the daemon never pins there; namespaces of other tests (dyt..., dye...) and of a
        # podman that may run beside (netns-<uuid>) aside
        "run_netns": sorted(n for n in os.listdir("/run/netns")
                            if not n.startswith(("dy", "netns-")))
        if os.path.isdir("/run/netns") else [],
    }


def test_no_leaks_after_create_start_rm_cycles(net_engine: Daemon, cli: CLI) -> None:
    ok(cli("network", "create", "front"))
    bridge, table = _names(net_engine)
    port = free_ports(1)[0]
    for network in ("front", "bridge"):  # a fresh bridge's gso/tso limits change at its first
        ok(cli("run", "--rm", "--network", network, "busybox", "true"))  # port, and stay
    _settle(bridge)
    before = _state(net_engine, bridge, table)
    for cycle in range(25):
        options = ["--network", "front", "--network-alias", "a"] if cycle % 2 else []
        ok(cli("run", "-d", "--name", f"c{cycle}", *options, "-p", f"127.0.0.1:{port}:80",
               "busybox", "sleep", "30"))
        ok(cli("rm", "-f", f"c{cycle}"))
        ok(cli("run", "--rm", *options[:2], "busybox", "true"))
    _settle(bridge)
    assert _state(net_engine, bridge, table) == before


def _settle(bridge: str) -> None:
    """Wait until the veths of dead namespaces have left this daemon's bridges (the kernel
    removes them asynchronously, 10-40 ms after the namespace)."""
    deadline = time.monotonic() + 5
    while f"master {bridge[:-1]}" in sh("ip", "-o", "link").stdout and \
            time.monotonic() < deadline:
        time.sleep(0.05)


COMPOSE_FILE = """version: "3"
services:
  web:
    image: busybox
    command: httpd -f -p 80 -h /etc
    networks: [tnet]
    ports: ["127.0.0.1:{port}:80"]
  worker:
    image: busybox
    command: sleep 300
    networks: [tnet]
networks:
  tnet: {{}}
"""


@pytest.mark.skipif(shutil.which("docker-compose") is None, reason="needs docker-compose")
def test_compose_up_and_down(net_engine: Daemon, cli: CLI, tmp_path: Path) -> None:
    """docker-compose 1.29 (docker-py): network, service names, published port, down."""
    port = free_ports(1)[0]
    (tmp_path / "docker-compose.yml").write_text(COMPOSE_FILE.format(port=port))
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "DOCKER_HOST": net_engine.host,
           "HOME": str(net_engine.workdir)}

    def compose(*args: str) -> str:
        done = subprocess.run(["docker-compose", "-p", "dyt", *args], cwd=tmp_path, env=env,
                              capture_output=True, text=True, timeout=120, check=False)
        assert done.returncode == 0, done.stderr
        return done.stdout + done.stderr

    compose("up", "-d")
    web = ok(cli("inspect", "-f", "{{.Config.Hostname}}", "dyt_web_1")).strip()
    assert ok(cli("exec", "dyt_worker_1", "wget", "-qO-", "http://web/hostname")).strip() == web
    assert http_get(port) == web
    assert "Removing network dyt_tnet" in compose("down", "-t", "1")
    assert _custom_networks(net_engine) == []


def test_network_events(cli: CLI) -> None:
    since = str(int(time.time()))
    ok(cli("network", "create", "evnet"))
    cid = ok(cli("run", "-d", "--network", "evnet", "busybox", "sleep", "30")).strip()
    ok(cli("rm", "-f", cid))
    ok(cli("network", "rm", "evnet"))
    out = ok(cli("events", "--since", since, "--until", str(int(time.time()) + 1), "--filter",
                 "type=network", "--format",
                 "{{.Action}} {{.Actor.Attributes.name}} {{.Actor.Attributes.container}}"))
    assert out.splitlines() == ["create evnet <no value>", f"connect evnet {cid}",
                                f"disconnect evnet {cid}", "destroy evnet <no value>"]


def test_outbound_nat_to_an_outside_host(cli: CLI, outside: Outside) -> None:
    """A container reaches a host outside (the stub's namespace) through the bridge's NAT,
    on the default bridge and on a user network."""
    ok(cli("network", "create", "front"))
    for network in ("bridge", "front"):
        out = ok(cli("run", "--rm", "--network", network, "busybox", "nslookup",
                     f"outbound-{network}.test", STUB_ADDRESS))
        assert set(addresses(out)) == {STUB_ANSWER}
    assert {"outbound-bridge.test", "outbound-front.test"} <= set(outside.asked())
