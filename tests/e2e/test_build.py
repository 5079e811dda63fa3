"""Builds through dockyardd with the real docker CLI 28 (legacy builder, as it runs without
buildx), docker-py's ``images.build`` and ``dockyard build``: the step output, working images,
the cache (a one-file change reruns only what follows the COPY that reads it; a restarted
daemon keeps it; prune and df see it), failures (exit status, Dockerfile:line, nothing left
behind), and reproducible images with SOURCE_DATE_EPOCH.

The daemon starts with a busybox image imported from the host's static busybox (the rootfs
``dockyard bootstrap busybox`` makes), so nothing is pulled.
"""

from __future__ import annotations

import io
import json
import os
import re
import shutil
import subprocess
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from .conftest import DOCKYARDD, Daemon, _unmount_under, docker, start_daemon, stop

pytestmark = [pytest.mark.root, pytest.mark.slow]

REPO = Path(__file__).resolve().parents[2]
DOCKYARD = REPO / ".venv" / "bin" / "dockyard"
Result = tuple[int, str, str]


def busybox_tar() -> bytes:
    from dockyard.cli.rootfs import busybox_tar as make

    listing = subprocess.run(["/bin/busybox", "--list-full"], capture_output=True, text=True,
                             check=True).stdout.splitlines()
    out = io.BytesIO()
    make(Path("/bin/busybox").read_bytes(), listing, out, 0)
    return out.getvalue()


@pytest.fixture(scope="module")
def shared() -> Iterator[Daemon]:
    if os.geteuid() != 0 or not Path("/bin/busybox").exists():
        pytest.skip("needs root and /bin/busybox")
    workdir = Path(tempfile.mkdtemp(prefix="dockyard-e2e-build-"))
    daemon: Daemon | None = None
    try:
        daemon = start_daemon(workdir)
        code, _, err = docker(daemon, "import", "--change", 'CMD ["sh"]', "-", "busybox",
                              stdin=busybox_tar())
        assert code == 0, err
        yield daemon
    finally:
        if daemon is not None:
            stop(daemon.process)
        _unmount_under(workdir)
        shutil.rmtree(workdir, ignore_errors=True)


@pytest.fixture
def cli(shared: Daemon) -> Callable[..., Result]:
    def run(*args: str, stdin: bytes | None = None, cwd: Path | None = None) -> Result:
        if cwd is None:
            return docker(shared, *args, stdin=stdin, timeout=120)
        env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(shared.workdir),
               "DOCKER_HOST": shared.host, "DOCKER_CONFIG": str(shared.workdir / "dc")}
        done = subprocess.run(["/usr/local/bin/docker", *args], input=stdin, cwd=cwd,
                              capture_output=True, env=env, timeout=120, check=False)
        return done.returncode, done.stdout.decode(), done.stderr.decode()

    return run


def context(tmp_path: Path, files: dict[str, str]) -> Path:
    root = tmp_path / "ctx"
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return root


def steps(out: str) -> list[str]:
    """The output lines with IDs and times replaced."""
    lines = [line for line in out.splitlines() if line.strip()
             and not line.startswith("Sending build context")]
    return [re.sub(r"\b[0-9a-f]{12}\b", "<id>", line) for line in lines]


SITE = {
    "Dockerfile": "FROM busybox\nCOPY base.txt /base.txt\nRUN cat /base.txt > /copy.txt\n"
                  "COPY site/ /site/\nRUN wc -c /site/index.html > /size.txt\n"
                  'CMD ["cat", "/site/index.html"]\n',
    "base.txt": "base\n",
    "site/index.html": "<h1>one</h1>\n",
}


