"""``container``, ``network``, ``image`` and ``builder prune`` against the fake daemon: the
question, the request, and the report docker 28 prints (``volume prune`` is in
test_volume_commands.py)."""

from __future__ import annotations

from typing import Any

import pytest

from ..client import fake_daemon as fake
from .test_commands import cli

CONTAINERS = ("WARNING! This will remove all stopped containers.\n"
              "Are you sure you want to continue? [y/N] ")
NETWORKS = ("WARNING! This will remove all custom networks not used by at least one container.\n"
            "Are you sure you want to continue? [y/N] ")
DANGLING = ("WARNING! This will remove all dangling images.\n"
            "Are you sure you want to continue? [y/N] ")
ALL_IMAGES = ("WARNING! This will remove all images without at least one container associated "
              "to them.\nAre you sure you want to continue? [y/N] ")
BUILD_CACHE = ("WARNING! This will remove all dangling build cache. Are you sure you want to "
               "continue? [y/N] ")


def _serve(daemon: Any, path: str, report: dict[str, Any]) -> None:
    daemon.routes[("POST", path)] = lambda r: fake.json_reply(report)


def test_container_prune(daemon: Any) -> None:
    _serve(daemon, "/containers/prune", {"ContainersDeleted": ["c1", "c2"], "SpaceReclaimed": 2048})
    assert cli(daemon, "container", "prune", "-f", "--filter", "until=1h") == (
        0, "Deleted Containers:\nc1\nc2\n\nTotal reclaimed space: 2.048kB\n", "")
    assert daemon.requests[-1].query == "filters=%7B%22until%22%3A%7B%221h%22%3Atrue%7D%7D"
    seen = len(daemon.requests)
    assert cli(daemon, "container", "prune", stdin=b"no\n") == (0, CONTAINERS, "")
    assert len(daemon.requests) == seen
    assert cli(daemon, "container", "prune", stdin=b"Y\n") == (
        0, CONTAINERS + "Deleted Containers:\nc1\nc2\n\nTotal reclaimed space: 2.048kB\n", "")
    assert daemon.requests[-1].query == ""


def test_container_prune_of_nothing_reclaims_nothing(daemon: Any) -> None:
    _serve(daemon, "/containers/prune", {"ContainersDeleted": None, "SpaceReclaimed": 7})
    assert cli(daemon, "container", "prune", "-f") == (0, "Total reclaimed space: 0B\n", "")


def test_network_prune_reports_no_space(daemon: Any) -> None:
    _serve(daemon, "/networks/prune", {"NetworksDeleted": ["n1"]})
    assert cli(daemon, "network", "prune", "-f") == (0, "Deleted Networks:\nn1\n\n", "")
    assert cli(daemon, "network", "prune", stdin=b"\n") == (0, NETWORKS, "")
    _serve(daemon, "/networks/prune", {"NetworksDeleted": None})
    assert cli(daemon, "network", "prune", stdin=b"yes\n") == (0, NETWORKS, "")


def test_image_prune(daemon: Any) -> None:
    _serve(daemon, "/images/prune", {
        "ImagesDeleted": [{"Untagged": "a:1"}, {"Deleted": "sha256:ab"}],
        "SpaceReclaimed": 1_500_000})
    assert cli(daemon, "image", "prune", "-f") == (
        0, "Deleted Images:\nuntagged: a:1\ndeleted: sha256:ab\n\n"
           "Total reclaimed space: 1.5MB\n", "")
    assert daemon.requests[-1].query == (
        "filters=%7B%22dangling%22%3A%7B%22true%22%3Atrue%7D%7D")
    assert cli(daemon, "image", "prune", "-a", stdin=b"y\n")[1].startswith(ALL_IMAGES)
    assert daemon.requests[-1].query == (
        "filters=%7B%22dangling%22%3A%7B%22false%22%3Atrue%7D%7D")
    seen = len(daemon.requests)
    assert cli(daemon, "image", "prune", stdin=b"n\n") == (
        1, DANGLING, "image prune has been cancelled\n")
    assert len(daemon.requests) == seen


@pytest.mark.parametrize(("answer", "expected"), [
    (b"n\n", BUILD_CACHE),
    (b"y\n", BUILD_CACHE + "Deleted build cache objects:\nb1\n\nTotal reclaimed space: 1kB\n"),
])
def test_builder_prune(daemon: Any, answer: bytes, expected: str) -> None:
    _serve(daemon, "/build/prune", {"CachesDeleted": ["b1"], "SpaceReclaimed": 1000})
    assert cli(daemon, "builder", "prune", stdin=answer) == (0, expected, "")


def test_builder_prune_reports_the_space_even_with_nothing_deleted(daemon: Any) -> None:
    _serve(daemon, "/build/prune", {"CachesDeleted": [], "SpaceReclaimed": 12})
    assert cli(daemon, "builder", "prune", "-f", "--all") == (
        0, "Total reclaimed space: 12B\n", "")
    assert daemon.requests[-1].query == "all=1"
