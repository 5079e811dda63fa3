"""The real docker CLI 28 against dockyardd and against dockerd 20.10, fed the same rootfs tar:
``import``, ``images``, ``image inspect``, ``history``, ``tag`` and ``rmi`` must print the same
tables, messages and exit codes, except for what :data:`EXEMPT` lists (with the reason).

dockerd is the one at /var/run/docker.sock (``bash bench/setup.sh`` starts it); without it the
comparisons are skipped. Every image made there has a name starting with ``dyimg-e2e-<pid>-``
and is removed by name at the end.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from .comparison import BUSYBOX, EXEMPT, Pair, _keys, _without_exempt, rootfs_tar
from .conftest import Daemon, docker

pytestmark = pytest.mark.root

__all__ = ["EXEMPT"]

# -- scenarios (each takes a Pair, so they also run against a hand-started daemon) -----------


def scenario_import_and_list(pair: Pair) -> None:
    repo = f"{pair.prefix}bb"
    pair.import_both(f"{repo}:v1", "-c", 'CMD ["sh"]', "-c", "ENV A=1", "-c", "LABEL dyimg=1")
    pair.same("images", repo)
    pair.same("images", "--digests", repo)
    pair.same("images", "-q", repo)
    pair.same("images", "--no-trunc", repo)
    pair.same("images", "--filter", f"reference={repo}:*")
    pair.same("images", "--filter", f"reference={repo}", "--filter", "label=dyimg=1")
    pair.same("images", "--format", "{{.Repository}}:{{.Tag}} {{.Size}}", repo)
    pair.same("images", "--filter", "foo=bar")
    pair.same("images", "--filter", "dangling=maybe")


def scenario_inspect_and_history(pair: Pair) -> None:
    repo = f"{pair.prefix}hist"
    pair.import_both(f"{repo}:v1", "-m", "from the e2e test", "-c", "EXPOSE 80")
    ours, theirs = pair.both("image", "inspect", f"{repo}:v1")
    assert ours[0] == theirs[0] == 0
    [mine], [real] = json.loads(ours[1]), json.loads(theirs[1])
    assert _keys(mine) == _keys(real)
    assert list(mine) == list(real)
    assert _without_exempt(mine) == _without_exempt(real)
    pair.same("image", "inspect", "--format", "{{.Id}} {{.Config.Cmd}} {{.Size}}", f"{repo}:v1")
    pair.same("history", f"{repo}:v1")
    pair.same("history", "--no-trunc", f"{repo}:v1")
    pair.same("history", "-H=false", f"{repo}:v1")
    pair.same("image", "inspect", "nosuchimage")
    pair.same("history", "nosuchimage")


def scenario_tag_and_rmi(pair: Pair) -> None:
    repo = f"{pair.prefix}tag"
    pair.import_both(f"{repo}:v1")
    pair.same("tag", f"{repo}:v1", f"{repo}:v2")
    pair.same("tag", "{id}", f"localhost:5000/{repo}:v3")
    pair.same("images", repo)
    pair.same("images", f"localhost:5000/{repo}")
    pair.same("image", "inspect", "--format", "{{.RepoTags}}", f"{repo}:v1")
    pair.same("rmi", f"{repo}:v2")
    pair.same("rmi", f"{repo}:nosuch")
    assert pair.same("rmi", "{id}")[0] == 1  # two repositories: must be forced
    assert pair.same("rmi", "-f", "{id}")[0] == 0
    pair.same("images", repo)
    pair.same("rmi", "nosuchimage")
    pair.same("tag", "nosuchimage", f"{repo}:x")


def scenario_untag_last_name_deletes(pair: Pair) -> None:
    repo = f"{pair.prefix}last"
    pair.import_both(f"{repo}:v1")
    pair.same("tag", f"{repo}:v1", f"{repo}:v2")
    pair.same("rmi", f"{repo}:v1", f"{repo}:v2")
    pair.same("image", "inspect", "--format", "{{.Id}}", "{id}")


def scenario_dangling(pair: Pair) -> None:
    pair.import_both("")
    pair.same_rows("images", "--filter", "dangling=true")
    pair.same_rows("images", "-a")
    pair.same("image", "inspect", "--format", "{{.RepoTags}} {{.RepoDigests}} {{.Comment}}", "{id}")
    pair.same("history", "{id}")
    pair.same("tag", "{id}", f"{pair.prefix}named")
    pair.same("images", f"{pair.prefix}named")
    pair.same("rmi", f"{pair.prefix}named")
    pair.same("image", "inspect", "--format", "{{.Id}}", "{id}")


SCENARIOS = [scenario_import_and_list, scenario_inspect_and_history, scenario_tag_and_rmi,
             scenario_untag_last_name_deletes, scenario_dangling]


@pytest.mark.parametrize("scenario", SCENARIOS, ids=lambda s: s.__name__)
def test_same_output_as_dockerd(pair: Pair, scenario: Callable[[Pair], None]) -> None:
    scenario(pair)


def test_prune_prints_what_dockerd_prints(daemon: Daemon, tmp_path: Path) -> None:
    """Prune on the shared dockerd would remove other people's images, so dockyardd's output is
    compared with the text dockerd 20.10 printed in the same situation (api-traces)."""
    if not BUSYBOX.exists():
        pytest.skip("no /bin/busybox for the test rootfs (apt-get install busybox-static)")
    if "page not found" in docker(daemon, "images")[2]:
        pytest.skip("this dockyardd does not serve the image endpoints yet")
    assert docker(daemon, "image", "prune", "-f") == (0, "Total reclaimed space: 0B\n", "")
    code, out, _ = docker(daemon, "import", "-", stdin=rootfs_tar(tmp_path.name))
    assert code == 0
    image = out.strip()
    layer = json.loads(docker(daemon, "image", "inspect", image)[1])[0]["RootFS"]["Layers"][0]
    assert docker(daemon, "image", "prune", "-f") == (
        0,
        # the CLI prints SpaceReclaimed with four significant digits (units.HumanSize)
        f"Deleted Images:\ndeleted: {image}\ndeleted: {layer}\n\nTotal reclaimed space: 1.982MB\n",
        "",
    )
    assert docker(daemon, "images", "-q") == (0, "", "")