def test_build_run_and_cache(cli: Callable[..., Result], tmp_path: Path) -> None:
    root = context(tmp_path, SITE)
    code, out, err = cli("build", "-t", "site:1", str(root))
    assert code == 0, err
    assert steps(out) == [
        "Step 1/6 : FROM busybox", " ---> <id>",
        "Step 2/6 : COPY base.txt /base.txt", " ---> <id>",
        "Step 3/6 : RUN cat /base.txt > /copy.txt", " ---> Running in <id>",
        "Removing intermediate container <id>", " ---> <id>",
        "Step 4/6 : COPY site/ /site/", " ---> <id>",
        "Step 5/6 : RUN wc -c /site/index.html > /size.txt", " ---> Running in <id>",
        "Removing intermediate container <id>", " ---> <id>",
        'Step 6/6 : CMD ["cat", "/site/index.html"]', " ---> Running in <id>",
        "Removing intermediate container <id>", " ---> <id>",
        "Successfully built <id>", "Successfully tagged site:1"]
    assert cli("run", "--rm", "site:1")[1] == "<h1>one</h1>\n"
    assert cli("run", "--rm", "site:1", "cat", "/copy.txt", "/size.txt")[1] == \
        "base\n13 /site/index.html\n"
    code, again, _ = cli("build", "-t", "site:1", str(root))
    assert code == 0
    assert steps(again).count(" ---> Using cache") == 5
    assert again.split()[-3] == out.split()[-3]  # the same image
    (root / "site" / "index.html").write_text("<h1>two!</h1>\n")
    code, edited, _ = cli("build", "-t", "site:1", str(root))
    lines = steps(edited)
    assert code == 0
    assert lines[lines.index("Step 2/6 : COPY base.txt /base.txt") + 1] == " ---> Using cache"
    assert lines[lines.index("Step 3/6 : RUN cat /base.txt > /copy.txt") + 1] == \
        " ---> Using cache"
    after = lines[lines.index("Step 4/6 : COPY site/ /site/"):]
    assert " ---> Using cache" not in after
    assert cli("run", "--rm", "site:1", "cat", "/size.txt")[1] == "14 /site/index.html\n"


def test_failures_name_the_line_and_exit_with_the_status(cli: Callable[..., Result],
                                                         tmp_path: Path) -> None:
    root = context(tmp_path, {"Dockerfile": "FROM busybox\nRUN echo out; echo err >&2; exit 3\n"})
    (root / "escape").symlink_to("/etc/passwd")
    before = cli("images", "-q")[1]
    code, out, err = cli("build", str(root))
    assert code == 3
    assert "out\n" in out and "err" in out
    assert err.strip().endswith("Dockerfile:2: The command '/bin/sh -c echo out; echo err >&2; "
                                "exit 3' returned a non-zero code: 3")
    assert cli("images", "-q")[1] == before
    (root / "Dockerfile").write_text("FROM busybox\nCOPY escape /x\n")
    code, _, err = cli("build", str(root))
    assert code == 1
    assert "Dockerfile:2: COPY failed: forbidden path outside the build context: escape " \
        "(symlink escape -> /etc/passwd)" in err
    (root / "Dockerfile").write_text("FROM busybox\nCOPY nothere /x\n")
    assert "Dockerfile:2: COPY failed: file not found in build context or excluded by " \
        ".dockerignore: stat nothere: file does not exist" in cli("build", str(root))[2]
    (root / "Dockerfile").write_text("FROM busybox\nFORM x\n")
    code, _, err = cli("build", str(root))
    assert code == 1
    assert "Error response from daemon: Dockerfile:2: unknown instruction: FORM" in err
    assert cli("images", "-q")[1] == before


