"""The CLI side of pull/push/login: docker's progress display (terminal and not), its bars,
and the credentials file in docker's config.json format."""

from __future__ import annotations

import base64
import io
import json
from pathlib import Path

import pytest

from dockyard.cli.credentials import (
    ANONYMOUS_HEADER,
    DOCKER_HUB,
    CredentialStore,
    config_path,
    registry_auth_header,
    server_key,
)
from dockyard.cli.progress import bar, display, human_size
from dockyard.cli.session import StatusError

PULL = [
    {"status": "Pulling from trace/big", "id": "1"},
    {"status": "Already exists", "progressDetail": {}, "id": "9d6de127ba38"},
    {"status": "Pulling fs layer", "progressDetail": {}, "id": "861808351cd1"},
    {"status": "Downloading", "progressDetail": {"current": 36445, "total": 3001127},
     "progress": "[>   ]  36.45kB/3.001MB", "id": "861808351cd1"},
    {"status": "Verifying Checksum", "progressDetail": {}, "id": "861808351cd1"},
    {"status": "Download complete", "progressDetail": {}, "id": "861808351cd1"},
    {"status": "Pull complete", "progressDetail": {}, "id": "861808351cd1"},
    {"status": "Digest: sha256:40325bbf"},
    {"status": "Status: Downloaded newer image for 127.0.0.1:5000/trace/big:1"},
]


def test_without_a_terminal_the_lines_are_docker_s() -> None:
    out = io.StringIO()
    display(PULL, out, terminal=False)
    assert out.getvalue().splitlines() == [  # pull_layers.txt, client terminal output
        "1: Pulling from trace/big", "9d6de127ba38: Already exists",
        "861808351cd1: Pulling fs layer", "861808351cd1: Verifying Checksum",
        "861808351cd1: Download complete", "861808351cd1: Pull complete",
        "Digest: sha256:40325bbf",
        "Status: Downloaded newer image for 127.0.0.1:5000/trace/big:1"]


def test_on_a_terminal_each_layer_keeps_its_line() -> None:
    out = io.StringIO()
    display(PULL[1:4], out, terminal=True, width=120)
    assert out.getvalue() == (
        "\n\x1b[1A\x1b[2K\r9d6de127ba38: Already exists \r\x1b[1B"
        "\n\x1b[1A\x1b[2K\r861808351cd1: Pulling fs layer \r\x1b[1B"
        "\x1b[1A\x1b[2K\r861808351cd1: Downloading "
        "[>                                                  ]  36.45kB/3.001MB\r\x1b[1B")


def test_errors_and_aux() -> None:
    aux = {"Tag": "1", "Digest": "sha256:x", "Size": 527}
    assert display([{"progressDetail": {}, "aux": aux}], io.StringIO(), terminal=False) == [aux]
    with pytest.raises(StatusError) as failed:
        display([{"status": "The push refers to repository [r]"},
                 {"errorDetail": {"message": "no basic auth credentials"},
                  "error": "no basic auth credentials"}], io.StringIO(), terminal=False)
    assert (str(failed.value), failed.value.exit_code) == ("no basic auth credentials", 1)


@pytest.mark.parametrize(("size", "text"), [(512, "512B"), (2048, "2.048kB"),
                                            (1996800, "1.997MB"), (822272, "822.3kB")])
def test_human_size(size: int, text: str) -> None:
    assert human_size(size) == text


def test_bar_narrow_and_wide() -> None:
    detail = {"current": 1477632, "total": 1982319}
    assert bar(detail, 200) == "[=====================================>             ]  " \
                               "1.478MB/1.982MB"
    assert bar(detail, 80) == " 1.478MB/1.982MB"
    assert bar({"current": 2048, "total": 25}, 200).endswith("]  2.048kB")


def test_credentials_file(tmp_path: Path) -> None:
    path = config_path({"DOCKYARD_CONFIG": str(tmp_path / "cfg")})
    assert path == tmp_path / "cfg" / "config.json"
    assert config_path({"HOME": "/home/u"}) == Path("/home/u/.dockyard/config.json")
    store = CredentialStore(path)
    assert store.get("127.0.0.1:5000") == {}
    store.store("http://127.0.0.1:5000/", "alice", "wonderland")
    store.store("docker.io", "bob", "ignored", identity_token="refresh")
    assert json.loads(path.read_text()) == {"auths": {
        "127.0.0.1:5000": {"auth": base64.b64encode(b"alice:wonderland").decode()},
        DOCKER_HUB: {"auth": base64.b64encode(b"bob:").decode(), "identitytoken": "refresh"}}}
    assert path.stat().st_mode & 0o777 == 0o600
    assert store.get("127.0.0.1:5000") == {"serveraddress": "127.0.0.1:5000",
                                           "username": "alice", "password": "wonderland"}
    assert store.get("index.docker.io") == {"serveraddress": DOCKER_HUB, "username": "bob",
                                            "identitytoken": "refresh"}
    assert (store.erase("127.0.0.1:5000"), store.erase("127.0.0.1:5000")) == (True, False)


def test_registry_auth_header() -> None:
    assert registry_auth_header({}) == ANONYMOUS_HEADER
    header = registry_auth_header({"username": "u", "password": "p"})
    assert json.loads(base64.urlsafe_b64decode(header)) == {"username": "u", "password": "p"}
    assert server_key("https://index.docker.io/v1/") == DOCKER_HUB
    assert server_key("https://reg.example:5000/v2/") == "reg.example:5000"
