"""``run`` and ``create`` send the create body the docker CLI 28 sends, byte for byte, and fail
on bad flags with its words and exit statuses. The expected bodies and errors were recorded from
the real docker CLI 28 against a recording socket (tests/golden/cli/create_bodies.json;
"docker" replaced by "dockyard" in the messages)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from ..client import fake_daemon as fake
from .test_commands import cli

GOLDEN = json.loads((Path(__file__).resolve().parents[2] / "golden" / "cli" /
                     "create_bodies.json").read_text())


def _refuse_create(daemon: Any) -> None:
    daemon.routes[("POST", "/containers/create")] = lambda r: fake.error_reply(400, "captured")


@pytest.mark.parametrize("case", GOLDEN["bodies"], ids=lambda c: " ".join(c["argv"][:3]))
def test_create_body_is_the_docker_clis(daemon: Any, case: dict[str, Any]) -> None:
    _refuse_create(daemon)
    code, _, err = cli(daemon, *case["argv"])
    sent = [r for r in daemon.requests if r.path == "/containers/create"]
    assert len(sent) == 1, err
    method, target, _ = case["request"].split(" ")
    assert (sent[0].method, sent[0].target) == (method, target)
    expected = json.loads(case["body"])
    if len(expected["Env"] or []) > 1:  # docker's order is Go's random map order
        assert json.loads(sent[0].body) == {**expected, "Env": json.loads(sent[0].body)["Env"]}
        assert sorted(json.loads(sent[0].body)["Env"]) == sorted(expected["Env"])
    else:
        assert sent[0].body.decode() == case["body"]
    assert code == (125 if case["argv"][0] == "run" else 1)


@pytest.mark.parametrize("case", GOLDEN["errors"], ids=lambda c: " ".join(c["argv"][:3]))
def test_bad_flags_fail_as_docker_does(daemon: Any, case: dict[str, Any]) -> None:
    _refuse_create(daemon)
    assert cli(daemon, *case["argv"])[::2] == (case["code"], case["stderr"])
    assert [r.path for r in daemon.requests if r.path != "/_ping"] == []


def test_run_daemon_errors_exit_125_126_127(daemon: Any) -> None:
    for message, status in (("No such container: x", 125),
                            ('exec: "nosuch": executable file not found in $PATH', 127),
                            ("open /bin/sh: permission denied", 126)):
        daemon.routes[("POST", "/containers/create")] = lambda r, m=message: fake.error_reply(
            400, m)
        assert cli(daemon, "run", "busybox") == (
            status, "", f"dockyard: Error response from daemon: {message}\n\n"
                        "Run 'dockyard run --help' for more information\n")


def test_run_detached_prints_the_id_after_start(daemon: Any) -> None:
    cid = "c" * 64
    daemon.routes[("POST", "/containers/create")] = lambda r: fake.json_reply(
        {"Id": cid, "Warnings": ["low memory"]}, 201)
    daemon.routes[("POST", f"/containers/{cid}/start")] = lambda r: (204, {}, b"")
    assert cli(daemon, "run", "-d", "--name", "n", "busybox") == (
        0, f"{cid}\n", "WARNING: low memory\n")
    body = json.loads(next(r for r in daemon.requests if r.method == "POST").body)
    assert (body["AttachStdout"], body["AttachStderr"], body["StdinOnce"]) == (False, False,
                                                                               False)
    assert [f"{r.method} {r.path}" for r in daemon.requests if r.path != "/_ping"] == [
        "POST /containers/create", f"POST /containers/{cid}/start"]


def test_run_pulls_a_missing_image_then_creates_again(daemon: Any) -> None:
    cid = "d" * 64
    calls: list[str] = []

    def create(request: Any) -> Any:
        calls.append("create")
        if len(calls) == 1:
            return fake.error_reply(404, "No such image: bb:latest")
        return fake.json_reply({"Id": cid, "Warnings": []}, 201)

    daemon.routes[("POST", "/containers/create")] = create
    daemon.routes[("POST", "/images/create")] = lambda r: (200, {}, [
        b'{"status":"Pulling from library/bb","id":"latest"}\n',
        b'{"status":"Status: Downloaded newer image for bb:latest"}\n'])
    daemon.routes[("POST", f"/containers/{cid}/start")] = lambda r: (204, {}, b"")
    code, out, err = cli(daemon, "run", "-d", "bb")
    assert (code, out) == (0, f"{cid}\n")
    assert err == ("Unable to find image 'bb:latest' locally\nlatest: Pulling from library/bb\n"
                   "Status: Downloaded newer image for bb:latest\n")
    pull = next(r for r in daemon.requests if r.path == "/images/create")
    assert pull.query == "fromImage=docker.io%2Flibrary%2Fbb&tag=latest"
    assert pull.headers["x-registry-auth"] == "e30="


def test_create_prints_the_id_and_never_pulls(daemon: Any) -> None:
    daemon.routes[("POST", "/containers/create")] = lambda r: fake.error_reply(
        404, "No such image: bb:latest")
    assert cli(daemon, "create", "--pull", "never", "bb") == (
        1, "", "Error response from daemon: No such image: bb:latest\n")
    assert [r.path for r in daemon.requests if r.path == "/images/create"] == []