def test_options(cli: Callable[..., Result], tmp_path: Path) -> None:
    root = context(tmp_path, {
        "Dockerfile": "FROM busybox AS one\nARG WHO=nobody\nRUN echo $WHO > /who\n"
                      "FROM one AS two\nLABEL stage=two\nFROM busybox\nRUN exit 1\n",
        ".dockerignore": "secret\n", "secret": "s",
    })
    outside = tmp_path / "Other.dockerfile"
    outside.write_text("FROM busybox\nCOPY . /ctx/\n")
    iid = tmp_path / "iid"
    code, out, err = cli("build", "-q", "--target", "two", "--build-arg", "WHO=me",
                         "--label", "l=v", "-t", "opt:1", "--iidfile", str(iid), str(root))
    assert code == 0, err
    image_id = out.strip()
    assert image_id == iid.read_text().strip() and image_id.startswith("sha256:")
    inspected = json.loads(cli("image", "inspect", "opt:1")[1])[0]
    assert inspected["Config"]["Labels"] == {"l": "v", "stage": "two"}
    assert cli("run", "--rm", "opt:1", "cat", "/who")[1] == "me\n"
    code, _, err = cli("build", "-f", str(outside), "-t", "opt:2", str(root))
    assert code == 0, err
    listing = cli("run", "--rm", "opt:2", "ls", "-a", "/ctx")[1].split()
    # the added Dockerfile and the ignored file are not copied; .dockerignore is (as dockerd)
    assert listing == [".", "..", ".dockerignore", "Dockerfile"]


def test_docker_py_builds(shared: Daemon, tmp_path: Path) -> None:
    import docker as docker_py

    root = context(tmp_path, {"Dockerfile": "FROM busybox\nRUN echo sdk-build\n"
                                            'CMD ["true"]\n'})
    client = docker_py.DockerClient(base_url=shared.host)
    try:
        image, logs = client.images.build(path=str(root), tag="sdk:1")
        streams = [line.get("stream", "") for line in logs]
        assert "sdk-build\n" in streams
        assert image.tags == ["sdk:1"]
        assert client.containers.run("sdk:1", remove=True) == b""
    finally:
        client.close()


def test_cache_survives_a_restart_and_prune_drops_it(tmp_path: Path) -> None:
    if os.geteuid() != 0:
        pytest.skip("needs root")
    workdir = tmp_path / "daemon"
    workdir.mkdir()
    root = context(tmp_path, {"Dockerfile": "FROM busybox\nCOPY a /a\nENV X=1\n", "a": "a"})
    daemon = start_daemon(workdir)
    try:
        assert docker(daemon, "import", "--change", 'CMD ["sh"]', "-", "busybox",
                      stdin=busybox_tar())[0] == 0
        first = docker(daemon, "build", str(root))[1]
        stop(daemon.process)
        daemon = start_daemon(workdir)
        again = docker(daemon, "build", str(root))[1]
        assert steps(again).count(" ---> Using cache") == 2
        assert again.split()[-1] == first.split()[-1]
        df = docker(daemon, "system", "df")[1]
        assert re.search(r"^Build Cache\s+2\s+0\s", df, re.MULTILINE), df
        code, out, _ = docker(daemon, "builder", "prune", "-af")
        assert code == 0 and "Total reclaimed space" in out
        assert re.search(r"^Build Cache\s+0\s+0\s", docker(daemon, "system", "df")[1],
                         re.MULTILINE)
        assert " ---> Using cache" not in docker(daemon, "build", str(root))[1]
    finally:
        stop(daemon.process)
        _unmount_under(workdir)


def test_dockyard_build_and_reproducible_images(shared: Daemon, tmp_path: Path) -> None:
    root = context(tmp_path, {"Dockerfile": "FROM busybox\nCOPY f /f\nRUN mkdir /made\n"
                                            "ENV A=1\n", "f": "f\n"})
    env = {"PATH": os.environ.get("PATH", ""), "HOME": str(tmp_path),
           "DOCKYARD_HOST": shared.host, "SOURCE_DATE_EPOCH": "1700000000"}
    ids = []
    for _ in range(2):
        done = subprocess.run([str(DOCKYARD), "build", "--no-cache", "-q", str(root)], env=env,
                              capture_output=True, text=True, timeout=120, check=False)
        assert done.returncode == 0, done.stderr
        ids.append(done.stdout.strip())
    assert ids[0] == ids[1]
    done = subprocess.run([str(DOCKYARD), "build", str(root)], env=env, capture_output=True,
                          text=True, timeout=120, check=False)
    assert done.returncode == 0
    assert " ---> Using cache" in done.stdout
    inspected = json.loads(docker(shared, "image", "inspect", ids[0])[1])[0]
    assert inspected["Created"] == "2023-11-14T22:13:20Z"
    assert inspected["Container"] == ""
    failing = context(tmp_path / "f", {"Dockerfile": "FROM busybox\nRUN exit 5\n"})
    done = subprocess.run([str(DOCKYARD), "build", str(failing)], env=env, capture_output=True,
                          text=True, timeout=120, check=False)
    assert done.returncode == 5
    assert "returned a non-zero code: 5" in done.stderr


