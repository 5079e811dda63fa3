"""Volumes through the real docker CLI 28, docker-py and the dockyard CLI against dockyardd, and
the same CLI commands against the shared dockerd 20.10 for comparison.

On dockerd every volume this module makes is named ``dyvol-e2e-<pid>-...`` and removed by name
at the end; listings are filtered to that prefix and prune only ever runs with a label only this
module's volumes carry, so other users' volumes are never listed, changed or pruned.
"""

from __future__ import annotations

import os
import re
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from .comparison import DOCKERD_SOCKET, Result, _alive, run_dockerd
from .conftest import Daemon, docker

pytestmark = pytest.mark.root

DOCKYARD = Path(__file__).resolve().parents[2] / ".venv" / "bin" / "dockyard"
_TIME = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(Z|[+-]\d\d:\d\d)")


def dockyard(daemon: Daemon, *args: str, stdin: bytes | None = None) -> Result:
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "DOCKYARD_HOST": daemon.host,
           "HOME": str(daemon.workdir)}
    done = subprocess.run([str(DOCKYARD), *args], input=stdin, capture_output=True, env=env,
                          timeout=60, check=False)
    return done.returncode, done.stdout.decode(), done.stderr.decode()


def test_docker_cli_volume_lifecycle(daemon: Daemon) -> None:
    root = daemon.data_root / "volumes"
    assert docker(daemon, "volume", "create", "tracevol") == (0, "tracevol\n", "")
    assert docker(daemon, "volume", "create", "--label", "k=v", "tracevol2")[0] == 0
    assert docker(daemon, "volume", "ls") == (
        0, "DRIVER    VOLUME NAME\nlocal     tracevol\nlocal     tracevol2\n", "")
    assert docker(daemon, "volume", "ls", "-q", "--filter", "label=k=v") == (0, "tracevol2\n", "")
    code, out, _ = docker(daemon, "volume", "inspect", "tracevol")
    assert code == 0
    assert _TIME.sub("T", out) == (
        '[\n    {\n        "CreatedAt": "T",\n        "Driver": "local",\n'
        '        "Labels": null,\n'
        f'        "Mountpoint": "{root}/tracevol/_data",\n'
        '        "Name": "tracevol",\n        "Options": null,\n        "Scope": "local"\n'
        "    }\n]\n")
    (root / "tracevol" / "_data" / "f").write_bytes(b"x" * 1500)
    code, out, _ = docker(daemon, "system", "df")
    assert out.splitlines()[3].split() == ["Local", "Volumes", "2", "0", "1.5kB", "1.5kB",
                                           "(100%)"]
    assert docker(daemon, "volume", "rm", "tracevol", "tracevol2", "nosuch") == (
        1, "tracevol\ntracevol2\n", "Error response from daemon: get nosuch: no such volume\n")
    assert docker(daemon, "volume", "rm", "tracevol") == (
        1, "", "Error response from daemon: get tracevol: no such volume\n")
    assert os.listdir(root) == []


def test_docker_cli_tmpfs_volume_and_prune(daemon: Daemon) -> None:
    assert docker(daemon, "volume", "create", "-o", "type=tmpfs", "-o", "device=tmpfs",
                  "-o", "o=size=1m", "scratch")[0] == 0
    for name in ("p1", "p2"):
        docker(daemon, "volume", "create", "--label", "prune=me", name)
    (daemon.data_root / "volumes" / "p1" / "_data" / "f").write_bytes(b"12345")
    assert docker(daemon, "volume", "prune", "-f", "--filter", "label=prune") == (
        0, "Deleted Volumes:\np1\np2\n\nTotal reclaimed space: 5B\n", "")
    assert docker(daemon, "volume", "prune", "-f") == (0, "Total reclaimed space: 0B\n", "")
    assert docker(daemon, "volume", "ls", "-q") == (0, "scratch\n", "")


def test_dockyard_cli_prints_what_docker_prints(daemon: Daemon) -> None:
    docker(daemon, "volume", "create", "--label", "a=1", "v10")  # one: Go joins in map order
    docker(daemon, "volume", "create", "-o", "type=tmpfs", "-o", "device=tmpfs", "v2")
    docker(daemon, "volume", "create", "v1")
    for args in (("volume", "ls"), ("volume", "ls", "-q", "-f", "label=a=1"),
                 ("volume", "ls", "--format", "json"),
                 ("volume", "ls", "--format", "table {{.Name}}\t{{.Labels}}\t{{.Mountpoint}}"),
                 ("volume", "ls", "-f", "dangling=maybe"),
                 ("volume", "inspect", "v1", "v2", "v10"),
                 ("volume", "inspect", "-f", "{{.Name}} {{.Labels}} {{.Options}}", "v1", "v10"),
                 ("volume", "inspect", "v1", "nosuch"),
                 ("volume", "create", "a/b"), ("volume", "create", "-d", "nosuch", "zz"),
                 ("volume", "prune", "-a"), ("system", "df"), ("system", "df", "-v")):
        assert dockyard(daemon, *args) == docker(daemon, *args), args
    assert dockyard(daemon, "volume", "prune", stdin=b"n\n") == docker(
        daemon, "volume", "prune", stdin=b"n\n")
    assert dockyard(daemon, "volume", "rm", "v1", "nosuch") == (
        1, "v1\n", "Error response from daemon: get nosuch: no such volume\n")
    assert dockyard(daemon, "volume", "create", "v1") == (0, "v1\n", "")


