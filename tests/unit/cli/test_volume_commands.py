"""``dockyard volume ...`` against the scripted fake daemon: the requests docker 28 sends and the
output it prints (api-traces/volume.txt), exit statuses included."""

from __future__ import annotations

import json
import sys
from typing import Any

from dockyard.cli.commands.volumes import natural_less

from ..client import fake_daemon as fake
from .test_commands import cli

TRACEVOL = {"CreatedAt": "2026-11-27T20:28:27Z", "Driver": "local", "Labels": None,
            "Mountpoint": "/var/lib/docker/volumes/tracevol/_data", "Name": "tracevol",
            "Options": None, "Scope": "local"}
TRACEVOL2 = {**TRACEVOL, "Labels": {"k": "v"}, "Name": "tracevol2",
             "Mountpoint": "/var/lib/docker/volumes/tracevol2/_data"}
PYTEST = {**TRACEVOL, "Labels": {"com.dockerpy.test": "true"},
          "Name": "dockerpytest_7ba205e031ee27da",
          "Mountpoint": "/var/lib/docker/volumes/dockerpytest_7ba205e031ee27da/_data"}


def test_create_sends_what_docker_sends(daemon: Any) -> None:
    daemon.routes[("POST", "/volumes/create")] = lambda r: fake.json_reply(
        {**TRACEVOL, "Name": json.loads(r.body)["Name"] or "f" * 64}, 201)
    assert cli(daemon, "volume", "create", "tracevol") == (0, "tracevol\n", "")
    assert json.loads(daemon.requests[-1].body) == {"Driver": "local", "Name": "tracevol"}
    assert cli(daemon, "volume", "create", "--label", "k=v", "--label", "bare", "-o",
               "type=tmpfs", "--opt=device=tmpfs", "-o", "o=size=1m,uid=1", "-d", "local",
               "--name", "t2") == (0, "t2\n", "")
    assert json.loads(daemon.requests[-1].body) == {
        "Driver": "local", "Labels": {"k": "v", "bare": ""}, "Name": "t2",
        "DriverOpts": {"type": "tmpfs", "device": "tmpfs", "o": "size=1m,uid=1"}}
    assert cli(daemon, "volume", "create") == (0, "f" * 64 + "\n", "")
    code, _, err = cli(daemon, "volume", "create", "--name", "a", "b")
    assert (code, err) == (1, "conflicting options: cannot specify a volume-name through both "
                              "--name and as a positional arg\n")
    code, _, err = cli(daemon, "volume", "create", "--label", "=x")
    assert code == 125
    assert err.startswith('invalid argument "=x" for "--label" flag: invalid label \'=x\': '
                          "empty name\n\nUsage:  dockyard volume create [OPTIONS] [VOLUME]")


def test_create_errors(daemon: Any) -> None:
    daemon.routes[("POST", "/volumes/create")] = lambda r: fake.error_reply(
        400, "create x: volume name is too short, names should be at least two alphanumeric "
             "characters")
    assert cli(daemon, "volume", "create", "x") == (
        1, "", "Error response from daemon: create x: volume name is too short, names should "
               "be at least two alphanumeric characters\n")


def test_ls_matches_the_trace(daemon: Any) -> None:
    listed = {"Volumes": [TRACEVOL2, TRACEVOL, PYTEST], "Warnings": None}
    daemon.routes[("GET", "/volumes")] = lambda r: fake.json_reply(listed)
    assert cli(daemon, "volume", "ls") == (0, (
        "DRIVER    VOLUME NAME\n"
        "local     dockerpytest_7ba205e031ee27da\n"
        "local     tracevol\n"
        "local     tracevol2\n"), "")
    assert daemon.requests[-1].query == ""
    assert cli(daemon, "volume", "list", "-q", "--filter", "label=k=v")[1] == (
        "dockerpytest_7ba205e031ee27da\ntracevol\ntracevol2\n")
    assert daemon.requests[-1].query == "filters=%7B%22label%22%3A%7B%22k%3Dv%22%3Atrue%7D%7D"
    fmt = "table {{.Name}}\t{{.Labels}}\t{{.Links}}\t{{.Size}}\t{{.Scope}}"
    assert cli(daemon, "volume", "ls", "--format", fmt)[1] == (
        "VOLUME NAME                     LABELS                   LINKS     SIZE      SCOPE\n"
        "dockerpytest_7ba205e031ee27da   com.dockerpy.test=true   N/A       N/A       local\n"
        "tracevol                                                 N/A       N/A       local\n"
        "tracevol2                       k=v                      N/A       N/A       local\n")
    assert cli(daemon, "volume", "ls", "--format", "raw", "-f", "name=tracevol2")[1].startswith(
        "name: dockerpytest_7ba205e031ee27da\ndriver: local\n\nname: tracevol\n")
    assert json.loads(cli(daemon, "volume", "ls", "--format", "json")[1].splitlines()[2]) == {
        "Availability": "N/A", "Driver": "local", "Group": "N/A", "Labels": "k=v",
        "Links": "N/A", "Mountpoint": "/var/lib/docker/volumes/tracevol2/_data",
        "Name": "tracevol2", "Scope": "local", "Size": "N/A", "Status": "N/A"}


