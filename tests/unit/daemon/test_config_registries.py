"""dockyardd's registry options: --insecure-registry and --registry-mirror, or daemon.json's
"insecure-registries" and "registry-mirrors", with dockerd's names and checks."""

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


def test_flags(tmp_path: Path) -> None:
    got = config(tmp_path, "--insecure-registry", "reg.example:5000", "--insecure-registry",
                 "10.0.0.0/8", "--registry-mirror", "http://127.0.0.1:5000/")
    assert (got.insecure_registries, got.registry_mirrors) == (
        ("reg.example:5000", "10.0.0.0/8"), ("http://127.0.0.1:5000",))


def test_file(tmp_path: Path) -> None:
    got = config(tmp_path, file={"insecure-registries": ["a:1"],
                                 "registry-mirrors": ["https://mirror.example"]})
    assert (got.insecure_registries, got.registry_mirrors) == (("a:1",),
                                                                ("https://mirror.example",))


def test_defaults_are_empty(tmp_path: Path) -> None:
    assert (config(tmp_path).insecure_registries, config(tmp_path).registry_mirrors) == ((), ())


@pytest.mark.parametrize(("argv", "file", "message"), [
    (("--insecure-registry", "http://a:1"), None, "insecure registry http://a:1 should not "
                                                   "contain '://'"),
    (("--registry-mirror", "ftp://m"), None, "invalid mirror: unsupported scheme 'ftp' in "
                                             "'ftp://m'"),
    (("--registry-mirror", "https://m/path"), None, "invalid mirror: path, query or fragment "
                                                    "not allowed in 'https://m/path'"),
    ((), {"registry-mirrors": "https://m"}, "bad value for registry-mirrors"),
    (("--insecure-registry", "a:1"), {"insecure-registries": ["b:2"]},
     "specified both as a flag and in the configuration file: insecure-registries: "
     "(from flag: [a:1], from file: [b:2])"),
])
def test_refused(tmp_path: Path, argv: tuple[str, ...], file: dict[str, object] | None,
                 message: str) -> None:
    with pytest.raises(InvalidArgument) as refused:
        config(tmp_path, *argv, file=file)
    assert message in str(refused.value)