def test_docker_py(daemon: Daemon) -> None:
    import docker as docker_py

    client = docker_py.DockerClient(base_url=daemon.host)
    try:
        made = client.volumes.create("pyvol", labels={"com.dockerpy.test": "true"},
                                     driver_opts={"type": "tmpfs", "device": "tmpfs"})
        assert made.attrs["Options"] == {"device": "tmpfs", "type": "tmpfs"}
        assert client.volumes.create("pyvol").attrs == made.attrs
        anonymous = client.volumes.create()
        assert len(anonymous.name) == 64
        assert sorted(v.name for v in client.volumes.list()) == sorted(["pyvol", anonymous.name])
        assert [v.name for v in client.volumes.list(
            filters={"label": "com.dockerpy.test=true"})] == ["pyvol"]
        assert client.volumes.get("pyvol").attrs == made.attrs
        assert client.volumes.prune() == {"VolumesDeleted": [anonymous.name],
                                          "SpaceReclaimed": 0}
        client.volumes.get("pyvol").remove(force=True)
        with pytest.raises(docker_py.errors.NotFound, match="get pyvol: no such volume"):
            client.volumes.get("pyvol")
        assert client.df()["Volumes"] == []
    finally:
        client.close()


@pytest.fixture
def both(daemon: Daemon, tmp_path: Path) -> Iterator[tuple[Callable[..., Result], ...]]:
    if not _alive(DOCKERD_SOCKET):
        pytest.skip("no dockerd at /var/run/docker.sock to compare with (bash bench/setup.sh)")
    config = tmp_path / "dockerd-config"
    config.mkdir()
    theirs = run_dockerd(config)
    prefix = f"dyvol-e2e-{os.getpid()}-"

    def ours(*args: str, stdin: bytes | None = None) -> Result:
        return docker(daemon, *args, stdin=stdin)

    try:
        yield ours, theirs
    finally:
        _, out, _ = theirs("volume", "ls", "-q", "--filter", f"name=^{prefix}")
        names = [n for n in out.split() if n.startswith(prefix)]
        if names:
            theirs("volume", "rm", "-f", *names)


def _normal(result: Result, root: str) -> Result:
    """Roots and times replaced; table cells split where the tabwriter padded them (the
    roots' lengths differ); a multi-label ``Labels`` cell differs anyway (Go's map order)."""
    code, out, err = result

    def text(value: str) -> str:
        value = _TIME.sub("<time>", value.replace(root, "<root>"))
        return "\n".join("|".join(re.split(r"\s{2,}", line.rstrip()))
                         for line in value.splitlines())

    return code, text(out), text(err)


@pytest.mark.slow
def test_same_as_dockerd(daemon: Daemon, both: tuple[Callable[..., Result], ...]) -> None:
    ours, theirs = both
    p = f"dyvol-e2e-{os.getpid()}-"
    label = f"{p}label"

    def same(*args: str, unordered: bool = False) -> Result:
        mine = _normal(ours(*args), str(daemon.data_root / "volumes"))
        other = _normal(theirs(*args), "/var/lib/docker/volumes")
        if unordered:  # dockerd lists what it pruned in Go's (random) map order
            assert (mine[0], sorted(mine[1].splitlines()), mine[2]) == (
                other[0], sorted(other[1].splitlines()), other[2]), args
        else:
            assert mine == other, args
        return mine

    assert same("volume", "create", f"{p}a")[0] == 0
    same("volume", "create", "--label", "k=v", "--label", "bare", "--label", label,
         "-o", "type=tmpfs", "-o", "device=tmpfs", "-o", "o=size=1m,uid=1000", f"{p}b")
    same("volume", "create", "--label", "other=1", f"{p}a")
    for bad in (("a/b",), ("x",), ("-o", "foo=1", f"{p}c"), ("-o", "type=tmpfs", f"{p}c"),
                ("-o", "type=tmpfs", "-o", "device=tmpfs", "-o", "size=1m", f"{p}c"),
                ("-d", "nosuch", f"{p}c")):
        assert same("volume", "create", *bad)[0] == 1, bad
    same("volume", "ls", "-f", f"name=^{p}")
    same("volume", "ls", "-q", "-f", f"name={p}", "-f", "label=k=v")
    same("volume", "ls", "--format", "table {{.Name}}\t{{.Driver}}\t{{.Scope}}\t"
         "{{.Mountpoint}}\t{{.Links}}\t{{.Size}}", "-f", f"name=^{p}")
    same("volume", "ls", "--format", "json", "-f", f"name=^{p}a")
    same("volume", "ls", "-f", "dangling=maybe")
    same("volume", "ls", "-f", "foo=bar")
    same("volume", "inspect", f"{p}a", f"{p}b")
    same("volume", "inspect", "-f", "{{.Labels}} {{.Options}} {{.Scope}}", f"{p}a", f"{p}b")
    same("volume", "inspect", f"{p}a", f"{p}nosuch")
    same("volume", "rm", f"{p}a", f"{p}nosuch")
    same("volume", "rm", "-f", f"{p}nosuch")
    for side in (ours, theirs):
        for name in (f"{p}p1", f"{p}p2"):
            assert side("volume", "create", "--label", label, name)[0] == 0
        _, mountpoint, _ = side("volume", "inspect", "-f", "{{.Mountpoint}}", f"{p}p1")
        Path(mountpoint.strip(), "data").write_bytes(b"hello")
    same("volume", "prune", "-f", "--filter", f"label={label}", "--filter", "label!=k",
         unordered=True)
    same("volume", "prune", "-f", "--filter", f"label={label}", unordered=True)
    same("volume", "ls", "-q", "-f", f"name=^{p}")
    same("volume", "rm", f"{p}b")
