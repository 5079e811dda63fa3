"""dockyardd's network flags: --ip-forward (dockerd's boolean form), --dns, --userland-proxy."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from dockyard.daemon.config import Config, load, parser
from dockyard.errors import InvalidArgument


def config(tmp_path: Path, *argv: str, file: dict[str, object] | None = None) -> Config:
    path = tmp_path / "daemon.json"
    path.write_text(json.dumps(file or {}))
    return load(parser().parse_args(["--config-file", str(path), *argv]))


def test_network_defaults(tmp_path: Path) -> None:
    got = config(tmp_path)
    assert (got.ip_forward, got.dns) == (True, ())


@pytest.mark.parametrize(("argv", "want"), [
    (["--ip-forward=false"], False), (["--ip-forward=0"], False), (["--ip-forward"], True),
    (["--ip-forward=true"], True), (["--ip-forward", "false"], False),
])
def test_ip_forward_flag(tmp_path: Path, argv: list[str], want: bool) -> None:
    assert config(tmp_path, *argv).ip_forward is want


def test_dns_and_userland_proxy(tmp_path: Path) -> None:
    got = config(tmp_path, "--dns", "198.18.0.2", "--dns=10.0.0.1", "--userland-proxy=false")
    assert got.dns == ("198.18.0.2", "10.0.0.1")
    with pytest.raises(InvalidArgument, match="nameserver is not an ip address"):
        config(tmp_path, "--dns", "nameserver")


def test_network_keys_in_the_file(tmp_path: Path) -> None:
    got = config(tmp_path, file={"ip-forward": False, "dns": ["198.18.0.2"],
                                 "userland-proxy": True})
    assert (got.ip_forward, got.dns) == (False, ("198.18.0.2",))
    with pytest.raises(InvalidArgument, match="bad value for ip-forward"):
        config(tmp_path, file={"ip-forward": "no"})
    with pytest.raises(InvalidArgument, match=r"ip-forward: \(from flag: false, from file"):
        config(tmp_path, "--ip-forward=false", file={"ip-forward": False})


def test_a_bad_boolean_is_a_usage_error(tmp_path: Path) -> None:
    with pytest.raises(SystemExit):
        config(tmp_path, "--ip-forward=maybe")