def test_ls_sorts_names_naturally(daemon: Any) -> None:
    names = ["v10", "v2", "a", "v02", "v1", "B", "10", "9"]
    listed = {"Volumes": [{**TRACEVOL, "Name": n} for n in names], "Warnings": None}
    daemon.routes[("GET", "/volumes")] = lambda r: fake.json_reply(listed)
    assert cli(daemon, "volume", "ls", "-q")[1].split() == [
        "9", "10", "B", "a", "v1", "v2", "v02", "v10"]
    assert natural_less("a1", "a01") and not natural_less("a01", "a1")
    assert natural_less("x", "x1") and not natural_less("x", "x")


def test_inspect_matches_the_trace_and_collects_errors(daemon: Any) -> None:
    def get(request: Any) -> Any:
        if request.path == "/volumes/tracevol":
            return fake.json_reply(TRACEVOL)
        return fake.error_reply(404, f"get {request.path.rsplit('/', 1)[1]}: no such volume")

    daemon.routes[("GET", "/volumes/tracevol")] = get
    daemon.routes[("GET", "/volumes/nosuch")] = get
    assert cli(daemon, "volume", "inspect", "tracevol") == (0, (
        "[\n"
        "    {\n"
        '        "CreatedAt": "2026-11-27T20:28:27Z",\n'
        '        "Driver": "local",\n'
        '        "Labels": null,\n'
        '        "Mountpoint": "/var/lib/docker/volumes/tracevol/_data",\n'
        '        "Name": "tracevol",\n'
        '        "Options": null,\n'
        '        "Scope": "local"\n'
        "    }\n"
        "]\n"), "")
    code, out, err = cli(daemon, "volume", "inspect", "-f", "{{.Name}} {{.Labels}}", "nosuch",
                         "tracevol")
    assert (code, out, err) == (1, "tracevol map[]\n",
                                "Error response from daemon: get nosuch: no such volume\n")


def test_rm_prints_names_and_collects_errors(daemon: Any) -> None:
    def delete(request: Any) -> Any:
        if request.path == "/volumes/used":
            return fake.error_reply(409, "remove used: volume is in use - [abc]")
        return 204, {}, b""

    for name in ("used", "a1", "a2"):
        daemon.routes[("DELETE", f"/volumes/{name}")] = delete
    assert cli(daemon, "volume", "rm", "a1", "used", "a2") == (
        1, "a1\na2\n", "Error response from daemon: remove used: volume is in use - [abc]\n")
    assert cli(daemon, "volume", "remove", "-f", "a1") == (0, "a1\n", "")
    assert daemon.requests[-1].query == "force=1"


def test_prune(daemon: Any) -> None:
    report = {"VolumesDeleted": ["p1", "p2"], "SpaceReclaimed": 3}
    daemon.routes[("POST", "/volumes/prune")] = lambda r: fake.json_reply(report)
    assert cli(daemon, "volume", "prune", "-f", "--filter", "label=x") == (
        0, "Deleted Volumes:\np1\np2\n\nTotal reclaimed space: 3B\n", "")
    assert daemon.requests[-1].query == "filters=%7B%22label%22%3A%7B%22x%22%3Atrue%7D%7D"
    warning = ("WARNING! This will remove all local volumes not used by at least one "
               "container.\nAre you sure you want to continue? [y/N] ")
    seen = len(daemon.requests)
    assert cli(daemon, "volume", "prune", stdin=b"n\n") == (0, warning, "")
    assert len(daemon.requests) == seen
    report["VolumesDeleted"] = []
    assert cli(daemon, "volume", "prune", stdin=b"y\n") == (
        0, warning + "Total reclaimed space: 0B\n", "")
    assert daemon.requests[-1].query == ""
    assert cli(daemon, "volume", "prune", "-a") == (
        1, "", '"--all" requires API version 1.42, but the Docker daemon API version is 1.41\n')


def test_volume_commands_import_no_daemon_code() -> None:
    import subprocess

    from .test_startup import PROBE

    probe = PROBE.replace('"version"', '"volume", "ls"')
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                            check=False, timeout=60)
    modules = next(ln for ln in result.stdout.splitlines() if ln.startswith("MODULES ")).split()
    assert [m for m in modules if m.startswith((
        "asyncio", "dockyard.daemon", "dockyard.api", "dockyard.services", "dockyard.volumes",
        "ctypes", "http.client"))] == []
    assert "Cannot connect to the dockyard daemon" in result.stderr
