"""dockyardd's flags and daemon.json: defaults, merging, and dockerd's conflict messages."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from dockyard.daemon.config import Config, load, parse_host, parser
from dockyard.errors import InvalidArgument


def config(tmp_path: Path, *argv: str, file: dict[str, object] | None = None) -> Config:
    path = tmp_path / "daemon.json"
    if file is not None:
        path.write_text(json.dumps(file))
    return load(parser().parse_args(["--config-file", str(path), *argv]))


def test_defaults(tmp_path: Path) -> None:
    assert config(tmp_path, file={}) == Config(
        hosts=(Path("/run/dockyard/dockyard.sock"),),
        data_root=Path("/var/lib/dockyard"),
        exec_root=Path("/run/dockyard"),
        pidfile=Path("/run/dockyard/dockyardd.pid"),
        log_level="info",
        storage_driver="auto",
        config_file=tmp_path / "daemon.json",
    )


def test_flags(tmp_path: Path) -> None:
    got = config(
        tmp_path, "-H", "unix:///a.sock", "--host", "unix:///b.sock", "--data-root", "/d",
        "--exec-root", "/e", "--log-level", "debug", "--storage-driver", "native", file={},
    )
    assert got.hosts == (Path("/a.sock"), Path("/b.sock"))
    assert (got.data_root, got.exec_root, got.pidfile) == (
        Path("/d"), Path("/e"), Path("/e/dockyardd.pid")
    )
    assert (got.log_level, got.debug, got.storage_driver) == ("debug", True, "native")


def test_file_values(tmp_path: Path) -> None:
    got = config(tmp_path, file={
        "hosts": ["unix:///f.sock"], "data-root": "/fd", "exec-root": "/fe", "pidfile": "/p.pid",
        "log-level": "warn", "storage-driver": "overlayfs",
    })
    assert (got.hosts, got.data_root, got.exec_root, got.pidfile) == (
        (Path("/f.sock"),), Path("/fd"), Path("/fe"), Path("/p.pid")
    )
    assert (got.log_level, got.storage_driver) == ("warn", "overlayfs")


def test_debug_flag_and_key() -> None:
    assert load(parser().parse_args(["-D", "--config-file", "/dev/null"])).log_level == "debug"


def test_flag_and_file_together_is_dockerds_error(tmp_path: Path) -> None:
    path = tmp_path / "daemon.json"
    with pytest.raises(InvalidArgument) as caught:
        config(tmp_path, "--data-root", "/c", "-H", "unix:///y.sock",
               file={"data-root": "/b", "hosts": ["unix:///x.sock"]})
    assert str(caught.value) == (
        f"unable to configure the Docker daemon with file {path}: the following directives are "
        "specified both as a flag and in the configuration file: data-root: (from flag: /c, "
        "from file: /b), hosts: (from flag: [unix:///y.sock], from file: [unix:///x.sock])"
    )


def test_unknown_keys_are_named(tmp_path: Path) -> None:
    path = tmp_path / "daemon.json"
    with pytest.raises(InvalidArgument) as caught:
        config(tmp_path, file={"data-root": "/b", "foo": 1, "bar": 2})
    assert str(caught.value) == (
        f"unable to configure the Docker daemon with file {path}: the following directives "
        "don't match any configuration option: foo, bar"
    )


def test_missing_file_given_explicitly_is_an_error(tmp_path: Path) -> None:
    path = tmp_path / "none.json"
    with pytest.raises(InvalidArgument) as caught:
        load(parser().parse_args(["--config-file", str(path)]))
    assert str(caught.value) == (
        f"unable to configure the Docker daemon with file {path}: open {path}: "
        "no such file or directory"
    )


@pytest.mark.parametrize(
    ("file", "message"),
    [({"log-level": "verbose"}, "unable to parse logging level: verbose"),
     ({"hosts": "unix:///x"}, "bad value for hosts"),
     ({"storage-driver": "zfs"}, "unknown storage driver 'zfs'"),
     ({"hosts": ["tcp://0.0.0.0:2375"]}, "dockyardd listens on unix sockets only")],
)
def test_bad_values(tmp_path: Path, file: dict[str, object], message: str) -> None:
    with pytest.raises(InvalidArgument, match=message):
        config(tmp_path, file=file)


def test_bad_json(tmp_path: Path) -> None:
    (tmp_path / "daemon.json").write_text("{")
    with pytest.raises(InvalidArgument, match="unable to configure the Docker daemon with file"):
        load(parser().parse_args(["--config-file", str(tmp_path / "daemon.json")]))


def test_parse_host() -> None:
    assert parse_host("unix:///run/x.sock") == Path("/run/x.sock")
    assert parse_host("unix://") == Path("/run/dockyard/dockyard.sock")
    with pytest.raises(InvalidArgument, match="must be absolute"):
        parse_host("unix://rel.sock")
    with pytest.raises(InvalidArgument, match="unix sockets only"):
        parse_host("/run/x.sock")