def test_daemon_binary_exists() -> None:
    assert DOCKYARDD.exists()


def test_a_killed_daemon_leaves_nothing_of_its_build(tmp_path: Path) -> None:
    if os.geteuid() != 0:
        pytest.skip("needs root")
    import signal
    import time

    workdir = tmp_path / "daemon"
    workdir.mkdir()
    marker = f"sleep {1000 + os.getpid() % 1000}"
    root = context(tmp_path, {"Dockerfile": f"FROM busybox\nCOPY a /a\nRUN {marker}\n",
                              "a": "a"})
    daemon = start_daemon(workdir)
    try:
        assert docker(daemon, "import", "--change", 'CMD ["sh"]', "-", "busybox",
                      stdin=busybox_tar())[0] == 0
        env = {"PATH": os.environ.get("PATH", ""), "HOME": str(tmp_path),
               "DOCKER_HOST": daemon.host, "DOCKER_CONFIG": str(tmp_path / "dc")}
        client = subprocess.Popen(["/usr/local/bin/docker", "build", str(root)], env=env,
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 30
        while marker.encode() not in subprocess.run(["ps", "-eo", "args"], capture_output=True,
                                                    check=True).stdout:
            assert time.monotonic() < deadline, "the RUN step never started"
            time.sleep(0.1)
        daemon.process.send_signal(signal.SIGKILL)
        daemon.process.wait()
        client.wait(timeout=30)
        daemon = start_daemon(workdir)
        mounts = Path("/proc/self/mounts").read_text()
        assert str(workdir) not in mounts
        assert marker.encode() not in subprocess.run(["ps", "-eo", "args"],
                                                     capture_output=True, check=True).stdout
        assert list((workdir / "data" / "build" / "tmp").iterdir()) == []
        assert list((workdir / "exec" / "build").iterdir()) == []
        (root / "Dockerfile").write_text("FROM busybox\nCOPY a /a\nRUN true\n")
        code, out, _ = docker(daemon, "build", str(root))  # the COPY step was cached
        assert code == 0 and " ---> Using cache" in out
    finally:
        stop(daemon.process)
        _unmount_under(workdir)


def test_from_pulls_a_missing_image(shared: Daemon, registry: str, tmp_path: Path,
                                    cli: Callable[..., Result]) -> None:
    remote = f"{registry}/base/busybox:1"
    assert cli("tag", "busybox", remote)[0] == 0
    assert cli("push", remote)[0] == 0
    assert cli("rmi", remote)[0] == 0
    root = context(tmp_path, {"Dockerfile": f"FROM {remote}\nRUN echo pulled > /p\n"})
    code, out, err = cli("build", "-t", "pulled:1", str(root))
    assert code == 0, err
    lines = steps(out)
    assert lines[:2] == [f"Step 1/2 : FROM {remote}", "1: Pulling from base/busybox"]
    assert any(line.startswith("Status: Downloaded newer image for") for line in lines)
    assert cli("run", "--rm", "pulled:1", "cat", "/p")[1] == "pulled\n"
    code, out, _ = cli("build", "--pull", "-t", "pulled:1", str(root))
    assert code == 0 and "Status: Image is up to date for" in out
